"""The retrieve stage alone, on the session index: passages and numbered evidence, best first."""

from rag.stages.read import read
from rag.stages.retrieve import Retrieve, about


def _stage(engine) -> Retrieve:
    return Retrieve(engine.retriever, engine.scorer, engine.facts, engine.corpus.by_id, engine.tuning)


def test_retrieve_gives_ranked_passages_and_numbered_evidence_best_first(engine):
    found = _stage(engine).run(read("How much must partners pay for Ukraine's defence in 2026?", (), engine.facts), 5, "hybrid")
    assert [p.rank for p in found.passages] == [1, 2, 3, 4, 5]
    assert [e.id for e in found.evidence] == list(range(1, len(found.evidence) + 1))
    assert len(found.evidence) <= engine.tuning.max_evidence
    scores = [e.score for e in found.evidence]
    assert scores == sorted(scores, reverse=True)
    for e in found.evidence:
        assert engine.document(e.citation.doc_id).text[e.citation.start : e.citation.end] == e.text


def test_a_follow_up_keeps_only_the_evidence_naming_its_new_focus(engine):
    question = read("and what about Spain?", ["What will Germany contribute to the force?"], engine.facts)
    found = _stage(engine).run(question, 5, "hybrid")
    assert found.evidence and all("Spain" in e.text for e in found.evidence)
    assert about(found.evidence, ()) == found.evidence


def test_k_zero_retrieves_nothing(engine):
    found = _stage(engine).run(read("Who leads the force?", (), engine.facts), 0, "hybrid")
    assert found.passages == () and found.evidence == ()
