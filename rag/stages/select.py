"""Stage 2, select: which evidence the enabled question-form rules (`rag.forms`) let through.

The structural checks (`rag.selection`: who speaks, whose figure, what it counts), the figure-kind
filter and the period filter keep the candidates; each sentence they dropped is named with the
rule that dropped it, for the trace. Selecting refuses nothing: `decide` does, from what is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.answerability import meeting_period, stating_kind
from rag.evidence import EvidenceScorer
from rag.selection import Selection, SentenceFacts
from rag.stages.read import Question
from rag.types import Citation, Evidence


@dataclass(frozen=True)
class Selected:
    """What the rules kept of the evidence, and why the rest went."""

    selection: Selection  # the structural checks' verdicts and the evidence they kept
    kind: str | None  # the figure kind asked for, None when none is or the figure_kind form is off
    relevant: tuple[Evidence, ...]  # the evidence stating that kind, before the structural checks
    candidates: tuple[Evidence, ...]  # what every rule kept, renumbered
    dropped: tuple[tuple[Citation, str], ...]  # ("structure (wrong_speaker)", "figure_kind", "period")


class Select:
    """Holds a question's evidence to the enabled form rules."""

    def __init__(self, facts: SentenceFacts, scorer: EvidenceScorer, disabled: frozenset[str]):
        self.facts = facts
        self.scorer = scorer
        self.disabled = disabled

    def run(self, question: Question, evidence: tuple[Evidence, ...]) -> Selected:
        selection = self.facts.select(question.ask, evidence)
        kind = question.kind if "figure_kind" not in self.disabled else None
        relevant = stating_kind(list(evidence), kind)  # before the structural check, to tell why it refused
        of_kind = stating_kind(selection.evidence, kind)
        candidates = meeting_period(of_kind, question.text, self._before) if "period" not in self.disabled else of_kind
        dropped = _dropped(evidence, selection, of_kind, candidates)
        return Selected(selection, kind, tuple(relevant), tuple(candidates), dropped)

    def _before(self, e: Evidence) -> str:
        """The sentence before an evidence sentence in its article: news states a year once, there."""
        return self.scorer.sentence_before(e.citation.doc_id, e.citation.start, e.citation.end)


def _dropped(
    evidence: tuple[Evidence, ...], selection: Selection, of_kind: list[Evidence], candidates: list[Evidence]
) -> tuple[tuple[Citation, str], ...]:
    """Each evidence sentence a rule kept from the candidates, with the rule that did."""
    verdicts = dict(zip((e.citation for e in evidence), selection.verdicts))
    kept = {e.citation for e in selection.evidence}
    stating = {e.citation for e in of_kind}
    meeting = {e.citation for e in candidates}
    out = []
    for e in evidence:
        c = e.citation
        if c not in kept:
            out.append((c, f"structure ({verdicts[c].verdict})" if c in verdicts else "structure"))
        elif c not in stating:
            out.append((c, "figure_kind"))
        elif c not in meeting:
            out.append((c, "period"))
    return tuple(out)
