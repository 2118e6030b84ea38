"""One engine shared by every browser session, safe to use from Gradio's worker threads.

Answers only read the engine, so many may run at once; a rebuild replaces its index, so it
waits for answers in flight and holds new ones back until it is done (a readers-writer lock).
If the engine cannot be opened (no corpus, broken index) the app still serves, and each
question reports why; the Rebuild button tries again. A per-request model or API base is a
`BackendOptions` passed with the question (`options`), never another engine.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from rag import Engine, Settings
from rag.backends.base import BackendOptions

ProgressFn = Callable[[int, int], None]


class ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers so it cannot starve."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class SharedEngine:
    def __init__(
        self, settings: Settings, engine: Engine | None = None, open_engine: Callable[..., Engine] | None = None
    ):
        self.settings = engine.settings if engine is not None else settings
        self._engine = engine
        self._open = open_engine or (lambda progress=None: Engine.open(self.settings, progress=progress, log=None))
        self._lock = ReadWriteLock()

    def _ensure_open(self) -> Engine:
        if self._engine is None:
            with self._lock.writing():
                if self._engine is None:
                    self._engine = self._open()
        return self._engine

    @contextmanager
    def use(self) -> Iterator[Engine]:
        """The engine for one request; raises the engine's `RagError` when it cannot be opened.

        A newer index generation (saved by `rag watch` or `rag index`) is taken first, with answers
        in flight finished and new ones held back, as for a rebuild."""
        engine = self._ensure_open()
        if engine.behind():
            with self._lock.writing():
                engine.follow()
        with self._lock.reading():
            yield engine

    def options(self, model: str | None = None, api_base: str | None = None) -> BackendOptions:
        """Backend options for one request: the settings' own, with a model / API base if given."""
        return BackendOptions.from_settings(self.settings).with_model(model or None, api_base or None)

    def rebuild(self, progress: ProgressFn | None = None):
        """Bring the index up to date with the corpus folder; opens the engine if it never opened."""
        with self._lock.writing():
            if self._engine is None:
                self._engine = self._open(progress=progress)
                return self._engine.build_report
            return self._engine.rebuild(progress=progress)

    @property
    def documents(self) -> tuple:
        """The articles, or none when the engine cannot be opened."""
        with self._lock.reading():
            return self._engine.documents if self._engine is not None else ()

    def close(self) -> None:
        """Close the engine's backends (a local model server); the app calls it on shutdown."""
        with self._lock.writing():
            if self._engine is not None:
                self._engine.close()
