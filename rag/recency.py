"""Questions about the latest state of things: "latest", "current", "now", "most recent".

News revises itself: the same measure changes from week to week. For such a question the answer
leads with the newest dated article among the evidence that answers it, and names that date; a
question without such a word keeps the best-supported evidence first. An article with no date is
never taken for the newest. Evidence "answers" when it clears the question's support threshold and
scores within `Tuning.recency_margin` of the best: a newer sentence that only brushes the topic does not
displace the answer.

A sentence's same-story retellings (`Citation.corroborated_by`, rag/dedup.py) count as tellings of
it: when one of them is dated later, the later telling leads instead. A follow-up article that
retells a story with a revised figure is folded in as such a retelling when the two sentences share
some number (a year), so without this the older figure would be cited as the newest.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

from index.terms import MONTHS
from rag.tuning import DEFAULT
from rag.types import Answer, Evidence, day_label, is_day

# Words asking for the newest state of things (a language-layer list: English only, like the rest).
LATEST = re.compile(
    r"\b(?:latest|newest|most\s+recent(?:ly)?|most\s+up[-\s]to[-\s]date|current(?:ly)?|now|as\s+of\s+today|today)\b",
    re.IGNORECASE,
)


def asks_latest(question: str) -> bool:
    return LATEST.search(question) is not None


_MONTH = "(" + "|".join(m[:3] + r"[a-z]*\.?" for m in MONTHS) + ")"
# "on 3 December 2025", "December 3, 2025", "3 Dec": a day the question asks about.
_DAY_MONTH = re.compile(r"\b(\d{1,2})\s+" + _MONTH + r"(?:,?\s+(\d{4}))?", re.IGNORECASE)
_MONTH_DAY = re.compile(r"\b" + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(\d{4}))?", re.IGNORECASE)


Day = tuple[int, int, int | None]  # (month, day, year or None)


def asked_day(question: str) -> Day | None:
    """(month, day, year or None) of a day the question names ("as of 3 December 2025")."""
    for pattern, day_first in ((_DAY_MONTH, True), (_MONTH_DAY, False)):
        m = pattern.search(question)
        if m is None:
            continue
        day, month = (m.group(1), m.group(2)) if day_first else (m.group(2), m.group(1))
        number = next(i for i, name in enumerate(MONTHS, 1) if name.lower().startswith(month[:3].lower()))
        if 1 <= int(day) <= 31:
            return number, int(day), int(m.group(3)) if m.group(3) else None
    return None


def of_asked_day(evidence: Sequence[Evidence], day: Day | None) -> list[Evidence]:
    """For a question naming a `day` (`asked_day`: "What did X put the bill at on 3 December?"), the
    evidence from an article published that day leads (renumbered); otherwise unchanged. A figure
    later revised is still what was said that day."""
    evidence = list(evidence)
    if day is None or not evidence:
        return evidence

    def on_day(e: Evidence) -> bool:
        published = e.citation.published
        if not is_day(published):
            return False
        year, month, date = (int(x) for x in published.split("-"))
        return (month, date) == day[:2] and day[2] in (None, year)

    first = [e for e in evidence if on_day(e)]
    if not first or first[0] is evidence[0]:
        return evidence
    ordered = [*first, *(e for e in evidence if not on_day(e))]
    return [replace(e, id=i) for i, e in enumerate(ordered, 1)]


def newest_first(
    evidence: Sequence[Evidence], threshold: float, *, latest: bool, margin: float = DEFAULT.recency_margin
) -> list[Evidence]:
    """`evidence` with the newest dated sentence that answers (within `margin` of the best score)
    moved to the front (renumbered from 1), for a question asking for the `latest` (`asks_latest`);
    otherwise unchanged."""
    evidence = list(evidence)
    if not evidence or not latest:
        return evidence
    evidence = [_newest_telling(e) for e in evidence]
    best = max(e.score for e in evidence)
    able = [
        e
        for e in evidence
        if is_day(e.citation.published) and not e.flags and e.score >= threshold and e.score >= best - margin
    ]
    if not able:
        return evidence
    newest = max(able, key=lambda e: (e.citation.published, e.score))
    if newest is evidence[0]:
        return evidence
    ordered = [newest, *(e for e in evidence if e is not newest)]
    return [replace(e, id=i) for i, e in enumerate(ordered, 1)]


def _newest_telling(e: Evidence) -> Evidence:
    """`e` cited in its latest-dated telling: a same-story retelling dated after it takes its place,
    with the others (the original among them) as its corroboration."""
    if e.flags:
        return e
    tellings = [e.citation, *e.citation.corroborated_by]
    newest = max((c for c in tellings if is_day(c.published)), key=lambda c: c.published, default=None)
    if (
        newest is None
        or newest is e.citation
        or (is_day(e.citation.published) and newest.published <= e.citation.published)
    ):
        return e
    others = tuple(replace(c, corroborated_by=()) for c in tellings if c is not newest)
    return replace(e, citation=replace(newest, corroborated_by=others))


def dated(answer: Answer, *, latest: bool) -> Answer:
    """The answer to a "latest" question (`asks_latest`), saying the date of the article it leads with."""
    if answer.abstained or not answer.citations or not latest:
        return answer
    published = answer.citations[0].published
    if not is_day(published):
        return answer
    return replace(answer, text=f"As of {day_label(published)} (the newest dated source): {answer.text}")
