"""Units are read lazily from the index files: the same units, order and analysis as the table
built in memory, rows parsed only when read, spans that agree with the units, incremental updates
that keep both consistent, and a corpus whose unchanged files are not read when the index opens."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import index.store as store_module
import index.unit_table as unit_table
from index.build import build_index
from index.chunking import Chunk, Sentence
from index.documents import Document, StoredDocument, load_corpus
from index.errors import CorpusError
from index.store import IndexStore, VectorTable, current_dir
from index.unit_table import StoredUnits, UnitSpans


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder, corpus_dir):
    folder = tmp_path_factory.mktemp("units") / "idx"
    store, _ = build_index(load_corpus(corpus_dir), folder, embedder)
    return folder, store


def _same_units(loaded, expected) -> None:
    """Equal units in the same order, with the whole analysis (lemmas and entities do not take part in ==)."""
    loaded, expected = list(loaded), list(expected)
    assert loaded == expected
    for a, b in zip(loaded, expected):
        assert type(a) is type(b)
        if isinstance(a, Sentence):
            assert isinstance(b, Sentence)
            assert (a.analysis and a.analysis.to_dict()) == (b.analysis and b.analysis.to_dict())
            assert a.flags == b.flags


def _consistent(table, documents: dict[str, Document]) -> None:
    """The span arrays say what the units say, and every unit is its document's exact slice."""
    units, spans = list(table.units), table.spans
    assert len(spans) == len(units)
    for row, u in enumerate(units):
        assert spans.span(row) == (u.doc_id, u.start, u.end)
        assert spans.flagged(row) == (isinstance(u, Sentence) and bool(u.flags))
        assert documents[u.doc_id].text[u.start : u.end] == u.text
    for doc_id in {u.doc_id for u in units}:
        expected = sorted((r for r, u in enumerate(units) if u.doc_id == doc_id), key=lambda r: (units[r].start, r))
        assert list(spans.rows_of(doc_id)) == expected


def test_the_lazy_store_round_trips_against_the_table_in_memory(built, corpus_dir):
    folder, store = built
    loaded = IndexStore.load(folder)
    documents = load_corpus(corpus_dir).by_id
    assert any(isinstance(u, Sentence) and u.analysis and u.analysis.speakers for u in store.sentences.units)
    for name in ("chunks", "sentences"):
        units = loaded.table(name).units
        assert isinstance(units, StoredUnits)
        _same_units(units, store.table(name).units)
        _same_units([units[i] for i in range(len(units))], store.table(name).units)
        assert units[-1] == store.table(name).units[-1] and units[1:4] == list(store.table(name).units[1:4])
        _consistent(loaded.table(name), documents)
        in_memory = UnitSpans.of(store.table(name).units)
        np.testing.assert_array_equal(np.asarray(loaded.table(name).spans.spans), in_memory.spans)
    assert loaded.actor_index().people == store_module.actors_of(store.sentences.units).people


def test_opening_parses_no_row_until_one_is_read(built, embedder, corpus_dir, monkeypatch):
    from rag import Engine, Settings

    folder, _ = built
    parsed = []
    real = unit_table.unit_from
    monkeypatch.setattr(unit_table, "unit_from", lambda kind, row: parsed.append(row["start"]) or real(kind, row))
    store = IndexStore.load(folder)
    engine = Engine(Settings(corpus_dir=corpus_dir, index_dir=folder), load_corpus(corpus_dir), store, embedder)
    assert parsed == [], "opening the index and the engine read no unit"
    assert engine.facts.actors.people, "the quoted people come from the persisted actor index"
    unit = store.sentences.units[7]
    assert len(parsed) == 1 and unit == store.sentences.units[7] and len(parsed) == 1  # read once, then kept
    assert engine.facts.analysis(unit.doc_id, unit.start, unit.end) == unit.analysis


def test_an_incremental_update_keeps_units_and_spans_consistent(built, embedder, corpus_copy, tmp_path):
    folder, _ = built
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    files = sorted(corpus_copy.glob("*.txt"))
    files[1].write_text(
        files[1].read_text(encoding="utf-8") + "\nA spokesperson said the 777 drones arrived on Monday.\n",
        encoding="utf-8",
    )
    files[-1].unlink()
    corpus = load_corpus(corpus_copy)
    _, report = build_index(corpus, copy, embedder)
    assert report.changed and report.removed and not report.full_rebuild_reason
    fresh, _ = build_index(corpus, tmp_path / "fresh", embedder)
    loaded = IndexStore.load(copy)
    for name in ("chunks", "sentences"):
        _same_units(loaded.table(name).units, fresh.table(name).units)
        _consistent(loaded.table(name), corpus.by_id)
    assert any("777 drones" in u.text for u in loaded.sentences.units)


