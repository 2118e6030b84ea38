"""Embedding on a Ray cluster: Ray Data `map_batches` over the unit texts.

`rag index --workers N` starts a local Ray (N CPUs, no dashboard, usage stats off) and embeds with
N actors; `rag index --ray-address ADDRESS` joins an existing cluster (`ray://head:10001` or
`auto`) and uses `--workers` actors there (default 2). The texts, split and analysed in this
process as always, go out as a Ray dataset of (position, text) rows; each actor is a callable
class that loads the embedding model once in `__init__` and then embeds batch after batch, which
is what makes the model load cost once per actor, not once per batch. The vectors come back in
position order and are written to the chosen store by the caller (`index.build`), in batches.

Ray is the optional `scale` extra; without it the single-process build is the default and this
module is never imported. Nothing is downloaded: the actors load the same installed model.

The local Ray is ours to clean up (`local_ray`): it listens on 127.0.0.1 only (Ray binds its
servers to the node address, which is set to loopback), and it is shut down when the run ends,
also on Ctrl-C or SIGTERM. A run killed outright (kill -9) cannot do that, and Ray's processes
then linger for a minute or two; so each local Ray is recorded (driver pid, its start time, Ray's
session folder) in a per-user folder, and the next run stops the processes of a session whose
driver is gone, and says so. Only processes of this user whose command line names that session
are stopped, by pid.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from index.embedding import Embedder, make_embedder
from index.errors import RagError

DEFAULT_WORKERS = 2
LOCALHOST = "127.0.0.1"  # the local Ray's node address: its servers bind there, never to the host's own
STOP_GRACE_S = 5.0  # a leftover Ray process gets this long after SIGTERM before SIGKILL
BATCH_SIZE = 64  # texts per map_batches call, as Embedder.embed_many batches in one process
EmbedderFactory = Callable[[], Embedder]
_started = False  # whether `start` initialised the Ray this process uses (so `shutdown` may stop it)


class RayMissing(RagError):
    """Ray Data is not installed."""


class _EmbedActor:
    """One Ray actor: loads the model once, then embeds every batch it is given."""

    def __init__(self, factory: EmbedderFactory):
        self._embedder = factory()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self._embedder.embed_batch([str(t) for t in batch["text"]])
        return {"position": batch["position"], "vector": vectors}


def _ray(local: bool = False):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no call home on a machine without internet
    if local:
        # Ray turns a node address of 127.0.0.1 back into the host's routable one
        # (`services.resolve_ip_for_localhost`) unless clusters are off, as on macOS; then the node
        # address, which its servers bind to, is loopback. Read when Ray is imported, and inherited
        # by the processes it starts. Not for --ray-address: other nodes must reach this driver.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise RayMissing("--workers and --ray-address need Ray Data: pip install -e '.[scale]'") from exc
    return ray


def check_workers(workers: int) -> int:
    """`workers` if it is a usable number of Ray actors; else the one-line error."""
    if workers < 1:
        raise RagError(f"--workers must be at least 1, got {workers}; leave it out for {DEFAULT_WORKERS}")
    return workers


def start(workers: int = DEFAULT_WORKERS, address: str | None = None, log: Callable[[str], None] | None = None) -> None:
    """Join the cluster at `address`, or start a local one with `workers` CPUs; no-op if running.

    A local start first stops what a killed run of ours left (`stop_leftovers`), telling `log`."""
    ray = _ray(local=not address)
    # Ray Data logs a progress table every few seconds; rag shows its own progress bar instead.
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if ray.is_initialized():
        return
    global _started
    _started = True
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        return
    for message in stop_leftovers():
        if log is not None:
            log(message)
    context = ray.init(
        num_cpus=workers,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _node_ip_address=LOCALHOST,
    )
    session = str(context.address_info.get("session_dir") or "")
    _write_record(session)
    if log is not None:
        where = context.address_info.get("node_ip_address") or "?"
        log(f"started a local Ray with {workers} workers on {where} ({Path(session).name})")


def shutdown() -> None:
    """Stop the local Ray `start` started (or leave the cluster it joined), and drop its record.

    A Ray that was running before (`start` found it initialised) is someone else's: left alone."""
    global _started
    if not _started:
        return
    _started = False
    import ray

    if ray.is_initialized():
        ray.shutdown()
    _record_path(os.getpid()).unlink(missing_ok=True)


