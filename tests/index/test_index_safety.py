"""The index folder is ours alone: foreign folders are refused untouched, saves survive kills,
one writer builds at a time, and readers never see an error while a writer saves."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import index.store as store_module
from index.build import build_index
from index.documents import load_corpus
from index.embedding import Embedder
from index.errors import IndexCorrupt, IndexDirRefused
from index.lock import LOCK_NAME, READ_LOCK_NAME
from index.store import LEGACY_FILES, MARKER, POINTER, IndexStore, current_dir
from rag import Engine, Settings
from rag.cli import main

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = {
    "one.txt": "Harbour plan approved\nThe council approved the harbour plan on Monday. It costs 12 million euros.\n",
    "two.md": "Rail strike ends\nDrivers returned to work after a two-day strike. Talks resume next week.\n",
}


@pytest.fixture
def tiny(tmp_path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def built(tiny, tmp_path, embedder) -> Path:
    folder = tmp_path / "idx"
    build_index(load_corpus(tiny), folder, embedder)
    return folder


OURS = {MARKER, POINTER, LOCK_NAME, READ_LOCK_NAME}


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry below `folder`: files with their bytes, folders as None."""
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# -- a folder that is not an index of ours is refused, byte-identical ------------------------


def test_cli_refuses_a_non_empty_foreign_folder(tiny, tmp_path, capsys):
    mydocs = tmp_path / "mydocs"
    mydocs.mkdir()
    (mydocs / "thesis.txt").write_text("x\n", encoding="utf-8")
    (mydocs / "notes").mkdir()
    before = snapshot(mydocs)
    assert main(["index", "--corpus", str(tiny), "--index-dir", str(mydocs)]) == 1
    err = capsys.readouterr().err
    assert "not empty" in err and "thesis.txt" in err and "nothing was changed" in err
    assert snapshot(mydocs) == before


def test_cli_refuses_the_corpus_folder_as_index_folder(tiny, capsys):
    before = snapshot(tiny)
    assert main(["index", "--corpus", str(tiny), "--index-dir", str(tiny)]) == 1
    assert "is the corpus folder" in capsys.readouterr().err
    assert snapshot(tiny) == before


def test_cli_refuses_an_index_folder_inside_the_corpus(tiny, capsys):
    before = snapshot(tiny)
    assert main(["index", "--corpus", str(tiny), "--index-dir", str(tiny / "sub" / "idx")]) == 1
    assert "inside the corpus folder" in capsys.readouterr().err
    assert snapshot(tiny) == before  # not even the folder was created


def test_engine_open_refuses_the_corpus_folder_too(tiny, embedder):
    before = snapshot(tiny)
    with pytest.raises(IndexDirRefused, match="corpus folder"):
        Engine.open(Settings(corpus_dir=tiny, index_dir=tiny), embedder=embedder, log=None)
    assert snapshot(tiny) == before


def test_an_empty_or_missing_folder_becomes_an_index_and_foreign_files_in_it_survive(built, tiny, embedder):
    assert {MARKER, POINTER, LOCK_NAME} <= entries(built)
    (built / "keep-me.txt").write_text("mine\n", encoding="utf-8")
    (tiny / "three.txt").write_text("Bridge reopens\nThe bridge reopened after repairs.\n", encoding="utf-8")
    _, report = build_index(load_corpus(tiny), built, embedder)
    assert report.added == ["three"]
    assert (built / "keep-me.txt").read_text(encoding="utf-8") == "mine\n"


def test_a_v2_index_is_adopted_and_only_its_own_files_removed(built, tiny, tmp_path, embedder):
    old = tmp_path / "v2"
    old.mkdir()
    for path in current_dir(built).iterdir():  # v2 had the tables and the manifest, nothing derived
        if path.name in LEGACY_FILES:
            (old / path.name).write_bytes(path.read_bytes())
    data = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**data, "format": "rag-index v2"}))
    with pytest.raises(IndexCorrupt, match="v2"):
        IndexStore.load(old)
    _, report = build_index(load_corpus(tiny), old, embedder)
    assert "v2" in report.full_rebuild_reason
    assert entries(old) == OURS | {current_dir(old).name}
    # A v2 manifest beside a file of someone else's is not ours to touch.
    other = tmp_path / "v2-mixed"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({**data, "format": "rag-index v2"}))
    (other / "thesis.txt").write_text("x", encoding="utf-8")
    before = snapshot(other)
    with pytest.raises(IndexDirRefused, match="not empty"):
        build_index(load_corpus(tiny), other, embedder)
    assert snapshot(other) == before


# -- a manifest of the wrong shape is corrupt, and rebuilt ---------------------------------


@pytest.mark.parametrize("change, words", [
    ({"documents": []}, "documents"),
    ({"files": {}}, "checksums"),
    ({"files": None}, "files"),
    ({"dimension": "384"}, "dimension"),
    ({"index_kinds": {}}, "manifest says None"),
])
def test_a_manifest_of_the_wrong_shape_is_corrupt_and_rebuilt(built, tiny, embedder, change, words):
    path = current_dir(built) / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(IndexCorrupt, match=words):
        IndexStore.load(built)
    _, report = build_index(load_corpus(tiny), built, embedder)
    assert report.full_rebuild_reason and sorted(report.added) == ["one", "two"]
    assert IndexStore.load(built).manifest.files.keys() == store_module.EXPECTED_FILES


def test_a_file_missing_from_the_checksums_is_corrupt(built):
    path = current_dir(built) / "manifest.json"
    data = json.loads(path.read_text())
    del data["files"]["chunks.faiss"]
    path.write_text(json.dumps(data))
    with pytest.raises(IndexCorrupt, match="chunks.faiss"):
        IndexStore.load(built)


# -- a kill at any step of a save leaves the old or the new index; the next run cleans up ------


