"""Stage 4, draft: the chosen backend writes an answer from the decided evidence.

A backend (`rag.backends`) sees the query and the numbered evidence and returns a `Draft` citing
evidence ids; streaming backends give their text in pieces first. A backend that runs out of the
question's time budget, or whose stream ends without a draft, gives no draft, and `check` shows
the fallback's answer instead. `Backends` keeps one backend per (name, options) for an engine: a
model switch is another backend, never another index.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterator

from rag.backends import backend_class
from rag.backends.base import Backend, BackendOptions, Deadline, Draft
from rag.backends.extractive import ExtractiveBackend
from rag.errors import BackendTimeout
from rag.settings import Settings
from rag.stages.read import Question
from rag.types import Evidence

# Not a quality knob: backends kept per engine, one per (name, options); the oldest is closed
# beyond this, so a UI whose users try many models does not keep every model server running.
MAX_BACKENDS = 16


@dataclass(frozen=True)
class Drafted:
    """A backend's draft, or why it gave none; with the deadline its repair must keep."""

    name: str  # the backend asked
    backend: Backend
    draft: Draft | None
    failure: str | None  # why there is no draft
    deadline: Deadline
    streamed: bool  # whether its text was already yielded piece by piece
    seconds: float
    first_token_s: float | None = None


def extractive_fallback(backend: Backend | None) -> Backend:
    """What a failed draft is replaced by: the one given, or the extractive backend."""
    return ExtractiveBackend() if backend is None else backend


def options_of(settings: Settings) -> BackendOptions:
    """The options a question gets when it passes none (model, API base, time budget)."""
    return BackendOptions.from_settings(settings)


class Backends:
    """The backends one engine has opened: one per (name, options), the fallback among them."""

    def __init__(self) -> None:
        self.fallback: Backend | None = None  # set by the engine: what a failed draft is replaced by
        self.opened: dict[tuple, Backend] = {}
        self._lock = threading.Lock()

    def get(self, name: str, options: BackendOptions) -> Backend:
        """The backend `name` with `options`, created on first use and kept; one backend serves every
        question with the same name and what it depends on of the options (`options_key`)."""
        cls = backend_class(name)
        if self.fallback is not None and cls is type(self.fallback):
            return self.fallback
        key = (name, cls, cls.options_key(options))
        with self._lock:
            chosen = self.opened.get(key)
            if chosen is None:
                chosen = self.opened[key] = cls.create(key[2])
                evicted = list(self.opened)[:-MAX_BACKENDS]
                for old in evicted:
                    self.opened.pop(old).close()
            return chosen

    def close(self) -> None:
        """Close every backend opened here and the fallback (stops a local model server)."""
        with self._lock:
            backends, self.opened = list(self.opened.values()), {}
        for chosen in (*backends, *([self.fallback] if self.fallback else [])):
            chosen.close()


def run(
    question: Question, evidence: list[Evidence], name: str, chosen: Backend, options: BackendOptions, stream: bool
) -> Iterator[str | Drafted]:
    """The draft's text pieces as they come (when streaming a backend that can), then `Drafted` last."""
    chosen.open()  # a local server starts here, before the question's clock
    deadline = Deadline(options.timeout)
    streaming = stream and chosen.can_stream
    t1 = time.perf_counter()
    first_token_s: float | None = None
    draft: Draft | None = None
    late: BackendTimeout | None = None
    query = question.query.text
    try:
        if streaming:
            for piece in chosen.draft_stream(query, evidence, deadline=deadline):
                if isinstance(piece, Draft):
                    draft = piece
                else:
                    if first_token_s is None:
                        first_token_s = time.perf_counter() - t1
                    yield piece
        else:
            draft = chosen.draft(query, evidence, deadline=deadline)
    except BackendTimeout as exc:
        late = exc
    seconds = time.perf_counter() - t1
    failure = None
    if draft is None:
        failure = str(late) if late is not None else f"the {name} backend's stream ended without a draft"
    yield Drafted(name, chosen, draft, failure, deadline, streaming, seconds, first_token_s)
