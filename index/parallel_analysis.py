"""The sentence analysis of a large build, run in worker processes while the build embeds.

Why: spaCy's pipeline runs on one core (measured on the 300-article bench corpus: 57 CPU-s, wall
the same), and the build then embeds on all cores, so on a 2-core machine the second core idled
for the whole analysis. Here worker processes analyse the new documents (index/sentence_analysis.py, the
same code, one document at a time, so the result is byte for byte the in-process one:
tests/index/test_parallel_analysis.py) while the building process embeds.

A worker is a fresh interpreter (`python -m index.parallel_analysis`) fed pickled documents on
stdin, not a `multiprocessing` child: "spawn" re-runs the caller's main script in the child, which
a script without a `__main__` guard turns into a second build, and "fork" would copy the ONNX
Runtime or torch threads of the building process in an undefined state.

A worker costs CPU the in-process analysis does not: a fresh interpreter, importing spaCy and
loading the pipeline again, pickling (about 4 CPU-s more in total on a 20-article build, measured
under load 3-4, where the analysis itself is about 4 CPU-s), so small builds analyse in-process.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from typing import Callable, Sequence

from index.analysis import SentenceAnalysis
from index.chunking import Sentence
from index.documents import Document

# Fewer new documents than this are analysed in the building process (see the docstring).
WORKER_MIN_DOCUMENTS = 24
# Worker processes: half the cores, at least one; the building process embeds on the rest (and,
# through ONNX Runtime's or torch's threads, on all of them once the analysis is done).
WORKERS = max(1, (os.cpu_count() or 2) // 2)

Item = tuple[Document, list[Sentence]]
Analyse = Callable[[Document, list[Sentence]], list[SentenceAnalysis]]


class _Worker:
    """One worker process analysing `items`, its pipes served by a thread so the caller runs on."""

    def __init__(self, items: Sequence[Item]):
        self.items = list(items)
        self.found: list[list[SentenceAnalysis]] | None = None
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "index.parallel_analysis"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.thread = threading.Thread(target=self._talk, daemon=True)
        self.thread.start()

    def _talk(self) -> None:
        out, _ = self.process.communicate(pickle.dumps(self.items, protocol=pickle.HIGHEST_PROTOCOL))
        if self.process.returncode == 0:
            self.found = pickle.loads(out)

    def result(self) -> list[list[SentenceAnalysis]] | None:
        """The analyses, or None if the worker failed."""
        self.thread.join()
        return self.found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.thread.join()


class Analyses:
    """Analyses under way: `result()` waits for them, `cancel()` drops them (a failed build).

    `analyse` is the in-process analysis, used for small builds and when a worker cannot be
    started or fails (the build then still finishes, or raises the analysis' own error, only later).
    """

    def __init__(self, items: Sequence[Item], analyse: Analyse, workers: int = WORKERS):
        self._items = list(items)
        self._analyse = analyse
        self._workers: list[_Worker] = []
        if len(self._items) < WORKER_MIN_DOCUMENTS or workers < 1:
            return
        size = -(-len(self._items) // workers)
        try:
            for i in range(0, len(self._items), size):
                self._workers.append(_Worker(self._items[i : i + size]))
        except OSError:  # no process can be started here: analyse in-process
            self.cancel()

    def result(self) -> list[list[SentenceAnalysis]]:
        """One analysis list per item, in order."""
        if not self._workers:
            return [self._analyse(doc, sentences) for doc, sentences in self._items]
        out: list[list[SentenceAnalysis]] = []
        for worker in self._workers:
            found = worker.result()
            out += found if found is not None else [self._analyse(d, s) for d, s in worker.items]
        self._workers = []
        return out

    def cancel(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []


def _serve() -> None:
    """The worker: pickled (document, sentences) pairs on stdin, their analyses pickled to stdout."""
    from index.sentence_analysis import analyse

    items = pickle.loads(sys.stdin.buffer.read())
    found = [analyse(doc, sentences) for doc, sentences in items]
    sys.stdout.buffer.write(pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _serve()
