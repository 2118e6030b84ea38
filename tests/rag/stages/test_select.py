"""The select stage alone: what the form rules keep, and each dropped sentence with its rule."""

from rag.stages.read import read
from rag.stages.select import Select


def _selected(engine, text: str, disabled: frozenset[str] = frozenset()):
    question = read(text, (), engine.facts)
    _, evidence = engine.evidence(text, ask=question.ask)
    return Select(engine.facts, engine.scorer, disabled).run(question, tuple(evidence)), evidence


def test_another_owners_figure_is_dropped_by_the_structural_check(engine):
    selected, evidence = _selected(engine, "How many troops does Russia have in Ukraine?")
    assert selected.candidates == () and selected.selection.refusal
    assert len(selected.dropped) == len(evidence)
    assert any(why == "structure (wrong_owner)" for _, why in selected.dropped)


def test_a_sentence_of_another_year_is_dropped_by_the_period_rule_unless_it_is_off(engine):
    question = "What were Ukraine's defence costs in 2025?"
    selected, _ = _selected(engine, question)
    assert selected.kind == "money" and any(why == "period" for _, why in selected.dropped)
    off, _ = _selected(engine, question, frozenset({"period", "figure_kind"}))
    assert off.kind is None and not any(why in ("period", "figure_kind") for _, why in off.dropped)
    assert len(off.candidates) > len(selected.candidates)
