"""The check stage alone: a draft resolved to exact spans and verified; a failing one replaced."""

from rag import verify
from rag.backends.base import BackendOptions, Deadline, Draft
from rag.backends.extractive import ExtractiveBackend
from rag.stages.check import Check
from rag.stages.draft import Drafted, run
from rag.stages.read import read

QUESTION = "How much must partners pay for Ukraine's defence in 2026?"


def _setup(engine):
    question = read(QUESTION, (), engine.facts)
    evidence = engine.decide(question, engine.evidence(QUESTION, ask=question.ask)[1]).evidence
    return question, evidence, Check(engine.facts, engine.scorer, engine.corpus.by_id, engine.fallback, engine.tuning)


def test_the_extractive_draft_is_verified_with_exact_citations(engine):
    question, evidence, check = _setup(engine)
    *_, drafted = run(question, evidence, "extractive", engine.fallback, BackendOptions(), stream=False)
    checked = check.run(question, evidence, drafted)
    assert checked.outcome.status == verify.VERIFIED and checked.repair_s is None
    for c in checked.outcome.attempt.cited.values():
        assert engine.document(c.doc_id).text[c.start : c.end] == c.text


def test_an_altered_figure_fails_and_the_fallback_answers(engine):
    question, evidence, check = _setup(engine)
    i = next(e.id for e in evidence if "$60 billion" in e.text)
    wrong = Draft(f"Partners must provide $70 billion [{i}].", (i,))
    drafted = Drafted("made-up", ExtractiveBackend(), wrong, None, Deadline(30.0), False, 0.0)
    checked = check.run(question, evidence, drafted)
    assert checked.outcome.status == verify.FALLBACK and "failed verification" in checked.outcome.reason
    assert checked.outcome.verdict.ok
