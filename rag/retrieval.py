"""Finding the chunks and sentences that bear on a question.

Three modes over the same store: `dense` (FAISS cosine), `bm25` (bm25s over `rag.terms`
tokens, which keep figures intact) and `hybrid`, their reciprocal-rank fusion. Fusion by rank
rather than by score avoids calibrating two unrelated score scales against each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import bm25s
import numpy as np

from index.chunking import TextUnit
from index.embedding import Embedder
from index.store import IndexStore, VectorTable
from rag.terms import tokenize

MODES = ("hybrid", "dense", "bm25")
RRF_K = 60


@dataclass(frozen=True)
class Hit:
    row: int
    unit: TextUnit
    score: float  # the fused (or single-mode) score used for ranking
    dense: float  # cosine with the question, always filled in
    bm25: float


class _Lexical:
    """A BM25 index over one table's units."""

    def __init__(self, units: list[TextUnit]):
        self._model = bm25s.BM25()
        tokens = [tokenize(u.text) or ["\x00"] for u in units]
        self._size = len(units)
        if units:
            self._model.index(tokens, show_progress=False)

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        if not self._size or not query_tokens:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._model.get_scores(query_tokens), dtype=np.float32)


class Retriever:
    def __init__(self, store: IndexStore, embedder: Embedder):
        self.store = store
        self.embedder = embedder
        self._lexical = {name: _Lexical(store.table(name).units) for name in ("chunks", "sentences")}

    def embed_question(self, question: str) -> np.ndarray:
        return self.embedder.embed(question)

    def search(
        self, question: str, k: int, table: str = "chunks", mode: str = "hybrid", query_vector: np.ndarray | None = None
    ) -> list[Hit]:
        """Top-`k` units of `table` for `question`, best first."""
        if mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}, got {mode!r}")
        vt: VectorTable = self.store.table(table)
        if k <= 0 or not len(vt):
            return []
        qv = self.embed_question(question) if query_vector is None else query_vector
        dense = vt.vectors @ qv  # exact cosines for every unit: cheap, and needed to report scores
        bm25 = self._lexical[table].scores(tokenize(question))
        depth = min(len(vt), max(k * 4, 20))
        dense_rows = [r for r, _ in vt.search(qv, depth)]
        bm25_rows = [int(r) for r in np.argsort(-bm25, kind="stable")[:depth] if bm25[r] > 0]
        if mode == "dense":
            ranked = [(r, float(dense[r])) for r in dense_rows]
        elif mode == "bm25":
            ranked = [(r, float(bm25[r])) for r in bm25_rows]
        else:
            fused: dict[int, float] = {}
            for rows in (dense_rows, bm25_rows):
                for rank, r in enumerate(rows):
                    fused[r] = fused.get(r, 0.0) + 1.0 / (RRF_K + rank + 1)
            ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        return [Hit(r, vt.units[r], s, float(dense[r]), float(bm25[r])) for r, s in ranked[:k]]
