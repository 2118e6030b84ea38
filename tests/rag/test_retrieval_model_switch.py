"""Choosing another model or API base (the UI's model switch) touches no retrieval state."""

from __future__ import annotations

import pytest

import index.lexical
import index.store
import index.stories
import rag.dedup
import rag.engine
import rag.evidence
import rag.retrieval
from rag.backends.base import BackendOptions
from ui.shared_engine import SharedEngine

QUESTION = "How many countries pledged to provide troops?"


@pytest.fixture
def builds(monkeypatch):
    """Every retrieval structure that could be rebuilt, counted by name."""
    counted: list[str] = []

    def spy(owner, name: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            counted.append(f"{owner.__name__}.{name}")
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    spy(rag.retrieval.Retriever, "__init__")
    spy(rag.evidence.EvidenceScorer, "__init__")
    spy(index.store.VectorTable, "__init__")
    spy(index.store.IndexStore, "load")
    spy(index.store, "build_faiss")
    spy(index.lexical.Lexical, "build")
    spy(index.lexical.Lexical, "from_terms")
    spy(index.stories, "detect")
    spy(rag.dedup, "detect")
    return counted


def test_a_model_switch_rebuilds_no_retrieval_structure(engine, builds):
    engine.ask(QUESTION)  # everything lazily made is made now
    retriever, scorer, store, stories = engine.retriever, engine.scorer, engine.store, engine.retriever.stories
    builds.clear()
    shared = SharedEngine(engine.settings, engine=engine)
    for model, api_base in (("another-model", None), ("a-third-model", "http://127.0.0.1:9/v1")):
        options = shared.options(model, api_base)
        assert options == BackendOptions.from_settings(engine.settings).with_model(model, api_base)
        with shared.use() as used:
            assert used is engine
            answer = used.ask(QUESTION, options=options)
        assert answer.citations
    assert builds == []
    assert (engine.retriever, engine.scorer, engine.store, engine.retriever.stories) == (
        retriever,
        scorer,
        store,
        stories,
    )


def test_the_spies_do_see_a_rebuild(engine, builds):
    """The check above could pass by watching the wrong things: a new engine trips them."""
    rag.engine.Engine(engine.settings, engine.corpus, engine.store, engine.embedder)
    assert "Retriever.__init__" in builds and "EvidenceScorer.__init__" in builds
