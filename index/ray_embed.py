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
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Sequence

import numpy as np

from index.embedding import Embedder, make_embedder
from index.errors import RagError

DEFAULT_WORKERS = 2
BATCH_SIZE = 64  # texts per map_batches call, as Embedder.embed_many batches in one process
EmbedderFactory = Callable[[], Embedder]


class RayMissing(RagError):
    """Ray Data is not installed."""


class _EmbedActor:
    """One Ray actor: loads the model once, then embeds every batch it is given."""

    def __init__(self, factory: EmbedderFactory):
        self._embedder = factory()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self._embedder.embed_batch([str(t) for t in batch["text"]])
        return {"position": batch["position"], "vector": vectors}


def _ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no call home on a machine without internet
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise RayMissing("--workers and --ray-address need Ray Data: pip install -e '.[scale]'") from exc
    return ray


def start(workers: int = DEFAULT_WORKERS, address: str | None = None) -> None:
    """Join the cluster at `address`, or start a local one with `workers` CPUs; no-op if running."""
    ray = _ray()
    # Ray Data logs a progress table every few seconds; rag shows its own progress bar instead.
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)


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
        if workers < 1:
            raise RagError(f"--workers must be at least 1, got {workers}")
        self.factory, self.dimension = factory, dimension
        self.workers, self.address, self.batch_size = workers, address, batch_size

    def __call__(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        start(self.workers, self.address)
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
