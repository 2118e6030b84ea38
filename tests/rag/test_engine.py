"""The public API end to end on the real corpus, index and embedding model."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from eval.dev_check import load_items, run
from index.errors import RagError
from index.store import current_dir
from rag import Engine, QuestionError, Settings
from rag.answerability import unknown_names
from rag.conversation import is_follow_up, retrieval_query

GOLD = Path(__file__).resolve().parents[2] / "eval" / "gold.jsonl"


def _questions() -> list[str]:
    items = load_items()
    if GOLD.exists():
        items += [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    base = [i["question"] for i in items]
    # Variants a user might type: lower case, no question mark, extra spaces, a typo-free paraphrase stub.
    return base + [q.lower().rstrip("?") for q in base] + ["  " + q + "  " for q in base[:10]]


@pytest.mark.slow  # a sweep over every dev and gold question and its variants
def test_every_citation_slices_exactly_from_its_file(engine, corpus_dir):
    files = {}
    answered = 0
    for question in _questions():
        answer = engine.ask(question)
        answered += not answer.abstained
        for c in answer.citations:
            text = files.setdefault(c.source, (corpus_dir / c.source).read_bytes().decode("utf-8"))
            assert text[c.start : c.end] == c.text, c.label
        for p in answer.passages:
            text = files.setdefault(p.citation.source, (corpus_dir / p.citation.source).read_bytes().decode("utf-8"))
            assert text[p.citation.start : p.citation.end] == p.citation.text
    assert answered >= 20


@pytest.mark.eval_gate
def test_dev_questions_meet_the_quality_bar(engine):
    """The issue's bar: >= 90% of answerable dev questions right (figure/position in the answer and
    the stating sentence cited), and every unanswerable one abstains. All 46 reach 0.906 (29/32);
    the first 30, written with the sentences in view, reach 1.0 (22/22); see eval/dev_check.py.
    Items 47 on (dev-61 to dev-72) are paraphrases written later to calibrate abstention on loose
    wording; they are reported by eval/dev_check.py and held to no bar here."""
    items = load_items()[:46]
    result = run(engine, items)
    failures = [r for r in result["rows"] if not r["ok"]]
    assert result["accuracy_answerable"] >= 0.9, failures
    assert result["abstention_accuracy"] == 1.0, failures
    first = run(engine, items[:30])
    assert first["accuracy_answerable"] >= 0.95, failures


def test_answer_is_short_and_cites_the_stating_sentence(engine):
    answer = engine.ask("How many nations have promised equipment and help once a truce holds?")
    assert not answer.abstained and "26" in answer.text
    assert answer.text == answer.citations[0].text  # extractive: the answer is the cited span itself
    assert len(answer.text) < 200


def test_unanswerable_questions_abstain_with_no_citations(engine):
    for question in ["What is the boiling point of mercury?", "What did the Pope say about the framework?"]:
        answer = engine.ask(question)
        assert answer.abstained and answer.citations == () and "does not cover" in answer.text


def test_a_refusal_shows_the_closest_passages_as_exact_spans_and_no_citation(engine):
    answer = engine.ask("What did the Pope say about the framework?")
    assert answer.abstained and answer.citations == ()
    assert 1 <= len(answer.closest) <= 3
    for c in answer.closest:
        assert engine.document(c.doc_id).text[c.start : c.end] == c.text
    shown = answer.to_dict()["closest"]
    assert [(c["start"], c["end"]) for c in shown] == [(c.start, c.end) for c in answer.closest]
    answered = engine.ask("How many nations have promised equipment and help once a truce holds?")
    assert not answered.abstained and answered.closest == ()


def test_a_question_fixing_a_year_is_not_answered_by_another_year(tmp_path, embedder):
    # A made-up dated article: "next year" in an article of June 2025 is 2026.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    article = {
        "id": "port",
        "title": "Chile budgets its port works",
        "published": "2025-06-02",
        "text": "Chile expects the works at the port of Valparaiso to cost $30 million next year, the ministry said.\n"
        "The old pier at Valparaiso was built in 1912 and cost $2 million in 1913.",
    }
    (corpus / "ports.jsonl").write_text(json.dumps(article) + "\n", encoding="utf-8")
    engine = Engine.open(Settings(corpus_dir=corpus, index_dir=tmp_path / "idx"), embedder=embedder, log=None)
    answered = engine.ask("How much will the port works at Valparaiso cost Chile in 2026?")
    assert not answered.abstained and "$30 million" in answered.text
    refused = engine.ask("How much will the port works at Valparaiso cost Chile in 2025?")
    assert refused.abstained or "$30 million" not in refused.text, refused.text
    assert "$30 million" not in " ".join(c.text for c in refused.citations)
    with_rule_off = Engine(
        replace(engine.settings, disabled_forms="period"), engine.corpus, engine.store, engine.embedder
    ).ask("How much will the port works at Valparaiso cost Chile in 2025?")
    assert "$30 million" in with_rule_off.text  # the rule, not retrieval, made the difference


def test_the_extractive_answer_is_the_whole_cited_sentence(engine):
    answer = engine.ask("What share of their economic output should allies commit to Ukraine's defence?")
    assert "0.25%" in answer.text
    assert answer.text == answer.citations[0].text  # the sentence, whole: no clause is cut away
    document = engine.document(answer.citations[0].doc_id)
    assert document.text[answer.citations[0].start : answer.citations[0].end] == answer.text


def test_an_unknown_form_name_is_one_clear_error(engine):
    with pytest.raises(RagError, match="unknown question form.*known: unknown_name"):
        Engine(replace(engine.settings, disabled_forms="no_such_rule"), engine.corpus, engine.store, engine.embedder)


def test_unknown_names_are_the_ones_no_article_mentions(engine):
    vocab = engine.scorer.vocabulary
    assert unknown_names("What did China say about Merz?", vocab) == ["China"]
    assert unknown_names("What did Merz say about the Bundestag?", vocab) == []
    assert unknown_names("Which Korean firms invest?", vocab) == ["Korean"]
    assert unknown_names("What worries the Belgian government?", vocab) == []  # Belgium is mentioned
    assert unknown_names("What did Viktor Orbán say?", vocab) == ["Viktor Orbán"]
    assert unknown_names("What did Merz say on 3 December?", vocab) == []  # a date names nobody


def test_bad_questions_raise_question_error(engine):
    for bad in ["", "   \n\t", "x" * (engine.settings.max_question_chars + 1)]:
        with pytest.raises(QuestionError):
            engine.ask(bad)
    with pytest.raises(QuestionError):
        engine.ask("Who?", k=-1)


def test_k_zero_retrieves_nothing_and_abstains(engine):
    answer = engine.ask("How much must partners pay for Ukraine's defence in 2026?", k=0)
    assert answer.abstained and answer.passages == ()


def test_retrieval_returns_k_scored_passages_best_first(engine):
    for mode in ("hybrid", "dense", "bm25"):
        passages = engine.retrieve("Kiel Institute aid comparison", k=3, mode=mode)
        assert 1 <= len(passages) <= 3
        assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
        assert any("Kiel Institute" in p.citation.text for p in passages)


def test_follow_up_uses_the_previous_question():
    assert is_follow_up("and what about Germany?")
    assert not is_follow_up("What did Friedrich Merz say about Germany's contribution to the force?")
    assert retrieval_query("and what about Germany?", ["Who leads the force?"]) == "Who leads the force? and what about Germany?"
    assert retrieval_query("and what did he say then?", ["Did Keir Starmer meet Macron?"]) == "Keir Starmer and what did he say then?"
    assert retrieval_query("Who leads the force?", ["earlier"]) == "Who leads the force?"


def test_follow_up_answer_uses_history(engine):
    first = "What did Keir Starmer say the UK and France would set up in Ukraine?"
    answer = engine.ask("and what did he say about Putin?", history=[first])
    assert not answer.abstained and "Putin" in answer.text and "Starmer" in answer.text
    germany = engine.ask("and what about Germany?", history=["Who will contribute troops to the force agreed in Paris?"])
    assert not germany.abstained and "Germany" in germany.text
    spain = engine.ask("and what about Spain?", history=["What will Germany contribute to the force?"])
    assert not spain.abstained and "Spain" in spain.text  # the new focus, not the old topic


@pytest.mark.slow  # full index rebuilds
def test_stale_or_corrupt_index_is_rebuilt_with_a_message(engine, embedder, tmp_path, capsys):
    index_dir = tmp_path / "idx"
    shutil.copytree(engine.settings.resolved_index_dir, index_dir)
    (current_dir(index_dir) / "chunks.npy").write_bytes(b"garbage")
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        rebuilt = Engine.open(Settings(corpus_dir=engine.settings.corpus_dir, index_dir=index_dir), embedder=embedder, log=fh)
    assert "chunks.npy" in log.read_text() and "rebuilding" in log.read_text()
    assert rebuilt.build_report is not None and len(rebuilt.build_report.added) == 5
    assert not rebuilt.ask("How big is the planned peacetime army?").abstained


def test_answer_to_dict_is_json_serialisable(engine):
    data = engine.ask("Who dismissed the Berlin process?").to_dict()
    assert json.loads(json.dumps(data)) == data
