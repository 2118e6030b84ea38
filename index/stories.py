"""Which articles tell the same story, and which of their sentences say the same thing.

Found once at index time from the sentence vectors and persisted with the index
(`stories.json`), because finding them looks up every sentence's neighbours: linear in the corpus
and far too slow to repeat whenever a process opens the index. `rag.dedup.Stories` answers
questions about them; its docstring says why the thresholds are what they are.

1. Stories: two articles are the same story when at least `STORY_OVERLAP` of their sentences
   have a match of cosine >= `SENTENCE_MATCH` in the other (among each sentence's `NEIGHBOURS`
   nearest), and at least `MIN_MATCHED` sentences match at all.
2. Twins: inside a story, a sentence's twin in the other article is its mutual best match with
   cosine >= `TWIN_MIN`, or any match >= `TWIN_ANY`, unless the two state different numbers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from index.chunking import TextUnit
from index.terms import numbers_in

SENTENCE_MATCH = 0.70
STORY_OVERLAP = 0.40
MIN_MATCHED = 3  # matched sentences a pair needs at all, so two one-line notes are not a "story"
TWIN_MIN = 0.50
TWIN_ANY = 0.75
NEIGHBOURS = 8  # nearest sentences looked up per sentence when finding stories
SEARCH_BATCH = 65_536  # sentences looked up per FAISS call, so the result arrays stay small

Neighbours = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class StoryGroups:
    """The persisted result: story of each article, overlaps, and sentence twins by row."""

    story: dict[str, str]  # doc_id -> id of its story (the smallest doc_id in the group)
    overlap: dict[tuple[str, str], float]  # (doc a, doc b), a < b -> share of matched sentences
    twin_rows: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "story": {d: s for d, s in sorted(self.story.items()) if d != s},
                "overlap": [[a, b, v] for (a, b), v in sorted(self.overlap.items())],
                "twins": {str(r): list(t) for r, t in sorted(self.twin_rows.items())},
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, doc_ids: Sequence[str], size: int) -> "StoryGroups":
        """Parse `to_json` output for an index of `doc_ids` and `size` sentences (`ValueError` if off)."""
        raw = json.loads(data)
        if not isinstance(raw, dict) or not {"story", "overlap", "twins"} <= set(raw):
            raise ValueError("stories.json lacks 'story', 'overlap' or 'twins'")
        story = {d: d for d in doc_ids} | {str(d): str(s) for d, s in raw["story"].items()}
        overlap = {(str(a), str(b)): float(v) for a, b, v in raw["overlap"]}
        twins = {int(r): tuple(int(x) for x in t) for r, t in raw["twins"].items()}
        if any(not 0 <= r < size for r in twins) or any(not 0 <= x < size for t in twins.values() for x in t):
            raise ValueError(f"stories.json names sentence rows outside the {size} sentences")
        return cls(story, overlap, twins)


def detect(units: Sequence[TextUnit], vectors: np.ndarray, search: Neighbours) -> StoryGroups:
    """Find stories and twins among the sentences of one index (rows as in `units`).

    `search(batch, k)` gives each query row's `k` nearest rows and their cosines, best first
    (`VectorTable.neighbours`).
    """
    docs = sorted({u.doc_id for u in units})
    story = {d: d for d in docs}
    if len(docs) < 2:
        return StoryGroups(story, {})
    doc_of = [u.doc_id for u in units]
    size: dict[str, int] = defaultdict(int)
    for d in doc_of:
        size[d] += 1
    matched: dict[tuple[str, str], set[int]] = defaultdict(set)
    k = min(NEIGHBOURS, len(units))
    for first in range(0, len(units), SEARCH_BATCH):
        batch = np.ascontiguousarray(vectors[first : first + SEARCH_BATCH], dtype=np.float32)
        scores, rows = search(batch, k)
        for offset in range(len(batch)):
            i = first + offset
            for r, s in zip(rows[offset], scores[offset]):
                if r >= 0 and s >= SENTENCE_MATCH and doc_of[r] != doc_of[i]:
                    matched[(doc_of[i], doc_of[r])].add(i)
    overlap: dict[tuple[str, str], float] = {}
    for a, b in {tuple(sorted(pair)) for pair in matched}:
        count = len(matched[(a, b)]) + len(matched[(b, a)])
        overlap[(a, b)] = count / (size[a] + size[b])
        if overlap[(a, b)] >= STORY_OVERLAP and count >= MIN_MATCHED:
            _union(story, a, b)
    story = {d: _find(story, d) for d in docs}
    return StoryGroups(story, overlap, _find_twins(units, vectors, story))


def _find_twins(units: Sequence[TextUnit], vectors: np.ndarray, story: dict[str, str]) -> dict[int, tuple[int, ...]]:
    grouped = {s for d, s in story.items() if d != s}
    by_doc: dict[str, list[int]] = defaultdict(list)
    for i, u in enumerate(units):
        if story.get(u.doc_id, u.doc_id) in grouped:
            by_doc[u.doc_id].append(i)
    for rows in by_doc.values():
        rows.sort(key=lambda r: units[r].start)
    twins: dict[int, set[int]] = defaultdict(set)
    members: dict[str, list[str]] = defaultdict(list)
    for d, s in sorted(story.items()):
        members[s].append(d)
    for docs in members.values():
        for i, a in enumerate(docs):
            for b in docs[i + 1 :]:
                ra, rb = by_doc[a], by_doc[b]
                if not ra or not rb:
                    continue
                sim = np.asarray(vectors[ra]) @ np.asarray(vectors[rb]).T
                best_b, best_a = sim.argmax(axis=1), sim.argmax(axis=0)
                for x in range(len(ra)):
                    for y in range(len(rb)):
                        mutual = best_b[x] == y and best_a[y] == x
                        if (sim[x, y] >= TWIN_ANY or (mutual and sim[x, y] >= TWIN_MIN)) and _same_figures(
                            units[ra[x]].text, units[rb[y]].text
                        ):
                            twins[ra[x]].add(rb[y])
                            twins[rb[y]].add(ra[x])
    return {r: tuple(sorted(t, key=lambda t: (units[t].doc_id, units[t].start))) for r, t in twins.items()}


def _same_figures(a: str, b: str) -> bool:
    """Two sentences that both state numbers must share one to be the same statement."""
    na, nb = set(numbers_in(a)), set(numbers_in(b))
    return not (na and nb) or bool(na & nb)


def _find(parent: dict[str, str], x: str) -> str:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _union(parent: dict[str, str], a: str, b: str) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)
