"""Stage 5, check: the draft's citations resolved to exact spans and verified (`rag.verify`).

A draft's evidence ids (and the sub-spans it narrowed them to) become checked citations; the text
is verified against them: every figure, every claim's words and who said what. A failing draft is
repaired once (when the backend can) within what is left of the question's time, then replaced by
the fallback's answer (the extractive one), verified too. Verification lives here, outside every
backend, so no backend can skip it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from index.documents import Document
from rag import spans, verify
from rag.backends.base import Backend, Draft
from rag.errors import BackendTimeout
from rag.evidence import EvidenceScorer
from rag.selection import SentenceFacts
from rag.stages.draft import Drafted
from rag.stages.read import Question
from rag.tuning import Tuning
from rag.types import Citation, Evidence


@dataclass(frozen=True)
class Checked:
    """The settled outcome (verified, repaired, fallback or failed) and what checking took."""

    outcome: verify.Outcome
    seconds: float  # verifying, the repair's own time excluded
    repair_s: float | None = None  # the repair's time, when one was asked for


class Check:
    def __init__(
        self,
        facts: SentenceFacts,
        scorer: EvidenceScorer,
        documents: Mapping[str, Document],
        fallback: Backend,
        tuning: Tuning,
    ):
        self.facts = facts
        self.tuning = tuning
        self.scorer = scorer
        self.documents = documents
        self.fallback = fallback

    def run(self, question: Question, evidence: list[Evidence], drafted: Drafted) -> Checked:
        """Verify a draft; on failure one repair (if the backend offers it), then the fallback answer."""
        if drafted.draft is None:
            return self._fallback(question, evidence, str(drafted.failure), None)
        t = time.perf_counter()
        query, chosen, draft, name = question.query.text, drafted.backend, drafted.draft, drafted.name
        asked: list[str] = []
        repair_s: list[float] = []

        def attempt(d: Draft) -> verify.Attempt:
            return verify.Attempt(d.text, self.resolve(d, evidence))

        def repair(problems: Sequence[str]) -> verify.Attempt:
            asked.extend(problems)
            t_repair = time.perf_counter()
            try:
                return attempt(chosen.repair(query, evidence, draft, problems, deadline=drafted.deadline))
            finally:
                repair_s.append(time.perf_counter() - t_repair)

        try:
            outcome = verify.settle(
                attempt(draft),
                self.checker(query),
                backend=name,
                repair=repair if chosen.can_repair else None,
                fallback=None if chosen is self.fallback else lambda: attempt(self.fallback.draft(query, evidence)),
            )
        except BackendTimeout as exc:  # the repair ran out of the question's time
            failed = verify.Verdict((), tuple(asked)).reason
            reason = f"the {name} answer failed verification ({failed}); its repair: {exc}"
            return self._fallback(question, evidence, reason, repair_s[0] if repair_s else None)
        repaired = repair_s[0] if repair_s else None
        return Checked(outcome, time.perf_counter() - t - (repaired or 0.0), repaired)

    def _fallback(self, question: Question, evidence: list[Evidence], reason: str, repair_s: float | None) -> Checked:
        """The fallback's answer, verified, in place of a backend that gave none in time."""
        t = time.perf_counter()
        query = question.query.text
        d = self.fallback.draft(query, evidence)
        plain = verify.Attempt(d.text, self.resolve(d, evidence))
        verdict = self.checker(query)(plain)
        outcome = verify.Outcome(
            plain, verdict, verify.FALLBACK, f"{reason}; showing the {self.fallback.name} answer instead", (verdict,)
        )
        return Checked(outcome, time.perf_counter() - t, repair_s)

    def checker(self, query: str) -> Callable[[verify.Attempt], verify.Verdict]:
        speakers = self.speakers()
        return lambda a: verify.check(a.text, a.cited, self.documents, query, speakers, self.tuning.min_word_share)

    def speakers(self) -> verify.Speakers:
        """Who speaks in each sentence and which people the corpus knows, for checking who said what."""
        return verify.Speakers(self.facts.actors, self.facts.analysis)

    def resolve(self, draft: Draft, evidence: list[Evidence]) -> dict[int, Citation]:
        """Map a draft's evidence ids (and sub-spans) to checked citations; unknown ids are dropped."""
        by_id = {e.id: e for e in evidence}
        narrowed = {i: (s, e) for i, s, e in draft.spans}
        out: dict[int, Citation] = {}
        for i in dict.fromkeys(draft.evidence_ids):
            ev = by_id.get(i)
            if ev is None:
                continue
            start, end = ev.citation.start, ev.citation.end
            if i in narrowed and start <= narrowed[i][0] < narrowed[i][1] <= end:
                start, end = narrowed[i]
            doc = self.documents[ev.citation.doc_id]
            out[i] = self.facts.with_speaker(self.scorer.flagged(spans.cite(doc, *spans.trim(doc, start, end))))
        return out
