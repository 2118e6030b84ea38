"""The draft stage alone: a backend's draft of the decided evidence, or why there is none."""

from rag.backends.base import Backend, BackendOptions, Draft
from rag.stages.draft import Backends, Drafted, run
from rag.stages.read import read

QUESTION = "How many nations have promised equipment and help once a truce holds?"


def test_the_extractive_draft_quotes_the_best_evidence(engine):
    question = read(QUESTION, (), engine.facts)
    evidence = engine.decide(question, engine.evidence(QUESTION, ask=question.ask)[1]).evidence
    *pieces, drafted = run(question, evidence, "extractive", engine.fallback, BackendOptions(), stream=True)
    assert pieces == [] and isinstance(drafted, Drafted)  # the extractive backend does not stream
    assert drafted.failure is None and drafted.draft is not None and not drafted.streamed
    assert drafted.draft.evidence_ids == (evidence[0].id,) and drafted.draft.text in evidence[0].text


class _Silent(Backend):
    name = "silent"
    can_stream = True

    def draft(self, question, evidence, *, deadline=None) -> Draft:
        raise AssertionError("streamed, not drafted")

    def draft_stream(self, question, evidence, *, deadline=None):
        yield "half an answer"  # and the stream ends without a draft


def test_a_stream_that_ends_without_a_draft_says_so(engine):
    question = read(QUESTION, (), engine.facts)
    *pieces, drafted = run(question, [], "silent", _Silent(), BackendOptions(), stream=True)
    assert pieces == ["half an answer"] and drafted.draft is None and drafted.streamed
    assert drafted.failure == "the silent backend's stream ended without a draft"


def test_one_backend_per_name_and_options_and_the_fallback_for_its_own_name(engine):
    backends = Backends()
    backends.fallback = engine.fallback
    assert backends.get("extractive", BackendOptions(model="m1")) is engine.fallback
