"""The FAISS index kind follows table size behind the same store API; the format is versioned."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import index.store as store_module
from index.build import build_index
from index.chunking import Chunk
from index.documents import load_corpus
from index.errors import IndexCorrupt, RagError
from index.store import FORMAT, IndexStore, VectorTable, build_faiss, current_dir, index_kind


def _vectors(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _units(n: int) -> list[Chunk]:
    return [Chunk(f"d{i // 10}", 0, 1, "x") for i in range(n)]


def test_kind_switches_at_the_documented_threshold(monkeypatch):
    assert index_kind(store_module.HNSW_MIN_UNITS - 1) == "flat"
    assert index_kind(store_module.HNSW_MIN_UNITS) == "hnsw"
    monkeypatch.setattr(store_module, "HNSW_MIN_UNITS", 500)
    assert VectorTable(_units(499), _vectors(499)).kind == "flat"
    assert VectorTable(_units(500), _vectors(500)).kind == "hnsw"


def test_hnsw_finds_nearly_what_exact_search_finds():
    vectors, queries = _vectors(3000), _vectors(50, seed=1)
    flat, hnsw = VectorTable(_units(3000), vectors, build_faiss(vectors, "flat")), VectorTable(
        _units(3000), vectors, build_faiss(vectors, "hnsw"))
    recall = []
    for q in queries:
        brute = set(np.argsort(-(vectors @ q))[:10].tolist())  # numpy oracle
        assert {r for r, _ in flat.search(q, 10)} == brute
        recall.append(len({r for r, _ in hnsw.search(q, 10)} & brute) / 10)
    assert np.mean(recall) >= 0.9
    rows, scores = zip(*hnsw.search(queries[0], 10))
    np.testing.assert_allclose(scores, vectors[list(rows)] @ queries[0], rtol=1e-5)  # still cosines


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="flat, hnsw"):
        build_faiss(_vectors(3), "ivf")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, embedder, corpus_dir):
    folder = tmp_path_factory.mktemp("kinds") / "idx"
    build_index(load_corpus(corpus_dir), folder, embedder)
    return folder


def test_manifest_records_each_tables_kind_and_it_survives_a_round_trip(saved, monkeypatch, tmp_path):
    data = json.loads((current_dir(saved) / "manifest.json").read_text())
    assert data["format"] == FORMAT == "rag-index v5"
    assert data["index_kinds"] == {"chunks": "flat", "sentences": "flat"}
    store = IndexStore.load(saved)
    monkeypatch.setattr(store_module, "HNSW_MIN_UNITS", 100)  # sentences (~170) become HNSW, chunks stay flat
    big = IndexStore(store.manifest, VectorTable(store.chunks.units, store.chunks.vectors),
                     VectorTable(store.sentences.units, store.sentences.vectors))
    big.save(tmp_path / "idx")
    loaded = IndexStore.load(tmp_path / "idx")
    assert loaded.manifest.index_kinds == {"chunks": "flat", "sentences": "hnsw"}
    assert loaded.sentences.kind == "hnsw" and loaded.sentences.faiss_index.hnsw.efSearch == store_module.HNSW_EF_SEARCH
    q = store.sentences.vectors[7]
    assert loaded.sentences.search(q, 1)[0][0] == 7


@pytest.mark.slow  # a full index rebuild
def test_a_v1_index_needs_a_rebuild(saved, embedder, corpus_dir, tmp_path):
    old = tmp_path / "idx"
    shutil.copytree(saved, old)
    data = json.loads((current_dir(old) / "manifest.json").read_text())
    data["format"] = "rag-index v1"
    del data["index_kinds"]
    (current_dir(old) / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexCorrupt, match="rebuild"):
        IndexStore.load(old)
    _, report = build_index(load_corpus(corpus_dir), old, embedder)
    assert "v1" in report.full_rebuild_reason and len(report.added) == 5
    assert IndexStore.load(old).manifest.format == FORMAT


def test_a_manifest_that_disagrees_with_the_index_kind_is_corrupt(saved, tmp_path):
    copy = tmp_path / "idx"
    shutil.copytree(saved, copy)
    data = json.loads((current_dir(copy) / "manifest.json").read_text())
    data["index_kinds"]["chunks"] = "hnsw"
    (current_dir(copy) / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexCorrupt, match="flat index"):
        IndexStore.load(copy)


def test_compressed_kind_takes_over_at_its_threshold(monkeypatch):
    assert index_kind(store_module.IVFPQ_MIN_UNITS - 1) == "hnsw"
    assert index_kind(store_module.IVFPQ_MIN_UNITS) == "ivfpq"
    monkeypatch.setattr(store_module, "IVFPQ_MIN_UNITS", 600)
    assert VectorTable(_units(600), _vectors(600)).kind == "ivfpq"


def _clustered(n: int, d: int = 64, seed: int = 0) -> np.ndarray:
    """Vectors around 40 topics, like sentences of a news archive (uniform noise has no structure
    for a quantiser to learn, and no corpus looks like it)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, d))
    v = centres[rng.integers(0, 40, n)] + 0.6 * rng.normal(size=(n, d))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_ivfpq_recall_against_exact_search_and_its_scores_are_true_cosines():
    vectors, queries = _clustered(6000), _clustered(60, seed=1)
    table = VectorTable(_units(6000), vectors, kind="ivfpq")
    assert table.kind == "ivfpq"
    recall = []
    for q in queries:
        brute = np.argsort(-(vectors @ q))[:10]
        found = table.dense(q, 10)
        recall.append(len({r for r, _ in found} & set(brute.tolist())) / 10)
        rows, scores = zip(*found)
        np.testing.assert_allclose(scores, vectors[list(rows)] @ q, rtol=1e-5)  # re-ranked exactly
        assert list(scores) == sorted(scores, reverse=True)
    assert np.mean(recall) >= 0.95


@pytest.mark.parametrize("n", [1, 2, 30, 300])
def test_a_forced_compressed_kind_works_on_small_tables(n):
    vectors = _clustered(n)
    table = VectorTable(_units(n), vectors, kind="ivfpq")
    assert [r for r, _ in table.dense(vectors[0], 1)] == [0]


def test_the_kind_can_be_forced_and_survives_a_round_trip(saved, embedder, corpus_dir, tmp_path):
    copy = tmp_path / "idx"
    shutil.copytree(saved, copy)
    store, report = build_index(load_corpus(corpus_dir), copy, embedder, index_kind="ivfpq")
    assert report.embedded_units == 0  # re-indexed, not re-embedded
    loaded = IndexStore.load(copy)
    assert loaded.chunks.kind == loaded.sentences.kind == "ivfpq"
    assert json.loads((current_dir(copy) / "manifest.json").read_text())["index_kinds"] == {
        "chunks": "ivfpq",
        "sentences": "ivfpq",
    }
    q = loaded.sentences.vectors[3]
    assert loaded.sentences.dense(q, 1)[0][0] == 3


def test_an_unknown_forced_kind_is_refused_with_the_setting_named(saved, embedder, corpus_dir):
    with pytest.raises(RagError, match="RAG_INDEX_KIND"):
        build_index(load_corpus(corpus_dir), saved, embedder, index_kind="annoy")
