"""Which articles tell the same story, and which of their sentences say the same thing.

Found once at index time from the sentence vectors and persisted with the index
(`stories.*`), because finding them looks up every sentence's neighbours: linear in the corpus
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
import mmap
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

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


STORY_FILE = "stories.json"  # the story of each article that shares one: small
OVERLAP_FILE = "stories.overlap.json"  # every overlapping pair: read only when asked for
TWINS_FILE = "stories.twins.npy"  # int64: size + 1 row pointers, then the twin rows (CSR)


def file_names() -> list[str]:
    """Every file `StoryGroups.save` writes."""
    return [STORY_FILE, OVERLAP_FILE, TWINS_FILE]


class Overlaps(Mapping[tuple[str, str], float]):
    """The overlap of each pair of articles, read from its file on first use.

    Nothing at answer time asks for it, and at 100k synthetic units it held 580k pairs (17 MB of
    JSON): parsing it on every open made opening linear in the corpus."""

    def __init__(self, path: Path):
        # Mapped now, parsed on first use: the mapping outlives the generation folder, which a
        # later save may remove while this index is still open.
        with open(path, "rb") as fh:
            self._data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self._pairs: dict[tuple[str, str], float] | None = None

    @property
    def pairs(self) -> dict[tuple[str, str], float]:
        if self._pairs is None:
            raw = json.loads(self._data[:])
            self._pairs = {(str(a), str(b)): float(v) for a, b, v in raw}
        return self._pairs

    def __getitem__(self, key: tuple[str, str]) -> float:
        return self.pairs[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)


class TwinRows(Mapping[int, tuple[int, ...]]):
    """Each sentence row's twins, from a mapped CSR array (`TWINS_FILE`); rows without twins are absent."""

    def __init__(self, packed: np.ndarray, size: int):
        self._ptr = packed[: size + 1]
        self._rows = packed[size + 1 :]
        self._size = size

    @classmethod
    def pack(cls, twins: Mapping[int, tuple[int, ...]], size: int) -> np.ndarray:
        counts = np.zeros(size + 1, dtype=np.int64)
        for r, t in twins.items():
            counts[r + 1] = len(t)
        flat = [x for r in sorted(twins) for x in twins[r]]
        return np.concatenate([np.cumsum(counts), np.asarray(flat, dtype=np.int64)])

    def __getitem__(self, row: int) -> tuple[int, ...]:
        if not isinstance(row, (int, np.integer)) or not 0 <= row < self._size:
            raise KeyError(row)
        first, last = int(self._ptr[row]), int(self._ptr[row + 1])
        if first == last:
            raise KeyError(row)
        return tuple(int(x) for x in self._rows[first:last])

    def __iter__(self) -> Iterator[int]:
        return (int(r) for r in np.flatnonzero(np.diff(self._ptr)))

    def __len__(self) -> int:
        return int(np.count_nonzero(np.diff(self._ptr)))


@dataclass
class StoryGroups:
    """The persisted result: story of each article, overlaps, and sentence twins by row."""

    # doc_id -> id of its story (the smallest doc_id in the group), for the articles that share
    # their story with another; any other article is its own story (`story_of`).
    story: dict[str, str]
    overlap: Mapping[tuple[str, str], float]  # (doc a, doc b), a < b -> share of matched sentences
    twin_rows: Mapping[int, tuple[int, ...]] = field(default_factory=dict)

    def story_of(self, doc_id: str) -> str:
        return self.story.get(doc_id, doc_id)

    def save(self, folder: Path, size: int) -> list[str]:
        """Write the groups of an index of `size` sentences into `folder`; returns the file names."""
        story = dict(sorted(shared(self.story).items()))
        (folder / STORY_FILE).write_text(json.dumps({"story": story}, separators=(",", ":")), encoding="utf-8")
        overlap = [[a, b, v] for (a, b), v in sorted(self.overlap.items())]
        (folder / OVERLAP_FILE).write_text(json.dumps(overlap, separators=(",", ":")), encoding="utf-8")
        with open(folder / TWINS_FILE, "wb") as fh:
            np.save(fh, TwinRows.pack(self.twin_rows, size))
        return file_names()

    @classmethod
    def load(cls, folder: Path, size: int) -> "StoryGroups":
        """Map what `save` wrote for an index of `size` sentences (`ValueError` if it is off).

        Articles missing from the story map are their own story (`story_of`)."""
        raw = json.loads((folder / STORY_FILE).read_bytes())
        if not isinstance(raw, dict) or not isinstance(raw.get("story"), dict):
            raise ValueError(f"{STORY_FILE} lacks 'story'")
        story = {str(d): str(s) for d, s in raw["story"].items()}
        packed = np.load(folder / TWINS_FILE, mmap_mode="r")
        if packed.ndim != 1 or len(packed) < size + 1 or int(packed[size]) != len(packed) - size - 1:
            raise ValueError(f"{TWINS_FILE} does not cover the {size} sentences")
        twins = packed[size + 1 :]
        if len(twins) and (int(twins.min()) < 0 or int(twins.max()) >= size):
            raise ValueError(f"{TWINS_FILE} names sentence rows outside the {size} sentences")
        return cls(story, Overlaps(folder / OVERLAP_FILE), TwinRows(packed, size))


def detect(units: Sequence[TextUnit], vectors: np.ndarray, search: Neighbours) -> StoryGroups:
    """Find stories and twins among the sentences of one index (rows as in `units`).

    `search(batch, k)` gives each query row's `k` nearest rows and their cosines, best first
    (`VectorTable.neighbours`).
    """
    docs = sorted({u.doc_id for u in units})
    story = {d: d for d in docs}
    if len(docs) < 2:
        return StoryGroups({}, {})
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
    story = shared({d: _find(story, d) for d in docs})
    return StoryGroups(story, overlap, _find_twins(units, vectors, story))


def shared(story: Mapping[str, str]) -> dict[str, str]:
    """The entries of articles whose story has another article too (the root maps to itself)."""
    size = Counter(story.values())
    return {d: s for d, s in story.items() if size[s] > 1}


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
