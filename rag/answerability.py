"""Whether the corpus can answer a question at all: the lexical abstention rules, in one place.

The engine abstains (`Engine._answer`) when
- the question names someone or something no article mentions (`unknown_names`): similar other
  words must not let a sentence about someone else answer;
- it asks for a kind of figure and no evidence sentence states that kind (`stating_kind`);
- the best remaining support is below the threshold for the question (`support_threshold`:
  `Settings.min_support`, or `min_support_figure` for a figure question, or
  `min_support_confirmed` for a figure whose measure and topic the sentence structure confirms).
The structural rules (who speaks, whose figure) are `rag.selection`'s.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from index.language.words import QUESTION_OPENERS
from index.terms import MONTHS, WEEKDAYS, has_kind, tokenize
from rag.conversation import names_in
from rag.periods import overlap, periods_in
from rag.settings import Settings
from rag.thesaurus import wordnet
from rag.types import Evidence

_CALENDAR = frozenset((*MONTHS, *WEEKDAYS))
NAME_PREFIX = 5  # "Belgian" is known through "Belgium", "German" through "Germany"


def unknown_names(question: str, vocabulary: frozenset[str]) -> list[str]:
    """Names in the question (runs of capitalised words) that no article mentions at all.

    A question about an actor or place the corpus never names cannot be answered from it, however
    similar its other words are to some sentence; this catches near-miss questions that the
    support score alone lets through. A name counts as mentioned when any of its words, or a
    word sharing its first five letters, occurs in the corpus.
    """
    prefixes = {t[:NAME_PREFIX] for t in vocabulary if len(t) >= NAME_PREFIX}
    out = []
    for name in names_in(question):
        # A month or weekday dates the question ("as of 3 December"); it names nobody.
        words = [w for w in name.split() if w.lower() not in QUESTION_OPENERS and w.title() not in _CALENDAR]
        terms = [t for t in tokenize(" ".join(words)) if not t[0].isdigit()]
        known = any(t in vocabulary or (len(t) >= NAME_PREFIX and t[:NAME_PREFIX] in prefixes) for t in terms)
        # An abbreviation of a common concept ("GDP") is a term, not a name: the article may say
        # it in words ("economic output"), and the support score decides.
        concept = len(words) == 1 and words[0].isupper() and wordnet().names_only_concepts(words[0])
        if terms and not known and not concept:
            out.append(" ".join(words))
    return out


def stating_kind(evidence: list[Evidence], kind: str | None) -> list[Evidence]:
    """For a question that asks for a figure, only sentences stating that kind of figure count.

    "How many British troops will deploy?" must not be answered by a sentence about troops that
    gives no number; with no such sentence the evidence is empty and the engine abstains.
    """
    if kind is None:
        return evidence
    kept = [e for e in evidence if has_kind(e.text, kind)]
    return [replace(e, id=i + 1) for i, e in enumerate(kept)]


def meeting_period(evidence: list[Evidence], question: str, context_of: Callable[[Evidence], str]) -> list[Evidence]:
    """For a question that fixes a period ("What were X's costs in 2025?", "Who ruled in the 10th
    century?"), drop the sentences that name periods, none of them in the asked one, in
    themselves or in the sentence before (a text states the setting once): a 2026 figure does not
    answer for 2025, nor does "next year" in an article of 2025, nor 1072 for the 10th century. A
    sentence naming no period stays."""
    asked = periods_in(question)
    if not asked:
        return evidence

    def meets(e: Evidence) -> bool:
        stated = periods_in(e.text, e.citation.published)
        return not stated or overlap(asked, stated) or overlap(asked, periods_in(context_of(e), e.citation.published))

    return [replace(e, id=i + 1) for i, e in enumerate(e for e in evidence if meets(e))]


def support_threshold(settings: Settings, kind: str | None, confirmed: bool = False) -> float:
    """The least support an answer needs: a figure question (`kind` set) has its own threshold,
    and a figure the sentence structure confirms (`rag.attribution.confirms`) a lower one."""
    if kind is None:
        return settings.min_support
    return (
        min(settings.min_support_confirmed, settings.min_support_figure) if confirmed else settings.min_support_figure
    )


__all__ = ["NAME_PREFIX", "meeting_period", "stating_kind", "support_threshold", "unknown_names"]
