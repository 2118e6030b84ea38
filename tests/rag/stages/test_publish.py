"""The publish stage alone: citations numbered in order of use, a refusal with its closest passages."""

from rag.backends.base import BackendOptions
from rag.stages.check import Check
from rag.stages.draft import run
from rag.stages.publish import Publish, joined
from rag.stages.read import read
from rag.stages.retrieve import Retrieve


def _published(engine, text: str):
    question = read(text, (), engine.facts)
    retrieved = Retrieve(engine.retriever, engine.scorer, engine.facts, engine.corpus.by_id, engine.tuning).run(
        question, 5, "hybrid"
    )
    decision = engine.decide(question, retrieved.evidence)
    publish = Publish(engine.facts, engine.retriever.stories, engine.corpus.by_id, engine.tuning)
    if decision.refusal is not None:
        return publish.refused(question, "extractive", decision, retrieved)
    *_, drafted = run(question, decision.evidence, "extractive", engine.fallback, BackendOptions(), stream=False)
    checked = Check(engine.facts, engine.scorer, engine.corpus.by_id, engine.fallback, engine.tuning).run(
        question, decision.evidence, drafted
    )
    return publish.run(question, "extractive", decision, retrieved, checked)


def test_an_answer_is_published_with_exact_numbered_citations(engine):
    answer = _published(engine, "How many nations have promised equipment and help once a truce holds?")
    assert not answer.abstained and answer.verified and answer.verification == "verified"
    assert answer.text == answer.citations[0].text and answer.passages
    for c in answer.citations:
        assert engine.document(c.doc_id).text[c.start : c.end] == c.text


def test_a_refusal_is_published_with_its_reason_and_closest_passages(engine):
    answer = _published(engine, "What did the Pope say about the framework?")
    assert answer.abstained and answer.citations == () and answer.refusal_reason == "unknown_name"
    assert 1 <= len(answer.closest) <= engine.tuning.closest


def test_a_two_part_question_joins_its_answers_with_one_numbering(engine):
    first = _published(engine, "How many nations have promised equipment and help once a truce holds?")
    refused = _published(engine, "What did the Pope say about the framework?")
    both = joined("Q?", ["first part", "second part"], [first, refused], 0.1)
    assert not both.abstained and both.citations == first.citations
    assert "[1]" in both.text and "On “second part”" in both.text