@contextmanager
def local_ray() -> Iterator[None]:
    """Ray started inside this block is shut down when it ends, also on Ctrl-C or SIGTERM.

    SIGTERM is turned into KeyboardInterrupt for the block, so the same cleanup runs as for Ctrl-C."""

    def terminated(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        try:
            shutdown()
        finally:
            signal.signal(signal.SIGTERM, previous)


# -- what a killed run left --------------------------------------------------------------------


def records_dir() -> Path:
    """Where local Rays of this user's runs are recorded while they run."""
    return Path(tempfile.gettempdir()) / f"rag-ray-{os.getuid()}"


def _record_path(pid: int) -> Path:
    return records_dir() / f"{pid}.json"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or None if
    it is gone: with the pid, it tells a live driver from a new process that got the same pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _write_record(session_dir: str) -> None:
    folder = records_dir()
    folder.mkdir(mode=0o700, exist_ok=True)
    record = {"pid": os.getpid(), "started": _start_time(os.getpid()), "session_dir": session_dir}
    tmp = folder / f".{os.getpid()}.tmp"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    os.replace(tmp, _record_path(os.getpid()))


def session_processes(session_dir: str) -> list[int]:
    """Pids of this user's processes whose command line names Ray's session folder `session_dir`."""
    name = Path(session_dir).name
    if not name.startswith("session_"):
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if name.encode() in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def stop_leftovers() -> list[str]:
    """Stop the local Rays recorded by runs of ours that are gone (killed); one message for each."""
    folder = records_dir()
    if not folder.is_dir():
        return []
    messages = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            pid, started, session = int(record["pid"]), record.get("started"), str(record["session_dir"])
        except (OSError, ValueError, TypeError, KeyError):
            path.unlink(missing_ok=True)  # half-written or foreign: nothing to act on
            continue
        if pid != os.getpid() and started is not None and _start_time(pid) == started:
            continue  # that run is still going: its Ray is in use
        pids = session_processes(session)
        if pids:
            _stop(pids)
            messages.append(
                f"stopped the local Ray left by an interrupted run (pid {pid}): "
                f"{len(pids)} process{'es' if len(pids) != 1 else ''} of {Path(session).name}"
            )
        path.unlink(missing_ok=True)
    return messages


def _stop(pids: list[int]) -> None:
    """SIGTERM, then SIGKILL for whatever is still there after `STOP_GRACE_S`."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + STOP_GRACE_S
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if _running(pid)]
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class RayEmbed:
    """An `index.build.EmbedMany`: embeds texts with `workers` Ray actors, rows in input order."""

    def __init__(
        self,
        factory: EmbedderFactory,
        dimension: int,
        workers: int = DEFAULT_WORKERS,
        address: str | None = None,
        batch_size: int = BATCH_SIZE,
    ):
        self.factory, self.dimension = factory, dimension
        self.workers, self.address, self.batch_size = check_workers(workers), address, batch_size
        self.log: Callable[[str], None] | None = None  # told when a local Ray starts or leftovers are stopped

    def __call__(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        start(self.workers, self.address, self.log)
        ray = _ray()
        items = [{"position": i, "text": t} for i, t in enumerate(texts)]
        dataset = ray.data.from_items(items, override_num_blocks=max(self.workers, len(texts) // 1024))
        embedded = dataset.map_batches(
            _EmbedActor,
            fn_constructor_kwargs={"factory": self.factory},
            batch_size=self.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            num_cpus=1,
        )
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        done = 0
        for batch in embedded.iter_batches(batch_size=self.batch_size, batch_format="numpy"):
            out[np.asarray(batch["position"], dtype=np.int64)] = np.stack(batch["vector"]).astype(np.float32)
            done += len(batch["position"])
            if progress is not None:
                progress(done, len(texts))
        if done != len(texts):
            raise RagError(f"Ray returned {done} vectors for {len(texts)} texts; run 'rag index' again")
        return out


def model_factory(model: str, cache_dir: str | None = None, backend: str = "torch") -> EmbedderFactory:
    """A picklable factory that loads `model` in an actor (the same installed weights as here), in
    the same variant (`index.embedding.make_embedder`) as the build's own embedder, so the index
    records one variant for all its vectors. An ONNX variant reads its export from `cache_dir`,
    which the driver has written before the actors start (a shared path on a cluster)."""
    return _ModelFactory(model, cache_dir, backend)


class _ModelFactory:
    def __init__(self, model: str, cache_dir: str | None, backend: str):
        self.model, self.cache_dir, self.backend = model, cache_dir, backend

    def __call__(self) -> Embedder:
        return make_embedder(self.model, self.cache_dir, self.backend)
