"""Articles that tell the same story, and which of their sentences say the same thing.

Two outlets often publish one wire story in different words (articles 000 and 001 of our corpus).
Their agreement is not independent confirmation, and their paraphrased passages would otherwise
fill the top-k twice. Stories and twins are found at index time (`index/stories.py`, which holds
the thresholds below) and persisted with the index; this module answers questions about them. So:

1. Stories: every sentence looks up its nearest sentences (FAISS, sentence embeddings). Two
   articles are the same story when at least `STORY_OVERLAP` of their sentences have a match of
   cosine >= `SENTENCE_MATCH` in the other (000/001 measure 0.68; distinct reports on the same
   events at most 0.09).
2. Twins: inside a story, a sentence's twin in the other article is its mutual best match with
   cosine >= `TWIN_MIN`, or any match >= `TWIN_ANY` (one sentence rewritten as two), unless the
   two state different numbers.
3. Retrieval keeps the best-ranked unit and folds any later unit that repeats it (from another
   article of the same story) into it; answers list the repeats as `Citation.corroborated_by`.
   Corroboration only ever comes from same-story articles: it says "this story's other telling
   states it too", never "a second independent source confirms it".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable, Iterable, Mapping, Sequence, TypeVar

from index.chunking import TextUnit
from index.documents import Document
from index.search_table import SearchTable
from index.store import VectorTable
from index.stories import StoryGroups, detect
from index.unit_table import UnitSpans
from rag.spans import cite, overlaps
from rag.tuning import DEFAULT
from rag.types import Citation

T = TypeVar("T")


@dataclass
class Stories:
    """Same-story article groups and sentence twins for one sentence table."""

    units: Sequence[TextUnit]
    story: Mapping[str, str]  # doc_id -> id of its story (the smallest doc_id in the group); absent: its own
    overlap: Mapping[tuple[str, str], float]  # (doc a, doc b), a < b -> share of matched sentences
    twin_rows: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    # Where each sentence lies; a store's table maps them, a list of units finds them on first use.
    spans: UnitSpans | None = None
    # The share of a unit's sentences that must have a twin in another for it to repeat that one
    # (`Tuning.repeat_share`).
    repeat_share: float = DEFAULT.repeat_share

    @cached_property
    def _spans(self) -> UnitSpans:
        return self.spans if self.spans is not None else UnitSpans.of(self.units)

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def of(cls, table: SearchTable, groups: StoryGroups, repeat_share: float = DEFAULT.repeat_share) -> "Stories":
        """The stories of a sentence table, as found at index time (`IndexStore.story_groups`)."""
        return cls(table.units, groups.story, groups.overlap, groups.twin_rows, table.spans, repeat_share)

    @classmethod
    def detect(cls, sentences: VectorTable) -> "Stories":
        """Find stories and twins among the sentences of one table now (the index does it at save)."""
        return cls.of(sentences, detect(sentences.units, sentences.vectors, sentences.neighbours))

    # -- asking ------------------------------------------------------------------------------

    def same_story(self, a: str, b: str) -> bool:
        return a != b and self.story.get(a, a) == self.story.get(b, b)

    def groups(self) -> list[list[str]]:
        """Stories told by more than one article, each as its sorted doc ids."""
        members: dict[str, list[str]] = defaultdict(list)
        for d, s in self.story.items():
            members[s].append(d)
        return sorted(sorted(m) for m in members.values() if len(m) > 1)

    def sentence_rows(self, doc_id: str, start: int, end: int) -> list[int]:
        """Rows of the sentences of `doc_id` that overlap `[start, end)`."""
        return self._spans.overlapping(doc_id, start, end)

    def twins(self, doc_id: str, start: int, end: int) -> list[TextUnit]:
        """Sentences in same-story articles that state what `[start, end)` of `doc_id` states."""
        seen: dict[int, None] = {}
        for r in self.sentence_rows(doc_id, start, end):
            for t in self.twin_rows.get(r, ()):
                seen.setdefault(t)
        return [self.units[t] for t in seen]

    def repeats(self, unit: TextUnit, kept: TextUnit) -> bool:
        """True when `unit` (from another article of `kept`'s story) mostly restates `kept`.

        At least `repeat_share` of `unit`'s sentences must have a twin inside `kept`'s span.
        """
        if not self.same_story(unit.doc_id, kept.doc_id):
            return False
        rows = self.sentence_rows(unit.doc_id, unit.start, unit.end)
        if not rows:
            return False
        inside = sum(any(self._within(t, kept) for t in self.twin_rows.get(r, ())) for r in rows)
        return inside >= self.repeat_share * len(rows)

    def _within(self, row: int, kept: TextUnit) -> bool:
        doc_id, start, end = self._spans.span(row)
        return doc_id == kept.doc_id and kept.start <= start and end <= kept.end

    def collapse(self, items: Iterable[T], unit_of: Callable[[T], TextUnit]) -> list[tuple[T, list[T]]]:
        """Keep items in order, folding each one that repeats an earlier kept item into it.

        Returns `(kept item, [items that repeat it])` pairs, best first.
        """
        kept: list[tuple[T, list[T]]] = []
        for item in items:
            unit = unit_of(item)
            for first, repeats in kept:
                if self.repeats(unit, unit_of(first)):
                    repeats.append(item)
                    break
            else:
                kept.append((item, []))
        return kept

    def with_twins(self, citation: Citation, documents: Mapping[str, Document]) -> Citation:
        """`citation` with its same-story twins as `corroborated_by` (`documents`: doc_id -> Document)."""
        twins = self.twins(citation.doc_id, citation.start, citation.end)
        return replace(
            citation,
            corroborated_by=tuple(cite(documents[t.doc_id], t.start, t.end) for t in twins if t.doc_id in documents),
        )

    def corroborate(self, citations: Sequence[Citation], documents: Mapping[str, Document]) -> tuple[Citation, ...]:
        """Attach same-story twins to each citation; a citation repeating an earlier one is folded in.

        `documents` maps doc_id -> `Document`. Returns new `Citation`s in the original order.
        """
        out: list[Citation] = []
        for c in citations:
            earlier = next((i for i, o in enumerate(out) if self._restates(c, o)), None)
            if earlier is not None:
                o = out[earlier]
                if not any(overlaps(y, c) for y in o.corroborated_by):
                    out[earlier] = replace(o, corroborated_by=(*o.corroborated_by, replace(c, corroborated_by=())))
                continue
            out.append(self.with_twins(c, documents))
        return tuple(out)

    def _restates(self, c: Citation, earlier: Citation) -> bool:
        """A citation restates an earlier one when its sentences are twins of the earlier's."""
        if not self.same_story(c.doc_id, earlier.doc_id):
            return False
        rows = self.sentence_rows(c.doc_id, c.start, c.end)
        covered = {r for r in self.sentence_rows(earlier.doc_id, earlier.start, earlier.end)}
        return bool(rows) and all(covered & set(self.twin_rows.get(r, ())) for r in rows)
