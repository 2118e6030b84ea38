"""A table's units on disk, read one row at a time, and where each unit lies without reading it.

Opening an index must not do work that grows with the corpus beyond mapping its files. Parsing
every row of `<table>.jsonl` into a `TextUnit` (with its sentence analysis) took most of a cold
`rag ask` at 100k units, so the table is written with two small arrays beside it and read lazily:

    <table>.jsonl         one JSON row per unit, as before (doc_id, start, end, text, analysis, flags)
    <table>.offsets.npy   int64, n + 1 byte offsets: row i is jsonl[offsets[i]:offsets[i + 1]]
    <table>.spans.npy     int64 (n, 4): each row's document ordinal, start, end, and 1 if flagged
    <table>.docs.json     the document ids by ordinal, so a span names its document
    <table>.bydoc.npy     int64, the rows sorted by (document ordinal, start), and then per ordinal
                          where its rows begin in that order (n + documents + 1 values)

`StoredUnits` is the `Sequence[TextUnit]` over the mapped jsonl: `len()` comes from the offsets,
`units[i]` is one slice and one `json.loads`. `UnitSpans` answers the engine's questions by
position (the rows of a document, the row of a span, the rows overlapping a range, which rows are
flagged) from the arrays alone, so no per-unit table is built when an index opens. Both are made
from a list of units as well (`UnitSpans.of`), for tables built in memory or held by Milvus.
"""

from __future__ import annotations

import json
import mmap
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterator, Sequence, overload

import numpy as np

from index.analysis import SentenceAnalysis
from index.chunking import Sentence, TextUnit

SUFFIXES = ("offsets.npy", "spans.npy", "docs.json", "bydoc.npy")
ROW_CACHE = 4096  # parsed rows kept per table: a question reads a few hundred, often twice


def file_names(table: str) -> list[str]:
    """The files `write` adds beside `<table>.jsonl`."""
    return [f"{table}.{s}" for s in SUFFIXES]


def row_of(unit: TextUnit) -> dict:
    """A unit as its jsonl row."""
    row = {"doc_id": unit.doc_id, "start": unit.start, "end": unit.end, "text": unit.text}
    if isinstance(unit, Sentence) and unit.analysis is not None:
        row["analysis"] = unit.analysis.to_dict()
    if isinstance(unit, Sentence) and unit.flags:
        row["flags"] = list(unit.flags)
    return row


def unit_from(kind: type[TextUnit], row: dict) -> TextUnit:
    """The unit of a jsonl row (`ValueError`, `TypeError` or `KeyError` if it has the wrong shape)."""
    if row.get("analysis") is not None:
        row["analysis"] = SentenceAnalysis.from_dict(row["analysis"])
    return kind(**row)


class UnitSpans:
    """Where each unit of a table lies (document, start, end, flagged), as arrays."""

    def __init__(self, docs: Sequence[str], spans: np.ndarray, by_doc: np.ndarray):
        self.docs = list(docs)
        self.spans = spans
        n = len(spans)
        self._order = by_doc[:n]
        self._first = by_doc[n:]
        self._ordinals: dict[str, int] | None = None

    @classmethod
    def of(cls, units: Sequence[TextUnit]) -> "UnitSpans":
        """The spans of units held in memory (a build, a Milvus table, a test)."""
        ordinals: dict[str, int] = {}
        spans = np.zeros((len(units), 4), dtype=np.int64)
        for i, u in enumerate(units):
            flagged = isinstance(u, Sentence) and bool(u.flags)
            spans[i] = (ordinals.setdefault(u.doc_id, len(ordinals)), u.start, u.end, flagged)
        order = np.lexsort((np.arange(len(units)), spans[:, 1], spans[:, 0])) if len(units) else np.zeros(0, np.int64)
        first = np.searchsorted(spans[order, 0], np.arange(len(ordinals) + 1), side="left")
        return cls(list(ordinals), spans, np.concatenate([order, first]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.spans)

    # -- persisting --------------------------------------------------------------------------

    def save(self, folder: Path, table: str) -> None:
        with open(folder / f"{table}.spans.npy", "wb") as fh:
            np.save(fh, np.asarray(self.spans, dtype=np.int64))
        (folder / f"{table}.docs.json").write_text(json.dumps(self.docs, ensure_ascii=False), encoding="utf-8")
        with open(folder / f"{table}.bydoc.npy", "wb") as fh:
            np.save(fh, np.concatenate([self._order, self._first]).astype(np.int64))

    @classmethod
    def load(cls, folder: Path, table: str, size: int) -> "UnitSpans":
        """Map the arrays `save` wrote for a table of `size` units (`ValueError` if they disagree)."""
        docs = json.loads((folder / f"{table}.docs.json").read_text(encoding="utf-8"))
        spans = np.load(folder / f"{table}.spans.npy", mmap_mode="r")
        by_doc = np.load(folder / f"{table}.bydoc.npy", mmap_mode="r")
        if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
            raise ValueError(f"{table}.docs.json is not a list of document ids")
        if spans.shape != (size, 4) or by_doc.shape != (size + len(docs) + 1,):
            raise ValueError(f"the span arrays of {table} do not cover its {size} units")
        return cls(docs, spans, by_doc)

    # -- asking ------------------------------------------------------------------------------

    def ordinal(self, doc_id: str) -> int | None:
        if self._ordinals is None:  # made on first use: one dict over the documents, not the units
            self._ordinals = {d: i for i, d in enumerate(self.docs)}
        return self._ordinals.get(doc_id)

    def doc_id(self, row: int) -> str:
        return self.docs[int(self.spans[row, 0])]

    def span(self, row: int) -> tuple[str, int, int]:
        d, s, e, _ = self.spans[row]
        return self.docs[int(d)], int(s), int(e)

    def rows_of(self, doc_id: str) -> np.ndarray:
        """The rows of `doc_id`, by start (then row)."""
        o = self.ordinal(doc_id)
        if o is None:
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._order[int(self._first[o]) : int(self._first[o + 1])])

    def overlapping(self, doc_id: str, start: int, end: int) -> list[int]:
        """Rows of `doc_id` overlapping `[start, end)`, by start."""
        rows = self.rows_of(doc_id)
        spans = self.spans[rows]
        keep = (spans[:, 1] < end) & (spans[:, 2] > start)
        return [int(r) for r in rows[keep]]

    def inside(self, doc_id: str, start: int, end: int) -> list[int]:
        """Rows of `doc_id` lying within `[start, end)`, by start."""
        rows = self.rows_of(doc_id)
        spans = self.spans[rows]
        keep = (spans[:, 1] >= start) & (spans[:, 2] <= end)
        return [int(r) for r in rows[keep]]

    def row(self, doc_id: str, start: int, end: int) -> int | None:
        """The row of exactly this span, or None (the first such row if several)."""
        rows = self.rows_of(doc_id)
        spans = self.spans[rows]
        found = rows[(spans[:, 1] == start) & (spans[:, 2] == end)]
        return int(found[0]) if len(found) else None

    def holding(self, doc_id: str, position: int) -> int | None:
        """The last row (by start) of `doc_id` whose span holds `position`, or None."""
        rows = self.rows_of(doc_id)
        spans = self.spans[rows]
        found = rows[(spans[:, 1] <= position) & (position < spans[:, 2])]
        return int(found[-1]) if len(found) else None

    def flagged(self, row: int) -> bool:
        return bool(self.spans[row, 3])


