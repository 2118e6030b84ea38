"""Everything derived at build time (BM25, IDF source, same-story groups) is persisted with the
index, round-trips, follows incremental updates, and is never used when corrupt or missing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import index.store as store_module
from index.build import build_index
from index.documents import load_corpus
from index.errors import IndexCorrupt
from index.lexical import Lexical
from index.store import IndexStore, current_dir
from index.stories import detect
from index.terms import unit_terms

QUERIES = [
    "How much money must partners provide?",
    "Who leads the multinational force?",
    "26 countries pledged troops",
    "Bundestag approval",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder, corpus_dir):
    folder = tmp_path_factory.mktemp("derived") / "idx"
    store, _ = build_index(load_corpus(corpus_dir), folder, embedder)
    return folder, store


def _same_lexical(a: Lexical, b: Lexical, units) -> None:
    for q in QUERIES:
        terms = unit_terms(q)
        np.testing.assert_array_equal(a.scores(terms), b.scores(terms))
        assert a.bound(terms) == b.bound(terms)
    assert a.document_frequencies() == b.document_frequencies()
    assert len(a) == len(units)


def test_bm25_and_stories_round_trip(built):
    folder, store = built
    loaded = IndexStore.load(folder)
    for name in ("chunks", "sentences"):
        fresh = Lexical.build(u.text for u in loaded.table(name).units)
        _same_lexical(loaded.table(name).bm25, fresh, loaded.table(name).units)
        _same_lexical(loaded.table(name).bm25, store.table(name).bm25, store.table(name).units)
    assert isinstance(loaded.chunks.bm25._model.scores["data"], np.memmap)  # mapped, not read
    s = loaded.sentences
    assert loaded.stories == detect(s.units, s.vectors, s.neighbours) == store.stories
    assert any(d != g for d, g in loaded.stories.story.items()), "the corpus has one retold story"


def test_derived_files_follow_an_incremental_update(built, embedder, corpus_copy, tmp_path):
    folder, _ = built
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    changed = sorted(corpus_copy.glob("*.txt"))[-1]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nKyiv welcomed the 999 drones plan.\n", encoding="utf-8")
    _, report = build_index(load_corpus(corpus_copy), copy, embedder)
    assert report.changed and not report.full_rebuild_reason
    loaded = IndexStore.load(copy)
    for name in ("chunks", "sentences"):
        table = loaded.table(name)
        _same_lexical(table.bm25, Lexical.build(u.text for u in table.units), table.units)
        assert [r for r, _ in table.lexical(unit_terms("999 drones"), 3)][:1], "the new text is searchable"
    s = loaded.sentences
    assert loaded.stories == detect(s.units, s.vectors, s.neighbours)


@pytest.mark.parametrize(
    "file",
    [
        "chunks.bm25.data.npy",
        "sentences.bm25.vocab.json",
        "sentences.bm25.termmax.npy",
        "stories.json",
        "stories.twins.npy",
        "stories.overlap.json",
    ],
)
@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_damaged_derived_file_is_detected_and_rebuilt(built, embedder, corpus_dir, damaged_copy, file, damage):
    folder, store = built
    copy = damaged_copy(folder, file, damage)
    with pytest.raises(IndexCorrupt, match=file.replace(".", r"\.")):
        IndexStore.load(copy)
    _, report = build_index(load_corpus(corpus_dir), copy, embedder)
    assert report.full_rebuild_reason  # rebuilt, never used
    loaded = IndexStore.load(copy)
    assert loaded.stories == store.stories
    _same_lexical(loaded.chunks.bm25, store.chunks.bm25, store.chunks.units)


def test_verified_generations_are_not_hashed_again_but_later_damage_is_caught(built, tmp_path, monkeypatch):
    folder, _ = built
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    real_now = store_module.time.time_ns
    monkeypatch.setattr(store_module.time, "time_ns", lambda: real_now() + 10**12)  # files look settled
    IndexStore.load(copy)  # verifies every file and records them
    assert (current_dir(copy) / store_module.STAMP).is_file()
    hashed = []
    real_hash = store_module._sha256_file
    monkeypatch.setattr(store_module, "_sha256_file", lambda p: hashed.append(p.name) or real_hash(p))
    IndexStore.load(copy)
    assert hashed == []
    path = current_dir(copy) / "sentences.bm25.data.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="sentences.bm25.data.npy"):
        IndexStore.load(copy)
    assert hashed == ["sentences.bm25.data.npy"]


def test_files_written_moments_ago_are_not_recorded_as_verified(built, tmp_path):
    folder, _ = built
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)  # fresh ctimes
    IndexStore.load(copy)
    assert not (current_dir(copy) / store_module.STAMP).exists()
