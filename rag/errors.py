"""Errors raised by the public API; the tree is drawn in `index.errors`.

`rag.cli` turns every `RagError` into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from index.errors import CorpusError, IndexCorrupt, IndexMissing, IndexStale, QuestionError, RagError


class BackendError(RagError):
    """An answer backend failed: a missing key, an unreachable endpoint, an unknown name."""


__all__ = [
    "BackendError",
    "CorpusError",
    "IndexCorrupt",
    "IndexMissing",
    "IndexStale",
    "QuestionError",
    "RagError",
]
