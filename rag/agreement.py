"""The answer card: what other independent sources say beside the lead, and where they differ.

An answer leads with one article's sentence. Readers also need to know whether other articles say
the same thing, add to it, or give a different figure for the same quantity. Here the engine's
scored evidence is compared with the answer's citations on structure (`index.analysis`: each
figure's measure and owner, the sentence's speaker), never on corpus-specific words:

- a candidate is an evidence sentence from an article that is neither the lead's article nor a
  same-story retelling of it (`rag.dedup`: twins are corroboration, not independent sources);
- it *conflicts* when it gives a different value for the same quantity: the same measure (or
  measure family), the same owner and the same period (the same years named in both sentences);
- it *agrees* when it states the same value for the same measure and owner;
- it *adds* when it is strong evidence (score >= `Tuning.adds_min_score`) without either; a sentence
  giving another value for the same measure whose owner or period is unclear is left out.

A false conflict is worse than a missed one, so a quantity counts only when everything is known:
a figure with no measure, no owner or no year is never in conflict; approximate figures ("around
30") differ only beyond `Tuning.approx_tolerance`; an owner is inferred from the sentence's one actor only
for money and shares, never for counts (a leader meeting 34 countries does not own them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from index.aliases import general_actor
from index.analysis import Figure as StatedFigure
from index.analysis import SentenceAnalysis
from index.documents import Document
from index.language.words import MEASURE_FAMILIES
from rag.dedup import Stories
from rag.figures import Figure, figures, supports
from rag.selection import SentenceFacts
from rag.spans import overlaps
from rag.tuning import DEFAULT, Tuning
from rag.types import Citation, Conflict, Evidence, Side, Statement, is_day

VALUE_KINDS = ("money", "percent", "count")  # analysis kinds whose values can be compared
INFER_OWNER_KINDS = ("money", "percent")  # kinds whose owner may be the sentence's single actor
_APPROXIMATE = re.compile(
    r"\b(?:about|around|roughly|approximately|nearly|almost|some|over|under|more than|less than|fewer than|"
    r"up to|at least|at most|close to|estimated|an estimated|as many as|as much as|upwards of)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?<!\d)(?<!\d[.,])(?:19|20)\d{2}(?!\d|[.,]\d)")  # not inside "2,026" or "2026.5"
_ORDER = {"conflicts": 0, "agrees": 1, "adds": 2}


@dataclass(frozen=True)
class Quantity:
    """A figure a sentence states, with what it is of: measure, owner and period."""

    figure: StatedFigure
    value: Figure
    measure: str
    owner: str
    period: frozenset[str]
    approximate: bool


def quantities(
    citation: Citation, analysis: SentenceAnalysis, facts: SentenceFacts, need_owner: bool = True
) -> list[Quantity]:
    """The comparable figures of the sentence holding `citation` (inside the cited span); with
    `need_owner=False` also those whose owner is unknown (owner "")."""
    out = []
    text_start = citation.start
    for f in analysis.figures:
        if f.kind not in VALUE_KINDS or not f.measure or not (citation.start <= f.start and f.end <= citation.end):
            continue
        parsed = [p for p in figures(f.text) if p.kind in ("money", "count", "percent")]
        owner = _owner(f, analysis, facts) or ("" if not need_owner else None)
        if len(parsed) != 1 or owner is None:
            continue
        rel_start, rel_end = f.start - text_start, f.end - text_start
        rest = citation.text[:rel_start] + " " + citation.text[rel_end:]
        out.append(
            Quantity(
                f,
                parsed[0],
                f.measure.lower(),
                owner,
                frozenset(_YEAR.findall(rest)),
                bool(_APPROXIMATE.search(f.text)),
            )
        )
    return out


def _owner(f: StatedFigure, analysis: SentenceAnalysis, facts: SentenceFacts) -> str | None:
    if f.owner:
        return facts.actors.canonical(f.owner)
    if f.kind not in INFER_OWNER_KINDS:
        return None
    # People whose country or body is unknown own nothing here; a known one stands for it.
    actors = {facts.actors.canonical(a) for a in analysis.actors if _actor(a, facts) is not None}
    return actors.pop() if len(actors) == 1 else None


def _same_measure(a: str, b: str) -> bool:
    return a == b or any(a in family and b in family for family in MEASURE_FAMILIES)


def _same_value(a: Figure, b: Figure) -> bool:
    return supports(a, b) or supports(b, a)


def _comparable(a: Quantity, b: Quantity, facts: SentenceFacts) -> bool:
    """Same measure and owner, and figures of one kind and unit (dollars are not euros)."""
    return (
        _same_measure(a.measure, b.measure)
        and facts.actors.same_actor(a.owner, b.owner)
        and a.value.kind == b.value.kind
        and a.value.unit == b.value.unit
    )


def agree(a: Quantity, b: Quantity, facts: SentenceFacts) -> bool:
    """The same value for the same quantity; periods must not differ when both sentences name one."""
    return (
        _comparable(a, b, facts)
        and _same_value(a.value, b.value)
        and (not a.period or not b.period or a.period == b.period)
    )


def conflict(a: Quantity, b: Quantity, facts: SentenceFacts, tolerance: float = DEFAULT.approx_tolerance) -> bool:
    """Different values for the same quantity in the same named period; approximate figures only
    beyond `tolerance` (relative); see the module doc."""
    if not (_comparable(a, b, facts) and a.period and a.period == b.period) or _same_value(a.value, b.value):
        return False
    if a.approximate or b.approximate:
        x, y = a.value.value, b.value.value
        return not math.isclose(x, y, rel_tol=tolerance)
    return True


def card(
    citations: Sequence[Citation],
    evidence: Sequence[Evidence],
    facts: SentenceFacts,
    stories: Stories,
    documents: Mapping[str, Document],
    tuning: Tuning = DEFAULT,
) -> tuple[tuple[Statement, ...], tuple[Conflict, ...]]:
    """The other sources' statements (at most `Tuning.max_statements`) and the conflicts, for an
    answer whose lead is `citations[0]`. `evidence` is the engine's scored evidence, best first."""
    if not citations:
        return (), ()
    lead = citations[0]
    tolerance = tuning.approx_tolerance

    def independent(doc_a: str, doc_b: str) -> bool:
        return doc_a != doc_b and not stories.same_story(doc_a, doc_b)

    def of(c: Citation) -> list[Quantity]:
        return quantities(c, facts.analysis(c.doc_id, c.start, c.end), facts)

    cited = [(n, c, of(c)) for n, c in enumerate(citations, start=1)]
    conflicts: list[Conflict] = []
    # Two of the answer's own citations from independent articles may already differ.
    lead_q = cited[0][2]
    for n, c, qs in cited[1:]:
        if independent(lead.doc_id, c.doc_id):
            conflicts += _conflicts(lead_q, qs, (1, lead), (n, c), facts, documents, tolerance)
    picked: list[tuple[str, Evidence, list[Quantity]]] = []
    for e in evidence:
        c = e.citation
        if e.flags or not independent(lead.doc_id, c.doc_id) or _overlaps_any(c, citations):
            continue
        qs = of(c)
        clash = any(
            conflict(a, b, facts, tolerance)
            for _, y, lq in cited
            if independent(y.doc_id, c.doc_id)
            for a in lq
            for b in qs
        )
        if clash:
            relation = "conflicts"
        elif any(agree(a, b, facts) for _, _, lq in cited for a in lq for b in qs):
            relation = "agrees"
        elif e.score >= tuning.adds_min_score and not _unclear(cited, c, facts):
            relation = "adds"
        else:
            continue
        picked.append((relation, e, qs))
    picked.sort(key=lambda p: (_ORDER[p[0]], -p[1].score))
    chosen: list[tuple[str, Evidence, list[Quantity]]] = []
    for p in picked:  # one statement per story: a retelling is not another source
        if len(chosen) < tuning.max_statements and all(
            independent(p[1].citation.doc_id, q[1].citation.doc_id) for q in chosen
        ):
            chosen.append(p)
    statements = tuple(
        Statement(e.citation.speaker, _actor(e.citation.speaker, facts), relation, e.citation)
        for relation, e, _ in chosen
    )
    for i, (relation, e, qs) in enumerate(chosen, start=len(citations) + 1):
        if relation != "conflicts":
            continue
        for n, c, lq in cited:
            if independent(c.doc_id, e.citation.doc_id):
                found = _conflicts(lq, qs, (n, c), (i, e.citation), facts, documents, tolerance)
                if found:
                    conflicts += found[:1]
                    break
    return tuple(_dated_relation(s, conflicts) for s in statements), tuple(_unique(conflicts))


