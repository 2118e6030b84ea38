"""Errors raised by the public API; the tree is drawn in `index.errors`.

`rag.cli` turns every `RagError` into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from index.errors import CorpusError, IndexCorrupt, IndexMissing, IndexStale, QuestionError, RagError


class BackendError(RagError):
    """An answer backend failed: a missing key, an unreachable endpoint, an unknown name."""


class BackendTimeout(BackendError):
    """A backend used up one question's time budget (`RAG_TIMEOUT`); the engine falls back."""


__all__ = [
    "BackendError",
    "BackendTimeout",
    "CorpusError",
    "IndexCorrupt",
    "IndexMissing",
    "IndexStale",
    "QuestionError",
    "RagError",
]
