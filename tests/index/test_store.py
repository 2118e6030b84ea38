"""The FAISS store on disk: round trip, oracle search, incremental rebuild, atomic writes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import index.store as store_module
from index.build import build_index, check_fresh
from index.chunking import ChunkSettings
from index.documents import load_corpus
from index.errors import IndexCorrupt, IndexMissing, IndexStale
from index.store import FORMAT, IndexStore, current_dir


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder, corpus_dir):
    """One built index, copied per test that changes it."""
    folder = tmp_path_factory.mktemp("store") / "idx"
    store, report = build_index(load_corpus(corpus_dir), folder, embedder)
    return folder, store, report


def test_round_trip_preserves_units_vectors_and_manifest(built):
    folder, store, report = built
    assert len(report.added) == 5 and report.embedded_units == len(store.chunks) + len(store.sentences)
    loaded = IndexStore.load(folder)
    assert loaded.manifest.to_dict() == store.manifest.to_dict()
    assert loaded.manifest.format == FORMAT
    for name in ("chunks", "sentences"):
        assert loaded.table(name).units == store.table(name).units
        np.testing.assert_array_equal(loaded.table(name).vectors, store.table(name).vectors)


def test_each_stored_vector_is_its_units_embedding(built, embedder):
    _, store, _ = built  # built embeds shortest first and puts the rows back in document order
    for table in (store.chunks, store.sentences):
        rows = [0, len(table) // 2, len(table) - 1]
        expected = embedder.embed_batch([table.units[r].text for r in rows])
        np.testing.assert_allclose(table.vectors[rows], expected, atol=1e-5)


def test_faiss_top_k_equals_brute_force(built, embedder):
    _, store, _ = built
    for question in ["How much money must partners provide?", "Who leads the multinational force?", "Bundestag"]:
        q = embedder.embed(question)
        for table in (store.chunks, store.sentences):
            brute = np.argsort(-(table.vectors @ q), kind="stable")[:5]
            got = [row for row, _ in table.search(q, 5)]
            assert got == list(brute)
            scores = [score for _, score in table.search(q, 5)]
            np.testing.assert_allclose(scores, (table.vectors @ q)[brute], rtol=1e-5)


def test_manifest_records_model_dimension_chunking_and_hashes(built, embedder):
    folder, store, _ = built
    data = json.loads((current_dir(folder) / "manifest.json").read_text())
    assert data["embed_model"] == embedder.name and data["dimension"] == 384
    assert data["chunking"] == ChunkSettings().to_dict()
    doc = load_corpus(store_module.Path(__file__).parents[2] / "corpus").documents[0]
    assert data["documents"][doc.doc_id]["sha256"] == doc.sha256


def test_unchanged_corpus_embeds_nothing(built, embedder, corpus_dir, tmp_path):
    folder, _, _ = built
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    _, report = build_index(load_corpus(corpus_dir), copy, embedder)
    assert report.embedded_units == 0 and not report.touched and len(report.unchanged) == 5


def test_incremental_rebuild_reembeds_only_what_changed(built, embedder, corpus_copy, tmp_path):
    folder, store, _ = built
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    changed = corpus_copy / "004_0a4f169a68ff0522.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nKyiv welcomed the plan.\n", encoding="utf-8")
    (corpus_copy / "003_44c35423e110a14f.txt").unlink()
    (corpus_copy / "005_new.txt").write_text("A new article.\nIt has two lines.", encoding="utf-8")

    new_store, report = build_index(load_corpus(corpus_copy), copy, embedder)
    assert report.changed == ["004_0a4f169a68ff0522"]
    assert report.added == ["005_new"] and report.removed == ["003_44c35423e110a14f"]
    expected = sum(len([u for u in new_store.table(n).units if u.doc_id in ("004_0a4f169a68ff0522", "005_new")])
                   for n in ("chunks", "sentences"))
    assert report.embedded_units == expected
    assert not any(u.doc_id == "003_44c35423e110a14f" for u in new_store.sentences.units)
    assert any(u.text == "Kyiv welcomed the plan." for u in new_store.sentences.units)
    # Reused vectors are the very ones stored before.
    old_rows = store.sentences.rows_of("000_75e6e878609b9bfe")
    new_rows = new_store.sentences.rows_of("000_75e6e878609b9bfe")
    np.testing.assert_array_equal(store.sentences.vectors[old_rows], new_store.sentences.vectors[new_rows])
    assert IndexStore.load(copy).manifest.documents.keys() == {d.doc_id for d in load_corpus(corpus_copy).documents}


@pytest.mark.slow  # full index rebuilds
def test_changed_model_or_chunking_is_stale_and_forces_full_rebuild(built, embedder, corpus_dir, tmp_path):
    folder, store, _ = built
    corpus = load_corpus(corpus_dir)
    with pytest.raises(IndexStale, match="embedding model changed"):
        check_fresh(store, corpus, "another-model", ChunkSettings())
    with pytest.raises(IndexStale, match="chunking settings changed"):
        check_fresh(store, corpus, embedder.name, ChunkSettings(max_chars=300))
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    _, report = build_index(corpus, copy, embedder, ChunkSettings(max_chars=300))
    assert "chunking" in report.full_rebuild_reason and len(report.added) == 5


def test_missing_and_corrupt_indexes_are_detected(built, tmp_path):
    folder, _, _ = built
    with pytest.raises(IndexMissing, match="rag index"):
        IndexStore.load(tmp_path / "nothing")
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    with open(current_dir(copy) / "sentences.jsonl", "a", encoding="utf-8") as fh:
        fh.write("{}\n")
    with pytest.raises(IndexCorrupt, match="sentences.jsonl"):
        IndexStore.load(copy)
    shutil.rmtree(copy)
    shutil.copytree(folder, copy)
    data = json.loads((current_dir(copy) / "manifest.json").read_text())
    data["format"] = "rag-index v0"
    (current_dir(copy) / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexCorrupt, match="format"):
        IndexStore.load(copy)


def test_interrupted_save_leaves_the_old_index_intact(built, monkeypatch, tmp_path):
    folder, store, _ = built
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    before = _files(copy)
    real = store_module._write_table
    calls = []

    def crash_on_second_table(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash mid-write")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "_write_table", crash_on_second_table)
    with pytest.raises(KeyboardInterrupt):
        store.save(copy)
    assert _files(copy) == before
    assert IndexStore.load(copy).manifest.to_dict() == store.manifest.to_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # no temp folder left behind
    assert sorted(p.name for p in copy.iterdir() if p.is_dir()) == [current_dir(copy).name]


def _files(folder):
    """Every file below `folder` with its bytes (the lock file records the last writer's pid)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != "write.lock"}