def _dated_relation(s: Statement, conflicts: list[Conflict]) -> Statement:
    """A conflicting statement on a dated conflict is "superseded" (the older side) or "revises"
    (the newer side): a revision, not a contradiction."""
    for c in conflicts:
        if s.relation == "conflicts" and c.superseded and s.citation in (c.first.citation, c.second.citation):
            return replace(s, relation="superseded" if s.citation == c.first.citation else "revises")
    return s


def _unclear(cited: list[tuple[int, Citation, list[Quantity]]], c: Citation, facts: SentenceFacts) -> bool:
    """Whether `c` gives another value for a measure the answer states, but for an owner or period
    it does not name ("around 30 countries" at one meeting beside "34 countries" at another):
    neither a conflict nor something that adds to the answer, so it is left off the card."""
    mine = quantities(c, facts.analysis(c.doc_id, c.start, c.end), facts, need_owner=False)
    theirs = [
        q for _, y, _ in cited for q in quantities(y, facts.analysis(y.doc_id, y.start, y.end), facts, need_owner=False)
    ]
    return any(
        _same_measure(a.measure, b.measure)
        and a.value.kind == b.value.kind
        and not _same_value(a.value, b.value)
        and not _distinct(a, b, facts)
        for a in theirs
        for b in mine
    )