class StoredUnits(Sequence[TextUnit]):
    """A table's units, read from the mapped `<table>.jsonl` one row at a time on access."""

    def __init__(self, path: Path, offsets: np.ndarray, kind: type[TextUnit]):
        self._path = path
        self._offsets = offsets
        self._kind = kind
        self._cache: OrderedDict[int, TextUnit] = OrderedDict()
        self._lock = threading.Lock()
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            self._data: mmap.mmap | bytes = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        if len(offsets) < 1 or int(offsets[0]) != 0 or int(offsets[-1]) != size:
            raise ValueError(f"{path.name}: its row offsets do not span the file")

    @classmethod
    def load(cls, folder: Path, table: str, kind: type[TextUnit]) -> "StoredUnits":
        return cls(folder / f"{table}.jsonl", np.load(folder / f"{table}.offsets.npy", mmap_mode="r"), kind)

    @property
    def parsed(self) -> int:
        """How many rows are parsed and kept right now (what opening must leave at zero)."""
        return len(self._cache)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> TextUnit: ...

    @overload
    def __getitem__(self, i: slice) -> list[TextUnit]: ...

    def __getitem__(self, i: int | slice) -> TextUnit | list[TextUnit]:
        if isinstance(i, slice):
            return [self._row(r) for r in range(*i.indices(len(self)))]
        n = len(self)
        r = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= r < n:
            raise IndexError(f"row {i} of {n}")
        return self._row(r)

    def __iter__(self) -> Iterator[TextUnit]:
        for r in range(len(self)):
            yield self._read(r)  # a full pass does not churn the cache

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same units in the same order, as the list it replaces was."""
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # mutable cache, compared by content

    def _row(self, r: int) -> TextUnit:
        # The app answers questions on several threads over one table: the cache's reorder and
        # eviction must not interleave (a row evicted between get and move_to_end is a KeyError).
        with self._lock:
            unit = self._cache.get(r)
            if unit is not None:
                self._cache.move_to_end(r)
                return unit
        unit = self._read(r)
        with self._lock:
            self._cache[r] = unit
            if len(self._cache) > ROW_CACHE:
                self._cache.popitem(last=False)
        return unit

    def _read(self, r: int) -> TextUnit:
        return unit_from(self._kind, json.loads(self._data[int(self._offsets[r]) : int(self._offsets[r + 1])]))

    def raw(self, r: int) -> bytes:
        """Row `r` as stored (a save copies unchanged rows without parsing them)."""
        return bytes(self._data[int(self._offsets[r]) : int(self._offsets[r + 1])])


def write(folder: Path, table: str, units: Sequence[TextUnit], spans: UnitSpans) -> list[str]:
    """Write `<table>.jsonl` and the arrays beside it; returns every file name written."""
    offsets = np.zeros(len(units) + 1, dtype=np.int64)
    with open(folder / f"{table}.jsonl", "wb") as fh:
        for i, unit in enumerate(units):
            line = (json.dumps(row_of(unit), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            offsets[i + 1] = offsets[i] + len(line)
    with open(folder / f"{table}.offsets.npy", "wb") as fh:
        np.save(fh, offsets)
    spans.save(folder, table)
    return [f"{table}.jsonl", *file_names(table)]
