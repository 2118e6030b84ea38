"""Answer slots: a quick extractive answer never waits behind slow model calls.

An LLM answer can take a minute, or never come (a model server that accepts the connection and
stays silent); an extractive answer takes a fraction of a second. When both kinds shared one
pool of four slots, four stalled model calls held all of them and an extractive answer waited
179 s. So each kind has its own slots (`AnswerSlots`), and waiting for one costs no thread:
the request handlers are coroutines that await a `Slots`, and the answer itself runs on a
worker thread that gives the slot back when it ends, even if the browser has gone away.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field

EXTRACTIVE_SLOTS = 4  # extractive answers computed at once (CPU bound: about the core count, x2)
MODEL_SLOTS = 4  # LLM-backed answers in flight at once; more wait their turn without a thread


@dataclass
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    granted: bool = False


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class Slots:
    """At most `size` holders. Coroutines wait in order; `release` may be called from any thread."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"slots need a size of at least 1, got {size}")
        self.size = size
        self._held = 0
        self._waiters: deque[_Waiter] = deque()
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        with self._lock:
            return self._held

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiters)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._held < self.size and not self._waiters:
                self._held += 1
                return
            waiter = _Waiter(loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter.future
        except BaseException:  # cancelled while waiting: leave the line, or pass on a slot just granted
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:
                self.release()
            raise

    def release(self) -> None:
        with self._lock:
            if not self._waiters:
                self._held -= 1
                return
            waiter = self._waiters.popleft()  # the slot passes straight to the next in line
            waiter.granted = True
        try:
            waiter.loop.call_soon_threadsafe(_wake, waiter.future)
        except RuntimeError:  # its event loop has closed (the app stopped): nobody will hold it
            self.release()


@dataclass
class AnswerSlots:
    """Separate slots for extractive answers and for answers written by a model."""

    extractive: Slots = field(default_factory=lambda: Slots(EXTRACTIVE_SLOTS))
    model: Slots = field(default_factory=lambda: Slots(MODEL_SLOTS))

    def for_backend(self, backend: str) -> Slots:
        return self.extractive if backend == "extractive" else self.model
