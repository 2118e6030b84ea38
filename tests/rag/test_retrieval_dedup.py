"""Near-duplicate articles: detected, folded in retrieval, and listed as corroboration only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.dev_check import load_items
from index.chunking import Sentence
from index.store import VectorTable
from rag.dedup import Stories

SAME_STORY = ("000_75e6e878609b9bfe", "001_b62e1636ae29b204")


def _doc(engine, prefix: str) -> str:
    return next(d.doc_id for d in engine.documents if d.doc_id.startswith(prefix))


def _sentence(engine, prefix: str, needle: str):
    return next(u for u in engine.store.sentences.units if u.doc_id.startswith(prefix) and needle in u.text)


def test_only_the_two_retellings_form_a_story(engine):
    stories = engine.retriever.stories
    assert stories.groups() == [sorted(SAME_STORY)]
    assert stories.overlap[SAME_STORY] >= 0.4
    assert all(v < 0.4 for pair, v in stories.overlap.items() if pair != SAME_STORY)


def test_twins_pair_paraphrases_and_never_cross_stories(engine):
    stories = engine.retriever.stories
    s = _sentence(engine, "000", "The remaining $60 billion")
    twins = stories.twins(s.doc_id, s.start, s.end)
    assert [t.doc_id for t in twins] == ["001_b62e1636ae29b204"] and "$60 billion must be provided" in twins[0].text
    for row, rows in stories.twin_rows.items():
        for other in rows:
            assert stories.same_story(stories.units[row].doc_id, stories.units[other].doc_id)


def test_sentences_stating_different_figures_are_not_twins():
    # Two "articles" whose sentence vectors are identical, so they are one story, but the
    # last sentences state different numbers: those two must not be paired.
    texts_a = ["Talks ended on Monday.", "Leaders met in Paris.", "Aid rose sharply.", "They pledged 30 jets."]
    texts_b = ["Talks ended Monday.", "Leaders met at Paris.", "Aid rose a lot.", "They pledged 45 jets."]
    units = [Sentence("a", i * 40, i * 40 + len(t), t) for i, t in enumerate(texts_a)]
    units += [Sentence("b", i * 40, i * 40 + len(t), t) for i, t in enumerate(texts_b)]
    base = np.eye(8, 16, dtype=np.float32)[:4]
    vectors = np.vstack([base, base])
    stories = Stories.detect(VectorTable(units, vectors))
    assert stories.groups() == [["a", "b"]]
    assert stories.twin_rows[0] == (4,) and 7 not in stories.twin_rows.get(3, ())


def test_unrelated_articles_are_not_a_story():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(20, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    units = [Sentence("a" if i < 10 else "b", i * 10, i * 10 + 5, "words") for i in range(20)]
    stories = Stories.detect(VectorTable(units, v))
    assert stories.groups() == [] and not stories.twin_rows


def test_retrieval_keeps_one_telling_and_carries_the_other(engine):
    question = "What amount must come from Ukraine's partners?"
    raw = engine.retriever.search(question, 10, "sentences", "hybrid", collapse_duplicates=False)
    folded = engine.retriever.search(question, 10, "sentences", "hybrid")
    stories = engine.retriever.stories
    assert any(stories.repeats(b.unit, a.unit) for i, a in enumerate(raw) for b in raw[i + 1:])  # the problem exists
    for i, a in enumerate(folded):
        assert not any(stories.repeats(b.unit, a.unit) for b in folded[i + 1:])
    assert any(h.corroborated_by for h in folded)
    assert len(folded) == 10


def test_evidence_holds_no_twin_pairs_and_lists_corroboration(engine):
    _, evidence = engine.evidence("What amount must come from Ukraine's partners?")
    stories = engine.retriever.stories
    for i, a in enumerate(evidence):
        for b in evidence[i + 1:]:
            twins = stories.twins(a.citation.doc_id, a.citation.start, a.citation.end)
            assert not any(t.doc_id == b.citation.doc_id and t.start == b.citation.start for t in twins)
    top = next(e for e in evidence if "$60 billion must" in e.text)
    assert [c.doc_id for c in top.citation.corroborated_by] == [d for d in SAME_STORY if d != top.citation.doc_id]


def _restates(stories, a, b) -> bool:
    """Whether span `b` restates span `a`: one of b's twins (its other telling) overlaps a."""
    return any(t.doc_id == a.doc_id and t.start < a.end and a.start < t.end for t in stories.twins(b.doc_id, b.start, b.end))


def test_the_restatement_check_sees_the_two_tellings(engine):
    """The sweep below could fail: the check finds the known retelling, both ways, and nothing else."""
    stories = engine.retriever.stories
    a = _sentence(engine, "000", "The remaining $60 billion")
    b = stories.twins(a.doc_id, a.start, a.end)[0]
    other = _sentence(engine, "004", "26 countries")
    assert _restates(stories, a, b) and _restates(stories, b, a)
    assert not _restates(stories, a, other) and not _restates(stories, other, a)


@pytest.mark.eval_gate  # every dev question; the tests above and below check the same on chosen ones
@pytest.mark.parametrize("item", [i for i in load_items() if i["category"] != "unanswerable"], ids=lambda i: i["id"])
def test_no_answer_or_its_evidence_counts_one_story_twice(engine, item):
    # An extractive answer cites one span, so the pairs that could count one story twice are the
    # numbered evidence every backend answers from (and cites from); each pair is checked.
    stories = engine.retriever.stories
    _, evidence = engine.evidence(item["question"])
    spans = [e.citation for e in evidence]
    pairs = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:]]
    assert pairs, "no two evidence sentences: the check below would not run"
    assert [(a.text, b.text) for a, b in pairs if _restates(stories, a, b)] == []
    answer = engine.ask(item["question"])
    cited = answer.citations
    for i, a in enumerate(cited):
        for b in cited[i + 1:]:  # b must not restate a: that would count one story twice
            assert not _restates(stories, a, b)
        for c in a.corroborated_by:
            assert stories.same_story(a.doc_id, c.doc_id)  # corroboration is only ever the other telling
            assert engine.document(c.doc_id).text[c.start:c.end] == c.text


def test_corroboration_reaches_the_json(engine):
    answer = engine.ask("What amount does Kyiv want its foreign partners to cover next year?")
    data = json.loads(json.dumps(answer.to_dict()))
    first = data["citations"][0]
    assert first["corroborated_by"], first
    assert {c["doc_id"] for c in first["corroborated_by"]} | {first["doc_id"]} == set(SAME_STORY)


def test_corroborate_folds_a_restating_citation_into_the_first(engine):
    from rag.spans import cite

    stories = engine.retriever.stories
    docs = {d.doc_id: d for d in engine.documents}
    a = _sentence(engine, "000", "The remaining $60 billion")
    b = stories.twins(a.doc_id, a.start, a.end)[0]
    other = _sentence(engine, "004", "26 countries")
    out = stories.corroborate([cite(docs[a.doc_id], a.start, a.end), cite(docs[other.doc_id], other.start, other.end),
                               cite(docs[b.doc_id], b.start, b.end)], docs)
    assert [c.doc_id for c in out] == [a.doc_id, other.doc_id]
    assert [(c.doc_id, c.start) for c in out[0].corroborated_by] == [(b.doc_id, b.start)]
    assert out[1].corroborated_by == ()
