"""A place a question names, met by the article that names it (`rag.evidence`), on made-up articles."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag import Engine, Settings
from rag.conversation import names_in
from rag.evidence import EvidenceScorer, place_terms
from rag.stages.read import query_of
from rag.tuning import DEFAULT

LIMA = (
    "Leaders meet in Lima over canal\n\n"
    "Leaders from eight countries met in Lima on Sunday to discuss the canal treaty.\n"
    "The talks ran late into the night and ended without a final text.\n"
    "Ana Ruiz, Peruvian President, called the meeting “a turning point for the region.”\n"
)
QUITO = (
    "Canal fees still open\n\n"
    "Ana Ruiz said she expects a meeting with Chilean leaders next month to settle the canal fees.\n"
)
QUESTION = "What did Ana Ruiz say about the Lima meeting?"


def test_place_terms_are_countries_and_capitals_not_demonyms():
    assert place_terms(names_in("What did the Peruvian president say about the Lima meeting?")) == {"lima"}
    assert place_terms(names_in("Did Chile and Peru agree in Santiago?")) >= {"chile", "peru", "santiago"}
    assert place_terms(names_in("What did Ana Ruiz say?")) == set()


@pytest.fixture(scope="module")
def canal_engine(tmp_path_factory, embedder):
    corpus = tmp_path_factory.mktemp("canal") / "corpus"
    corpus.mkdir()
    (corpus / "lima.txt").write_text(LIMA, encoding="utf-8")
    (corpus / "quito.txt").write_text(QUITO, encoding="utf-8")
    return Engine.open(Settings(corpus_dir=corpus, index_dir=corpus.parent / "idx"), embedder=embedder, log=None)


def test_a_sentence_in_the_article_about_the_place_is_about_the_meeting_there(canal_engine):
    _, evidence = canal_engine.evidence(QUESTION, ask=canal_engine.facts.ask(QUESTION))
    called = next(e for e in evidence if "turning point" in e.text)
    # "Lima" is two sentences before it: beyond the scene-setting context, inside its article.
    without = EvidenceScorer(canal_engine.store, replace(DEFAULT, w_article_place=0.0))
    qv = canal_engine.retriever.embed_question(QUESTION)
    unit = next(u for u in canal_engine.store.sentences.units if "turning point" in u.text)
    assert called.lexical > without.score(query_of(QUESTION), qv, [unit])[0].lexical
    answer = canal_engine.ask(QUESTION)
    assert not answer.abstained and answer.citations[0].doc_id == "lima"
