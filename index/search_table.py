"""The search seam between retrieval and storage.

`rag.retrieval.Retriever` searches one table of units densely (embeddings) and lexically (BM25)
through this interface only, so the FAISS store on disk (`index.store.VectorTable`) and other
stores (a Milvus collection) are interchangeable. The lexical terms are those of
`index.terms.unit_terms` / `rag.retrieval.question_terms`.

`units` may be read lazily: the FAISS store parses a row when it is indexed
(`index.unit_table.StoredUnits`), so code that only needs where units lie (the rows of a document,
the row of a span, which rows are flagged) asks `spans` (`index.unit_table.UnitSpans`) instead of
iterating `units`, and opening an index never touches every row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence

import numpy as np

from index.chunking import TextUnit
from index.terms import unit_terms
from index.unit_table import UnitSpans

if TYPE_CHECKING:
    from index.aliases import ActorIndex
    from index.store import Manifest
    from index.stories import StoryGroups


class SearchTable(ABC):
    """One table of units ("chunks" or "sentences") that can be searched densely and lexically.
    Rows are 0..len-1 in a fixed order; `units[row]` is the unit of that row."""

    @property
    @abstractmethod
    def units(self) -> Sequence[TextUnit]: ...

    def __len__(self) -> int:
        return len(self.units)

    @cached_property
    def spans(self) -> UnitSpans:
        """Where each row's unit lies, without reading it; found from `units` on first use here,
        a store that persists them maps them instead."""
        return UnitSpans.of(self.units)

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

    def document_frequencies(self) -> Mapping[str, int]:
        """How many units hold each term (answer-type tokens left out): the IDF of evidence scoring.
        Counted from the units' text here; a table with a lexical index reads it from there."""
        counts: Counter[str] = Counter()
        for unit in self.units:
            counts.update(t for t in set(unit_terms(unit.text)) if not t.startswith("<"))  # `<money>` ...
        return counts


class Store(Protocol):
    """What the engine reads of an index, whichever engine holds it: the FAISS files
    (`index.store.IndexStore`, the default) or Milvus (`index.milvus_store.MilvusStore`)."""

    manifest: Manifest

    @property
    def sentences(self) -> SearchTable: ...

    def table(self, name: str) -> SearchTable: ...

    def story_groups(self) -> StoryGroups: ...

    def actor_index(self) -> ActorIndex: ...