def _failing_replace(fail_at: int):
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise KeyboardInterrupt(f"simulated kill before rename {fail_at}")
        return real(src, dst)

    return replace


@pytest.mark.parametrize("fail_at", [1, 2])
def test_a_save_killed_before_the_pointer_moves_leaves_the_old_index(built, tiny, embedder, monkeypatch, fail_at):
    old = IndexStore.load(built)
    old_files = snapshot(current_dir(built))
    changed = IndexStore(old.manifest, old.chunks, store_module.VectorTable(old.sentences.units[:-1],
                                                                           old.sentences.vectors[:-1]))
    monkeypatch.setattr(os, "replace", _failing_replace(fail_at))
    with pytest.raises(KeyboardInterrupt):
        changed.save(built)
    monkeypatch.undo()
    assert snapshot(current_dir(built)) == old_files
    assert len(IndexStore.load(built).sentences) == len(old.sentences)
    build_index(load_corpus(tiny), built, embedder)  # the next run
    assert entries(built) == OURS | {current_dir(built).name}


def test_a_save_killed_after_the_pointer_moved_leaves_the_new_index(built, tiny, embedder, monkeypatch):
    old = IndexStore.load(built)
    old_generation = current_dir(built).name
    smaller = IndexStore(old.manifest, old.chunks, store_module.VectorTable(old.sentences.units[:-1],
                                                                           old.sentences.vectors[:-1]))
    real_clean, calls = store_module.clean, []

    def clean_then_die(folder):
        calls.append(folder)
        if len(calls) == 2:  # the clean-up after the swap
            raise KeyboardInterrupt("simulated kill during clean-up")
        return real_clean(folder)

    monkeypatch.setattr(store_module, "clean", clean_then_die)
    with pytest.raises(KeyboardInterrupt):
        smaller.save(built)
    monkeypatch.undo()
    assert len(IndexStore.load(built).sentences) == len(old.sentences) - 1
    assert old_generation in entries(built)  # left behind by the kill
    build_index(load_corpus(tiny), built, embedder)
    assert old_generation not in entries(built)
    assert entries(built) == OURS | {current_dir(built).name}


SAVER = """
import sys
sys.path.insert(0, sys.argv[1])
from index.store import IndexStore
store = IndexStore.load(sys.argv[2])
print("saving", flush=True)
while True:
    store.save(sys.argv[2])
"""


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5])
def test_sigkill_mid_save_leaves_a_loadable_index_and_the_next_save_cleans_up(built, delay):
    expected = IndexStore.load(built)
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(ROOT), str(built)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "saving"
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    loaded = IndexStore.load(built)
    assert loaded.manifest.to_dict() == expected.manifest.to_dict()
    assert loaded.sentences.units == expected.sentences.units
    loaded.save(built)
    assert entries(built) == OURS | {current_dir(built).name}


# -- one writer at a time; readers never see an error ---------------------------------------


class GatedEmbedder(Embedder):
    """Counts what it embeds; optionally holds the first batch until `release` is set."""

    def __init__(self, inner: Embedder, release: threading.Event | None = None):
        self.name, self.dimension = inner.name, inner.dimension
        self.inner, self.release = inner, release
        self.embedding = threading.Event()
        self.texts = 0

    def embed_batch(self, texts):
        self.texts += len(texts)
        self.embedding.set()
        if self.release is not None:
            assert self.release.wait(120), "the second writer never reported waiting"
        return self.inner.embed_batch(texts)


def test_two_concurrent_builds_embed_once_and_the_second_waits_and_reuses(tiny, tmp_path, embedder):
    folder = tmp_path / "idx"
    second_waiting = threading.Event()
    first, second = GatedEmbedder(embedder, release=second_waiting), GatedEmbedder(embedder)
    messages: list[str] = []
    results: dict[str, object] = {}

    def run(name, emb, log=None):
        try:
            results[name] = build_index(load_corpus(tiny), folder, emb, log=log)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[name] = exc

    def waiting(message):
        messages.append(message)
        second_waiting.set()

    a = threading.Thread(target=run, args=("a", first))
    a.start()
    assert first.embedding.wait(120)
    b = threading.Thread(target=run, args=("b", second, waiting))
    b.start()
    a.join(240)
    b.join(240)
    (_, report_a), (store_b, report_b) = results["a"], results["b"]
    assert first.texts > 0 and report_a.embedded_units == first.texts
    assert second.texts == 0 and report_b.embedded_units == 0 and not report_b.touched
    assert len(messages) == 1 and "waiting" in messages[0] and str(folder) in messages[0]
    assert store_b.manifest.to_dict() == IndexStore.load(folder).manifest.to_dict()


def test_a_reader_polling_during_saves_never_sees_an_error(built):
    store = IndexStore.load(built)
    variants = [store, IndexStore(store.manifest, store.chunks, store_module.VectorTable(store.sentences.units[:-1],
                                                                                        store.sentences.vectors[:-1]))]
    stop = threading.Event()
    errors: list[BaseException] = []
    loads = []

    def poll():
        while not stop.is_set():
            try:
                loaded = IndexStore.load(built)
                assert len(loaded.sentences) in (len(v.sentences) for v in variants)
                np.testing.assert_array_equal(loaded.sentences.vectors[0], store.sentences.vectors[0])
                loads.append(len(loaded.sentences))
            except BaseException as exc:  # noqa: BLE001 - any error at all fails the test
                errors.append(exc)

    readers = [threading.Thread(target=poll) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        for i in range(30):
            variants[i % 2].save(built)
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert errors == []
    assert len(loads) > 0 and len(set(loads)) == 2  # both versions were seen
    store.save(built)  # with no reader left, every older generation goes
    assert entries(built) == OURS | {current_dir(built).name}
