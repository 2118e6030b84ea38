"""Progress of long work (embedding during an index build) on stderr, terminal or not.

On a terminal: a tqdm bar. Piped or redirected (CI logs, `rag index 2> build.log`): a plain line
every few seconds with rate and ETA, because a bar's carriage returns turn into one unreadable
line in a log. A build that finishes within the first interval prints nothing at all.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

PLAIN_INTERVAL_S = 5.0  # seconds between plain progress lines, and before the first one

Progress = Callable[[int, int], None]


class PlainProgress:
    """`progress(done, total)` that writes "embedding 1200/9000 units, 140 units/s, ETA 55 s".

    The clock starts at the first call: the rate then measures the work itself, not the model
    loading before it. `clock` is injectable so tests need no sleeps.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str = "embedding",
        unit: str = "units",
        interval: float = PLAIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.label, self.unit, self.interval, self.clock = stream, label, unit, interval, clock
        self._start: tuple[float, int] | None = None  # (time, done) at the first call
        self._last_line = 0.0
        self._printed = False
        self._finished = False

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self._start is None:
            self._start, self._last_line = (now, done), now
            return
        if done >= total and not self._finished:
            self._finished = True
            if self._printed:  # close the story that the earlier lines began
                self._write(
                    f"{self.label} {done}/{total} {self.unit}, {self._rate(now, done):.0f} {self.unit}/s, "
                    f"done in {now - self._start[0]:.0f} s"
                )
            return
        if now - self._last_line >= self.interval:
            rate = self._rate(now, done)
            eta = f"ETA {(total - done) / rate:.0f} s" if rate > 0 else "ETA unknown"
            self._write(f"{self.label} {done}/{total} {self.unit}, {rate:.0f} {self.unit}/s, {eta}")
            self._last_line = now

    def _rate(self, now: float, done: int) -> float:
        assert self._start is not None
        started, first_done = self._start
        return (done - first_done) / (now - started) if now > started else 0.0

    def _write(self, line: str) -> None:
        self._printed = True
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to release; here so both kinds of progress close the same way."""


def stderr_progress(stream: TextIO | None = None) -> tuple[Progress, Callable[[], None]]:
    """A progress callback for long work and its `close`: a tqdm bar on a terminal, plain lines otherwise."""
    stream = sys.stderr if stream is None else stream
    if not stream.isatty():
        plain = PlainProgress(stream)
        return plain, plain.close
    from tqdm import tqdm

    bar = tqdm(total=0, unit="unit", desc="embedding", file=stream, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close