@pytest.mark.parametrize(
    "file",
    ["sentences.offsets.npy", "chunks.spans.npy", "sentences.docs.json", "sentences.bydoc.npy", "actors.json"],
)
@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_damaged_unit_file_is_detected_and_rebuilt(built, embedder, corpus_dir, damaged_copy, file, damage):
    from index.errors import IndexCorrupt

    folder, store = built
    copy = damaged_copy(folder, file, damage)
    with pytest.raises(IndexCorrupt, match=file.replace(".", r"\.")):
        IndexStore.load(copy)
    _, report = build_index(load_corpus(corpus_dir), copy, embedder)
    assert report.full_rebuild_reason
    loaded = IndexStore.load(copy)
    for name in ("chunks", "sentences"):
        _same_units(loaded.table(name).units, store.table(name).units)


def test_offsets_that_do_not_span_the_rows_are_refused(built, tmp_path):
    folder, _ = built
    gen = current_dir(folder)
    short = np.load(gen / "chunks.offsets.npy")[:-1]
    with pytest.raises(ValueError, match="offsets"):
        StoredUnits(gen / "chunks.jsonl", short, Sentence)


def test_a_table_in_memory_finds_its_spans(built):
    _, store = built
    units = list(store.sentences.units)
    table = VectorTable(units, np.asarray(store.sentences.vectors))
    spans = table.spans
    u = units[5]
    assert spans.row(u.doc_id, u.start, u.end) == 5
    assert spans.holding(u.doc_id, u.start + 1) == 5
    assert 5 in spans.overlapping(u.doc_id, u.start, u.start + 1) and spans.row("nope", 0, 1) is None


# -- the corpus -----------------------------------------------------------------------------------


def test_unchanged_corpus_files_are_not_read_again(embedder, corpus_copy, tmp_path, monkeypatch):
    from rag import Engine, Settings

    settings = Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx")
    Engine.open(settings, embedder=embedder, log=None)
    real_now = store_module.time.time_ns
    monkeypatch.setattr(store_module.time, "time_ns", lambda: real_now() + 10**12)  # the files look settled
    Engine.open(settings, embedder=embedder, log=None)  # verifies the articles and records them
    store = IndexStore.load(settings.index_dir)
    corpus = load_corpus(corpus_copy, known=store.known_documents())
    assert corpus.documents and all(isinstance(d, StoredDocument) for d in corpus.documents)
    assert corpus.documents == load_corpus(corpus_copy).documents  # same text, titles, hashes
    changed = sorted(corpus_copy.glob("*.txt"))[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    again = load_corpus(corpus_copy, known=store.known_documents())
    kinds = {d.source: type(d) for d in again.documents}
    assert kinds[changed.name] is Document, "a touched file is read and hashed again"
    assert sum(k is StoredDocument for k in kinds.values()) == len(kinds) - 1
    engine = Engine.open(settings, embedder=embedder, log=None)
    assert engine.build_report is not None and engine.build_report.changed == [changed.stem]


def test_a_file_changed_after_its_check_is_refused_when_read(corpus_copy):
    first = load_corpus(corpus_copy)
    doc = first.documents[0]
    from index.documents import Known, default_title

    known = {doc.source: Known(first.read_stats[doc.source], doc.sha256, default_title(doc.text))}
    stored = load_corpus(corpus_copy, known=known).documents[0]
    assert isinstance(stored, StoredDocument)
    (corpus_copy / doc.source).write_text("Replaced.\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="changed"):
        _ = stored.text


def test_an_open_index_stays_readable_after_its_generation_is_removed(built, tmp_path):
    folder, store = built
    copy = tmp_path / "idx"
    shutil.copytree(folder, copy)
    opened = IndexStore.load(copy)
    first = current_dir(copy)
    IndexStore.load(copy).save(copy)  # a new generation; the one `opened` maps is cleaned up
    assert not first.exists()
    _same_units(opened.sentences.units, store.sentences.units)
    assert dict(opened.story_groups().overlap) == dict(store.story_groups().overlap)
    opened.save(copy)
    _same_units(IndexStore.load(copy).chunks.units, store.chunks.units)


def test_many_threads_reading_one_table_past_its_cache_never_fail(tmp_path, monkeypatch):
    import threading
    import time
    from collections import OrderedDict

    monkeypatch.setattr(unit_table, "ROW_CACHE", 4)  # constant eviction: the race window is wide
    units = [Chunk("d", i * 10, i * 10 + 5, "x" * 5) for i in range(64)]
    unit_table.write(tmp_path, "chunks", units, unit_table.UnitSpans.of(units))
    stored = unit_table.StoredUnits.load(tmp_path, "chunks", Chunk)

    class Yielding(OrderedDict):  # a thread switch right after each lookup, as the OS may do
        def get(self, key, default=None):
            found = super().get(key, default)
            time.sleep(0.0001)
            return found

    stored._cache = Yielding()
    errors: list[BaseException] = []

    def read(seed: int) -> None:
        try:
            for k in range(300):
                r = (seed * 7 + k * 13) % 64
                assert stored[r].start == r * 10
        except BaseException as exc:  # noqa: BLE001  (any failure in a thread fails the test)
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
