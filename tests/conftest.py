"""Shared fixtures: one real index over the real corpus per test session.

Tests that need a writable corpus copy it to a temp folder; none writes to `corpus/`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import index.offline  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def embedder():
    from index.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def engine(tmp_path_factory, embedder):
    """A real engine over `corpus/` with its FAISS index built once in a temp folder."""
    from rag import Engine, Settings

    index_dir = tmp_path_factory.mktemp("index") / "idx"
    return Engine.open(Settings(corpus_dir=CORPUS, index_dir=index_dir), embedder=embedder, log=None)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the corpus for tests that change documents."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target