def _distinct(a: Quantity, b: Quantity, facts: SentenceFacts) -> bool:
    """Clearly two quantities: both owners known and different, or both periods named and different."""
    return bool(a.owner and b.owner and not facts.actors.same_actor(a.owner, b.owner)) or bool(
        a.period and b.period and a.period != b.period
    )


def _conflicts(
    first: list[Quantity],
    second: list[Quantity],
    a: tuple[int, Citation],
    b: tuple[int, Citation],
    facts: SentenceFacts,
    documents: Mapping[str, Document],
    tolerance: float,
) -> list[Conflict]:
    out = []
    for x in first:
        for y in second:
            if conflict(x, y, facts, tolerance):
                out.append(
                    by_date(
                        Conflict(
                            x.measure,
                            x.owner,
                            ", ".join(sorted(x.period)),
                            Side(who(a[1], documents), x.figure.text, a[0], a[1], published(a[1], documents)),
                            Side(who(b[1], documents), y.figure.text, b[0], b[1], published(b[1], documents)),
                        )
                    )
                )
    return out


def by_date(c: Conflict) -> Conflict:
    """`c` with its sides older first when both articles are dated; on different days the newer
    article revises the older figure (`superseded`) rather than contradicting it."""
    first, second = c.first, c.second
    if not (is_day(first.published) and is_day(second.published)):
        return c
    if second.published < first.published:
        first, second = second, first
    return replace(c, first=first, second=second, superseded=first.published != second.published)


def _unique(conflicts: list[Conflict]) -> list[Conflict]:
    seen, out = set(), []
    for c in conflicts:
        key = (c.first.number, c.second.number, c.first.value, c.second.value)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def published(citation: Citation, documents: Mapping[str, Document]) -> str:
    doc = documents.get(citation.doc_id)
    return doc.published if doc is not None else ""


def who(citation: Citation, documents: Mapping[str, Document]) -> str:
    """How a reader knows the source: its speaker, else the publisher, else the article's title."""
    if citation.speaker:
        return citation.speaker
    doc = documents.get(citation.doc_id)
    if doc is not None and doc.publisher:
        return doc.publisher
    if doc is not None and doc.title:
        return f"“{doc.title}”"
    return citation.source


def _actor(speaker: str | None, facts: SentenceFacts) -> str | None:
    if not speaker:
        return None
    actor = general_actor(speaker)
    if actor is not None:
        return actor
    person = facts.actors.person(speaker)
    return person.actor if person is not None else None


def _overlaps_any(c: Citation, citations: Sequence[Citation]) -> bool:
    return any(overlaps(y, c) for x in citations for y in (x, *x.corroborated_by))


__all__ = [
    "Quantity",
    "agree",
    "card",
    "conflict",
    "quantities",
    "who",
]
