"""Errors raised by the public API; the tree is drawn in `index.errors`.

`rag.cli` turns every `RagError` into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

from index.errors import RagError


class BackendError(RagError):
    """An answer backend failed: a missing key, an unreachable endpoint, an unknown name.

    `status` is the HTTP status the model server answered with, when it answered one, so callers
    can summarise the failure without reading (or showing) the server's own words.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class BackendTimeout(BackendError):
    """A backend used up one question's time budget (`RAG_TIMEOUT`); the engine falls back."""


__all__ = [
    "BackendError",
    "BackendTimeout",
]
