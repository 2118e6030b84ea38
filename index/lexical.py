"""BM25 over one table's units, built once at index time and memory-mapped when read.

Building BM25 means tokenising every unit (`index.terms.unit_terms`), which at 100k units took
most of a minute; doing it whenever a process opened the index made opening linear in corpus
size. So the index writes it beside the FAISS files (`<table>.bm25.*`, bm25s' own format plus
each term's best score) and readers map the arrays (`mmap`), paying only for the vocabulary.

bm25s keeps every term's per-unit scores as one column of a CSC matrix, so a term's document
frequency is its column length and its best score the column's maximum: the answer side takes
its IDF table from here too (`document_frequencies`) instead of tokenising every sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import bm25s
import numpy as np

from index.terms import unit_terms

EMPTY_TERM = "\x00"  # stands in for a unit without terms: bm25s needs at least one per unit
# The files one table's BM25 index takes, by role; names are `<table>.bm25.<suffix>`.
SUFFIXES = {
    "data_name": "data.npy",
    "indices_name": "indices.npy",
    "indptr_name": "indptr.npy",
    "vocab_name": "vocab.json",
    "params_name": "params.json",
}
TERM_MAX_SUFFIX = "termmax.npy"


def file_names(table: str) -> list[str]:
    """Every file `save` writes for `table`."""
    return [f"{table}.bm25.{s}" for s in (*SUFFIXES.values(), TERM_MAX_SUFFIX)]


class Lexical:
    """A BM25 index over one table's units, rows in the table's order."""

    def __init__(self, model: bm25s.BM25 | None, size: int, term_max: np.ndarray):
        self._model = model
        self._size = size
        self._term_max = term_max
        self._vocab: dict[str, int] = model.vocab_dict if model is not None else {}

    @classmethod
    def build(cls, texts: Iterable[str]) -> "Lexical":
        return cls.from_terms([unit_terms(t) or [EMPTY_TERM] for t in texts])

    @classmethod
    def from_terms(cls, terms: Sequence[Sequence[str]]) -> "Lexical":
        if not terms:
            return cls(None, 0, np.zeros(0, np.float32))
        model = bm25s.BM25()
        model.index([list(t) for t in terms], show_progress=False)
        data, starts = model.scores["data"], model.scores["indptr"]
        ends = np.append(starts[1:], len(data))[: len(starts)]
        term_max = np.zeros(len(model.vocab_dict), np.float32)
        nonempty = ends > starts
        columns = np.flatnonzero(nonempty[: len(term_max)])
        if len(columns):
            term_max[columns] = np.maximum.reduceat(data, starts[columns])[: len(columns)]
            # reduceat over consecutive starts ends at the next start, which is each column's end.
        return cls(model, len(terms), term_max)

    def __len__(self) -> int:
        return self._size

    # -- persisting --------------------------------------------------------------------------

    def save(self, folder: Path, table: str) -> list[str]:
        """Write this index as `<table>.bm25.*` in `folder`; returns the file names."""
        names = {role: f"{table}.bm25.{suffix}" for role, suffix in SUFFIXES.items()}
        model = self._model or _empty_model()
        model.save(str(folder), **names, show_progress=False)
        with open(folder / f"{table}.bm25.{TERM_MAX_SUFFIX}", "wb") as fh:
            np.save(fh, self._term_max)
        return file_names(table)

    @classmethod
    def load(cls, folder: Path, table: str, size: int) -> "Lexical":
        """Map `<table>.bm25.*` (written by `save`) for a table of `size` units."""
        names = {role: f"{table}.bm25.{suffix}" for role, suffix in SUFFIXES.items()}
        term_max = np.load(folder / f"{table}.bm25.{TERM_MAX_SUFFIX}", mmap_mode="r")
        if size == 0:
            return cls(None, 0, np.zeros(0, np.float32))
        model = bm25s.BM25.load(str(folder), **names, mmap=True, show_progress=False)
        if int(model.scores["num_docs"]) != size or len(term_max) != len(model.vocab_dict):
            raise ValueError(f"BM25 index of {table} covers {model.scores['num_docs']} units, the table has {size}")
        return cls(model, size, term_max)

    # -- searching ---------------------------------------------------------------------------

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every row (float32, zeros when no term is known)."""
        known = [t for t in terms if t in self._vocab]
        if not self._size or not known or self._model is None:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)

    def bound(self, terms: Sequence[str]) -> float:
        """The most any unit could score: each term's best score anywhere, summed (repeats count)."""
        return float(sum(float(self._term_max[self._vocab[t]]) for t in terms if t in self._vocab))

    def document_frequencies(self) -> dict[str, int]:
        """How many units hold each term (answer-type tokens and the empty marker left out)."""
        if self._model is None:
            return {}
        indptr = np.asarray(self._model.scores["indptr"])
        counts = np.diff(indptr)
        return {
            t: int(counts[i])
            for t, i in self._vocab.items()
            if i < len(counts) and counts[i] and not t.startswith("<") and t != EMPTY_TERM
        }


def _empty_model() -> bm25s.BM25:
    model = bm25s.BM25()
    model.index([[EMPTY_TERM]], show_progress=False)
    return model
