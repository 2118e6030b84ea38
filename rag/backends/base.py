"""The backend contract: question + numbered evidence -> draft answer citing evidence ids.

Backends never produce offsets or quote text for citations; the engine maps ids (and, for the
extractive backend, sub-spans it checks) to exact spans via `rag.spans`. Verification of what a
draft claims lives outside the backends, so no backend can skip it.

What a backend can do is declared on its class, the way simonw/llm's `Model` declares
`can_stream` and `needs_key`: the engine reads `can_stream` / `can_repair` and never probes for
methods. Its options (`BackendOptions`) are typed and frozen, so the engine can keep one backend
per (name, options) and a model switch never touches the index.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Iterator, Sequence

from rag.types import Evidence

if TYPE_CHECKING:
    from rag.settings import Settings

DEFAULT_TIMEOUT_S = 30.0  # one question's whole budget: every attempt, backoff pause and the repair
DEFAULT_RETRIES = 2
DEFAULT_MAX_TOKENS = 200
DEFAULT_MAX_EVIDENCE = 6


@dataclass(frozen=True)
class Draft:
    text: str
    evidence_ids: tuple[int, ...]
    # Optional narrower spans: (evidence id, start, end) with start/end absolute offsets that must
    # lie inside that evidence's sentence. Used by the extractive backend to cite a clause.
    spans: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class BackendOptions:
    """What a backend is configured with; hashable, so the engine keys its backend cache on it.

    `timeout` is the total time one question may spend in the backend, across retries, backoff
    and the repair; each request gets what is left of it.
    """

    model: str | None = None
    api_base: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    max_tokens: int = DEFAULT_MAX_TOKENS
    llm_evidence: int = DEFAULT_MAX_EVIDENCE
    local_model: Path | None = None

    @classmethod
    def from_settings(cls, settings: "Settings") -> "BackendOptions":
        return cls(
            model=settings.model or None,
            api_base=settings.api_base or None,
            timeout=settings.timeout,
            retries=settings.retries,
            max_tokens=settings.max_tokens,
            llm_evidence=settings.llm_evidence,
            local_model=settings.local_model,
        )

    def with_model(self, model: str | None = None, api_base: str | None = None) -> "BackendOptions":
        """These options with another model and/or API base (empty or None keeps the current one)."""
        return replace(self, model=model or self.model, api_base=api_base or self.api_base)


class Deadline:
    """One question's time budget, shared by the draft, its retries and the repair."""

    def __init__(self, budget_s: float, clock=time.monotonic):
        self.budget_s = budget_s
        self._clock = clock
        self._end = clock() + budget_s

    def remaining(self) -> float:
        return max(self._end - self._clock(), 0.0)

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


class Backend(ABC):
    """A way to draft answers. Subclass it, set `name` and the capability flags you implement.

    Backends are created once per engine and option set (`create`) and shared by concurrent
    questions, so they must not keep per-question state. Anything they hold open (a server
    process) is acquired lazily in `open` and released in `close`.
    """

    name: str = "backend"  # also the name errors use; an instance may narrow it
    can_stream: ClassVar[bool] = False  # implements `draft_stream`
    can_repair: ClassVar[bool] = False  # implements `repair`
    needs_model: ClassVar[bool] = False  # `BackendOptions.model` must be set

    @classmethod
    def create(cls, options: BackendOptions) -> "Backend":
        """Build the backend from its options; raise `BackendError` naming what is missing."""
        return cls()

    @classmethod
    def options_key(cls, options: BackendOptions) -> BackendOptions:
        """The part of `options` this backend depends on: one backend serves equal keys."""
        return options

    @abstractmethod
    def draft(self, question: str, evidence: Sequence[Evidence], *, deadline: Deadline | None = None) -> Draft:
        """Answer `question` from `evidence` only, citing evidence ids."""

    def draft_stream(
        self, question: str, evidence: Sequence[Evidence], *, deadline: Deadline | None = None
    ) -> Iterator[str | Draft]:
        """Text pieces as they are written, then the `Draft` last (when `can_stream`)."""
        raise NotImplementedError(f"the {self.name} backend does not stream (can_stream is False)")

    def repair(
        self,
        question: str,
        evidence: Sequence[Evidence],
        previous: Draft,
        problems: Sequence[str],
        *,
        deadline: Deadline | None = None,
    ) -> Draft:
        """One more try, told what verification rejected (when `can_repair`)."""
        raise NotImplementedError(f"the {self.name} backend cannot repair (can_repair is False)")

    def open(self) -> None:
        """Acquire what answering needs (start a server); runs before a question's clock starts."""

    def close(self) -> None:
        """Release what `open` acquired; the backend may be opened again afterwards."""
