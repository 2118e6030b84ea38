"""The decide stage alone: the one place that refuses, always with a reason."""

from rag.stages.decide import ABSTAIN_TEXT, Decide, Refusal
from rag.stages.read import read
from rag.stages.select import Select


def _decided(engine, text: str):
    question = read(text, (), engine.facts)
    _, evidence = engine.evidence(text, ask=question.ask)
    selected = Select(engine.facts, engine.scorer, engine.disabled).run(question, tuple(evidence))
    return Decide(engine.settings, engine.facts, engine.scorer, engine.disabled, engine.tuning).run(question, selected)


def test_an_answerable_question_is_decided_with_its_evidence_in_answering_order(engine):
    decision = _decided(engine, "How many nations have promised equipment and help once a truce holds?")
    assert decision.refusal is None and decision.reason is None
    assert decision.evidence and "26" in decision.evidence[0].text
    assert decision.support == decision.evidence[0].score
    assert [r.probability for r in decision.readings] == sorted((r.probability for r in decision.readings), reverse=True)


def test_each_refusal_has_its_reason(engine):
    unknown = _decided(engine, "What did the Pope say about the framework?")
    assert unknown.reason is Refusal.UNKNOWN_NAME and "Pope" in unknown.refusal
    structure = _decided(engine, "How many troops does Russia have in Ukraine?")
    assert structure.reason is Refusal.STRUCTURE and structure.refusal
    weak = _decided(engine, "What is the boiling point of mercury?")
    assert weak.reason is Refusal.LOW_SUPPORT and weak.refusal == ABSTAIN_TEXT
