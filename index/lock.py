"""One writer at a time per index folder: an advisory `fcntl.flock` on a lock file inside it.

Two `rag index` runs, a `rag ask` that finds the index stale and the UI's Rebuild may all want
to build the same index. Without a lock each did a full build and their saves raced. With it the
second writer waits (saying so through `log`, since library code never prints), and `build_index`
re-reads the index once it holds the lock, so it reuses what the first writer just saved.

`flock` locks belong to an open file description, so two threads that each open the lock file
exclude each other just as two processes do, and the kernel drops the lock when a writer dies:
a killed build never leaves a stale lock. The lock is re-entrant within one thread, so
`build_index` can hold it around `IndexStore.save`, which takes it too.

Readers never wait for a writer. While a reader loads a generation it holds a shared lock on a
second file (`reading`); a writer removes old generations only if it can take that lock
exclusively at once (`no_readers`), and otherwise leaves them for the next writer. So a
generation never vanishes under a reader, and a reader waits at most for one clean-up.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "write.lock"
READ_LOCK_NAME = "read.lock"

Log = Callable[[str], None]

_held = threading.local()  # resolved lock paths this thread holds, for re-entrance


def _holding() -> set[str]:
    if not hasattr(_held, "paths"):
        _held.paths = set()
    return _held.paths


@contextmanager
def index_lock(index_dir: str | Path, log: Log | None = None) -> Iterator[None]:
    """Hold the write lock of `index_dir` (which must exist); wait, with a message, if another holds it."""
    path = Path(index_dir) / LOCK_NAME
    key = str(path.resolve())
    if key in _holding():
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if log is not None:
                holder = _read_holder(fd)
                log(f"another build of the index at {index_dir} is running{holder}; waiting for it to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _holding().add(key)
        try:
            yield
        finally:
            _holding().discard(key)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    """' (pid N)' from the lock file, for the waiting message; '' if unknown."""
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


@contextmanager
def reading(index_dir: str | Path) -> Iterator[None]:
    """Hold a shared lock while loading, so no writer removes the generation being read."""
    try:
        fd = os.open(Path(index_dir) / READ_LOCK_NAME, os.O_RDONLY)
    except OSError:  # no writer made one yet (or a read-only copy): readers fall back to retrying
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


@contextmanager
def no_readers(index_dir: str | Path) -> Iterator[bool]:
    """True, holding readers off, if no reader is loading now; False (without waiting) otherwise."""
    fd = os.open(Path(index_dir) / READ_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
