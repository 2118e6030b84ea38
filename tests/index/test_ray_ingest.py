"""Ray Data ingestion on a local `ray.init(num_cpus=2)`: the store ends up as the single-process build.

Needs the `scale` extra (ray[data]; the store half also pymilvus and milvus-lite). Starting Ray
launches a local cluster of separate processes, hence the `subprocess` marker (and so `slow`).
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.subprocess


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    from index.ray_embed import start

    start(workers=2)
    yield ray
    ray.shutdown()


def test_ray_ingestion_into_milvus_holds_the_single_process_units_and_vectors(
    local_ray, tmp_path, embedder, engine
) -> None:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from index.build import build_milvus
    from index.embedding import DEFAULT_MODEL
    from index.milvus_store import MilvusTarget
    from index.ray_embed import RayEmbed, model_factory
    from index.terms import unit_terms

    embed = RayEmbed(model_factory(DEFAULT_MODEL), embedder.dimension, workers=2)
    seen: list[tuple[int, int]] = []
    store, report = build_milvus(
        engine.corpus,
        MilvusTarget(str(tmp_path / "ray.db")),
        embedder,
        unit_terms,
        progress=lambda done, total: seen.append((done, total)),
        embed=embed,
    )
    assert report.embedded_units == len(engine.store.chunks) + len(engine.store.sentences)
    assert seen and seen[-1][0] == seen[-1][1] == report.embedded_units  # every vector came back
    for name in ("chunks", "sentences"):
        assert list(store.table(name).units) == list(engine.store.table(name).units)
        np.testing.assert_allclose(store.table(name).vectors, engine.store.table(name).vectors, atol=1e-5)


def test_rag_index_with_workers_builds_the_default_faiss_store(local_ray, tmp_path, corpus_dir, engine) -> None:
    from rag.cli import main

    index_dir = tmp_path / "idx"
    assert main(["index", "--corpus", str(corpus_dir), "--index-dir", str(index_dir), "--workers", "2"]) == 0
    from index.store import IndexStore

    built = IndexStore.load(index_dir)
    for name in ("chunks", "sentences"):
        assert built.table(name).units == engine.store.table(name).units
        np.testing.assert_allclose(built.table(name).vectors, engine.store.table(name).vectors, atol=1e-5)
