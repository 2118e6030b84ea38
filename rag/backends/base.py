"""The backend interface: question + numbered evidence -> draft answer citing evidence ids.

Backends never produce offsets or quote text for citations; the engine maps ids (and, for the
extractive backend, sub-spans it checks) to exact spans via `rag.spans`. Verification of what a
draft claims lives outside the backends, so no backend can skip it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from rag.types import Evidence


@dataclass(frozen=True)
class Draft:
    text: str
    evidence_ids: tuple[int, ...]
    # Optional narrower spans: (evidence id, start, end) with start/end absolute offsets that must
    # lie inside that evidence's sentence. Used by the extractive backend to cite a clause.
    spans: tuple[tuple[int, int, int], ...] = ()


@runtime_checkable
class Backend(Protocol):
    name: str

    def draft(self, question: str, evidence: Sequence[Evidence]) -> Draft:
        """Answer `question` from `evidence` only, citing evidence ids."""
        ...
