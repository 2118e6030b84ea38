"""Stage 6, publish: the answer users see, from a decision and its checked draft.

Citations are numbered 1.. in order of use and the markers renumbered; same-story twins become
corroboration, never a second, "independent" citation. The published text is checked once more
for its claims, a notice naming another speaker leads it, a "latest" question's answer says its
date (`rag.recency`), and the answer card adds other independent sources and where they differ
(`rag.agreement`). The short answer (`rag.short_answer`) is cut from the first citation. A refusal is published with the passages that came closest. A question with
several asks gets one answer joining each ask's (`joined`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

from index.documents import Document
from rag import agreement, recency, spans, verify
from rag.dedup import Stories
from rag.markers import has_markers, renumber
from rag.selection import SentenceFacts
from rag.short_answer import filler_span
from rag.stages.check import Checked
from rag.stages.decide import ABSTAIN_TEXT, Decision
from rag.stages.read import Question
from rag.stages.retrieve import Retrieved
from rag.tuning import Tuning
from rag.types import Answer, Citation


class Publish:
    def __init__(self, facts: SentenceFacts, stories: Stories, documents: Mapping[str, Document], tuning: Tuning):
        self.facts = facts
        self.stories = stories
        self.documents = documents
        self.tuning = tuning

    def refused(self, question: Question, name: str, decision: Decision, retrieved: Retrieved) -> Answer:
        """The refusal, with the passages that came closest ("closest passages, not an answer")."""
        closest = tuple(e.citation for e in retrieved.evidence[: self.tuning.closest])
        assert decision.refusal is not None and decision.reason is not None, "only a refusal is published so"
        return Answer(
            question.text,
            decision.refusal,
            (),
            True,
            name,
            passages=retrieved.passages,
            support=decision.support,
            closest=closest,
            refusal_reason=decision.reason.value,
        )

    def run(self, question: Question, name: str, decision: Decision, retrieved: Retrieved, checked: Checked) -> Answer:
        outcome = checked.outcome
        text, citations = self.numbered(outcome.attempt)
        if not citations or not text.strip():
            answer = Answer(question.text, ABSTAIN_TEXT, (), True, name, fallback_reason=outcome.reason)
        else:
            final = verify.check(
                text,
                dict(enumerate(citations, 1)),
                self.documents,
                question.query.text,
                verify.Speakers(self.facts.actors, self.facts.analysis),
                self.tuning.min_word_share,
            )
            answer = Answer(
                question.text,
                text,
                citations,
                False,
                name,
                verified=outcome.status in (verify.VERIFIED, verify.REPAIRED),
                fallback_reason=outcome.reason,
                claims=tuple(c.to_dict() for c in final.claims),
                verification=outcome.status,
            )
        if decision.notice and not answer.abstained:
            answer = replace(answer, text=f"{decision.notice} {answer.text}")
        answer = recency.dated(answer, latest=question.latest)
        answer = replace(
            answer, passages=retrieved.passages, support=decision.support, short=self.short(question, answer)
        )
        if not answer.abstained:  # the answer card: other independent sources, and where they differ
            statements, conflicts = agreement.card(
                answer.citations, decision.evidence, self.facts, self.stories, self.documents, self.tuning
            )
            answer = replace(answer, statements=statements, conflicts=conflicts)
        return answer

    def short(self, question: Question, answer: Answer) -> Citation | None:
        """The short answer inside the first citation (`rag.short_answer`), sliced from the article
        itself so it is as exact as the citation."""
        if answer.abstained or not answer.citations:
            return None
        c = answer.citations[0]
        span = filler_span(question.text, c.text, self.facts.analysis(c.doc_id, c.start, c.end))
        if span is None:
            return None
        return spans.cite(self.documents[c.doc_id], c.start + span[0], c.start + span[1])

    def numbered(self, attempt: verify.Attempt) -> tuple[str, tuple[Citation, ...]]:
        """The answer as users see it: citations numbered 1.. in order of use, markers renumbered."""
        # Same-story twins become corroboration, never a second, "independent" citation.
        citations = self.stories.corroborate(list(attempt.cited.values()), self.documents)

        def number(c: Citation) -> int:
            return next(
                n
                for n, final in enumerate(citations, 1)
                if any(spans.overlaps(y, c) for y in (final, *final.corroborated_by))
            )

        mapping = {i: number(c) for i, c in attempt.cited.items()}
        return renumber(attempt.text, mapping, quoted=[c.text for c in attempt.cited.values()]), citations


def joined(question: str, parts: Sequence[str], answers: Sequence[Answer], seconds: float) -> Answer:
    """One answer for a question with several asks: each part's answer in turn, citations renumbered
    in one sequence, and a part the corpus does not cover named as such rather than dropped."""
    texts: list[str] = []
    citations: list[Citation] = []
    for part, answer in zip(parts, answers):
        if answer.abstained:
            texts.append(f"On “{part}”: {answer.text}")
            continue
        offset = len(citations)
        if has_markers(answer.text, quoted=[c.text for c in answer.citations]):
            text = renumber(
                answer.text,
                {n: n + offset for n in range(1, len(answer.citations) + 1)},
                quoted=[c.text for c in answer.citations],
            )
        else:  # an extractive answer cites all its citations at its end
            text = answer.text + " " + "".join(f"[{offset + n}]" for n in range(1, len(answer.citations) + 1))
        texts.append(text)
        citations.extend(answer.citations)
    answered = [a for a in answers if not a.abstained]
    verified = None if not answered else all(a.verified for a in answered)
    statuses = [a.verification for a in answered]
    return Answer(
        question,
        "\n".join(texts),
        tuple(citations),
        not answered,
        answers[0].backend,
        timings={"total_s": seconds},
        passages=tuple(p for a in answers for p in a.passages),
        support=min((a.support for a in answered), default=0.0),
        verified=verified,
        fallback_reason="; ".join(a.fallback_reason for a in answers if a.fallback_reason),
        claims=tuple(c for a in answers for c in a.claims),
        verification=next(
            (s for s in (verify.FAILED, verify.FALLBACK, verify.REPAIRED) if s in statuses),
            verify.VERIFIED if answered else "",
        ),
    )
