"""The search seam between retrieval and storage.

`rag.retrieval.Retriever` searches one table of units at a time through this interface only, so
the FAISS store on local files and the Milvus store (`index/milvus_store.py`) are interchangeable
and fuse their results the same way. Lexical "terms" are already tokenised by the caller (our
tokenizer keeps figures such as "60" and "$120" intact and adds answer-type tokens), so a store
never applies a tokenizer of its own to questions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

from index.chunking import TextUnit


class SearchTable(ABC):
    """One table of units ("chunks" or "sentences") that can be searched densely and lexically.
    Rows are 0..len-1 in a fixed order; `units[row]` is the unit of that row."""

    @property
    @abstractmethod
    def units(self) -> Sequence[TextUnit]: ...

    def __len__(self) -> int:
        return len(self.units)

    @abstractmethod
    def dense(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Up to k (row, cosine) pairs, best first (approximate search allowed)."""

    @abstractmethod
    def cosines(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Exact cosine of the query with each given row's vector (float32, same order)."""

    @abstractmethod
    def lexical(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Up to k (row, BM25 score) pairs with score > 0, best first (ties by row)."""

    @abstractmethod
    def lexical_scores(self, terms: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        """BM25 score of each given row for these terms (0 where nothing matches)."""

    @abstractmethod
    def lexical_bound(self, terms: Sequence[str]) -> float:
        """The most any unit could score: each term's best score anywhere, summed (repeats count)."""
