"""Stage 3, decide: which selected evidence may answer, in the order to answer from, or why none may.

The only stage that refuses, and it always says why (`Refusal`). The reader (`rag.reader`) orders
the candidates the form rules kept by the fitted probability that they hold the answer; the
chosen one answers when its support clears the threshold for the question
(`rag.answerability.support_threshold`). When the asked actor's own sentences do not answer and
someone else's does, the answer says whose it is. A question naming what no article mentions is
refused whatever the evidence (`unknown_name`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from index.analysis import SentenceAnalysis
from rag import recency
from rag.answerability import support_threshold, unknown_names
from rag.evidence import EvidenceScorer
from rag.reader import FEATURES, Reader, Reading, Sources
from rag.selection import Selection, SentenceFacts
from rag.settings import Settings
from rag.stages.read import Question
from rag.stages.select import Selected
from rag.tuning import Tuning
from rag.types import Citation, Evidence

ABSTAIN_TEXT = "The corpus does not cover this: no article states an answer to that question."


class Refusal(str, Enum):
    """Why a question was refused: one code per rule that may refuse."""

    UNKNOWN_NAME = "unknown_name"  # the question names something no article mentions
    STRUCTURE = "structure"  # the structural checks (`rag.selection`) left no sentence for the asked actor/measure
    LOW_SUPPORT = "low_support"  # the reader's choice does not clear the support threshold


@dataclass(frozen=True)
class Decision:
    """What may answer a question: the evidence in answering order, its best support, and the
    refusal text when nothing may (then `evidence` is what came closest)."""

    evidence: list[Evidence]
    support: float
    refusal: str | None = None
    reason: Refusal | None = None
    notice: str | None = None  # "The articles do not quote X on this; Y said: ..."
    readings: tuple[Reading, ...] = ()
    # Evidence no rule let through, with the rule: "structure (wrong_speaker)", "figure_kind", "period".
    dropped: tuple[tuple[Citation, str], ...] = ()

    def trace(self, question: Question, disabled: frozenset[str]) -> dict:
        """What `rag ask --json --debug` shows of the decision: the question as read, each candidate
        with its features and probability (most probable first), and what the rules dropped."""
        return {
            "ask": question.ask.to_dict(),
            "disabled_forms": sorted(disabled),
            "refusal_reason": self.reason.value if self.reason else None,
            "candidates": [
                {
                    "source": r.evidence.citation.source,
                    "start": r.evidence.citation.start,
                    "end": r.evidence.citation.end,
                    "probability": round(r.probability, 4),
                    "features": {name: round(x, 4) for name, x in zip(FEATURES, r.features)},
                }
                for r in self.readings
            ],
            "dropped": [{"source": c.source, "start": c.start, "end": c.end, "by": why} for c, why in self.dropped],
        }


class Decide:
    """Decides for one index: its sentence analyses, its vocabulary and the enabled forms."""

    def __init__(
        self, settings: Settings, facts: SentenceFacts, scorer: EvidenceScorer, disabled: frozenset[str], tuning: Tuning
    ):
        self.settings = settings
        self.tuning = tuning
        self.facts = facts
        self.scorer = scorer
        self.disabled = disabled
        self.reader = Reader()

    def run(self, question: Question, selected: Selected) -> Decision:
        selection, kind, text = selected.selection, selected.kind, question.text
        readings = self._read(text, list(selected.candidates), kind, selection)
        ranked = [replace(r.evidence, id=i + 1) for i, r in enumerate(readings)]
        support = ranked[0].score if ranked else 0.0
        answers = self.reader.answers(readings)
        notice = None
        if not answers and selection.other:
            # The asked actor's own sentences do not answer; someone else's does: say whose it is.
            others = self._read(text, selection.other, kind, selection)
            if self.reader.answers(others):
                ranked, support, notice, answers = selection.other, selection.other[0].score, selection.notice, True
        if answers and notice is None:  # "latest ...": the newest dated candidate that answers leads
            threshold = support_threshold(self.settings, kind)
            ranked = recency.newest_first(ranked, threshold, latest=question.latest, margin=self.tuning.recency_margin)
            ranked = recency.of_asked_day(ranked, question.day)  # "... on 3 December": that day's article
        missing = unknown_names(text, self.scorer.vocabulary) if "unknown_name" not in self.disabled else []
        refusal, reason = None, None
        if missing:
            refusal = f"The corpus does not cover this: no article mentions {', '.join(missing)}."
            reason = Refusal.UNKNOWN_NAME
        elif selection.refusal:
            threshold = support_threshold(self.settings, kind)
            relevant = selected.relevant
            refusal = selection.refusal if relevant and relevant[0].score >= threshold else ABSTAIN_TEXT
            reason = Refusal.STRUCTURE
        elif not answers:
            refusal, reason = ABSTAIN_TEXT, Refusal.LOW_SUPPORT
        return Decision(ranked, support, refusal, reason, notice, tuple(readings), selected.dropped)

    def _read(self, text: str, candidates: list[Evidence], kind: str | None, selection: Selection) -> list[Reading]:
        def threshold_of(e: Evidence) -> float:
            return support_threshold(self.settings, kind, e.citation in selection.confirmed)

        return self.reader.read(text, candidates, Sources(self._analysis, self._before, threshold_of, self.scorer.idf))

    def _analysis(self, e: Evidence) -> SentenceAnalysis:
        return self.facts.analysis(e.citation.doc_id, e.citation.start, e.citation.end)

    def _before(self, e: Evidence) -> str:
        """The sentence before an evidence sentence in its article, where news sets the scene."""
        return self.scorer.sentence_before(e.citation.doc_id, e.citation.start, e.citation.end)
