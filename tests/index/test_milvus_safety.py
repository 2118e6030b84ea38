"""A Milvus store never answers from half-written rows, and every Milvus failure is one line.

The build is interrupted before each of its writes in turn (as `test_index_safety.py` interrupts
the FAISS saves), the edited article is put back, and then: a store that still passes the checks
at load holds exactly the clean build's units, and the next build repairs it. Through the CLI as
separate processes (`subprocess` marker): `rag index` killed with `os._exit` at a write, then
`rag ask` and `rag index`; and each refused or unreachable store gives one line and exit 1.

Needs the `scale` extra (pymilvus, milvus-lite); skipped without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.errors import IndexCorrupt, IndexMissing, IndexStale

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from index.build import build_milvus, check_fresh  # noqa: E402
from index.chunking import ChunkSettings  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.milvus_store import (  # noqa: E402
    CHECK_FIELDS,
    META_KEY,
    MilvusStore,
    MilvusTarget,
    MilvusWriter,
    _read_all,
    connect,
    read_manifest,
    row_problems,
)

ROOT = Path(__file__).resolve().parents[2]
WRITES = ("insert", "upsert", "delete", "drop_collection", "create_collection", "create_index", "flush")
EDITED = "002_4b307b057087a346.txt"  # the article the tests edit, then put back
NOTE = "An editor's note added at the top of this story, moving every offset along by a hundred characters.\n"
# The writes of an incremental build after one article changed, in order: its manifest row goes
# first, its units are replaced table by table, its manifest row comes back, then the flushes.
EDIT_WRITES = [
    ("delete", "rag_manifest"),
    ("delete", "rag_chunks"),
    ("insert", "rag_chunks"),
    ("delete", "rag_sentences"),
    ("insert", "rag_sentences"),
    ("upsert", "rag_manifest"),
    ("flush", "rag_chunks"),
    ("flush", "rag_sentences"),
    ("flush", "rag_manifest"),
]
QUESTIONS = (
    "How large should Ukraine's peacetime army be?",
    "Has Russia accepted the framework?",
    "How much must partners pay for Ukraine's defence in 2026?",
)


def unit_terms(text: str) -> list[str]:
    from index.terms import unit_terms as terms

    return terms(text)


def record_writes(monkeypatch, kill_at: int | None = None) -> list[tuple[str, str]]:
    """Every write call of any Milvus client from now on; with `kill_at`, the n-th raises
    KeyboardInterrupt before it runs (a kill between two writes)."""
    from pymilvus import MilvusClient

    calls: list[tuple[str, str]] = []
    for name in WRITES:
        real = getattr(MilvusClient, name)

        def write(self, *args, _real=real, _name=name, **kwargs):
            calls.append((_name, args[0] if args else kwargs.get("collection_name", "")))
            if len(calls) == kill_at:
                raise KeyboardInterrupt(f"simulated kill before write {kill_at} {calls[-1]}")
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(MilvusClient, name, write)
    return calls


def release(target: MilvusTarget) -> None:
    """Close this process's Milvus Lite server for the store, so another process may open it."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(target.uri)


def edit(corpus: Path) -> str:
    path = corpus / EDITED
    original = path.read_text(encoding="utf-8")
    path.write_text(NOTE + original, encoding="utf-8")
    return original


@pytest.fixture(scope="module")
def base_store(tmp_path_factory, embedder, engine):
    """A complete store over `corpus/`, built once; each test copies it."""
    target = MilvusTarget(str(tmp_path_factory.mktemp("milvus-base") / "store.db"))
    build_milvus(load_corpus(ROOT / "corpus"), target, embedder, unit_terms)
    yield Path(target.uri)
    release(target)


@pytest.fixture
def store(base_store, tmp_path):
    copy = tmp_path / "store.db"
    shutil.copytree(base_store, copy)
    target = MilvusTarget(str(copy))
    yield target
    release(target)  # each store opened here runs a Milvus Lite server in this process until released


def assert_clean(loaded: MilvusStore, engine) -> None:
    """The store holds exactly the units and vectors of a clean build of `corpus/`."""
    for name in ("chunks", "sentences"):
        assert list(loaded.table(name).units) == list(engine.store.table(name).units)
        np.testing.assert_allclose(loaded.table(name).vectors, engine.store.table(name).vectors, atol=1e-6)


# -- the writes are ordered; a kill before any of them is caught ---------------------------------


def test_an_edit_is_written_manifest_row_first_and_last(store, corpus_copy, embedder, monkeypatch):
    edit(corpus_copy)
    calls = record_writes(monkeypatch)
    _, report = build_milvus(load_corpus(corpus_copy), store, embedder, unit_terms)
    assert report.changed == [EDITED.removesuffix(".txt")]
    assert calls == EDIT_WRITES


@pytest.mark.parametrize("kill_at", range(1, len(EDIT_WRITES) + 1))
def test_a_build_killed_at_any_write_never_answers_from_the_half_written_store(
    store, corpus_copy, embedder, engine, monkeypatch, kill_at
):
    original = edit(corpus_copy)
    record_writes(monkeypatch, kill_at)
    with pytest.raises(KeyboardInterrupt):
        build_milvus(load_corpus(corpus_copy), store, embedder, unit_terms)
    monkeypatch.undo()
    (corpus_copy / EDITED).write_text(original, encoding="utf-8")  # the article is put back
    corpus = load_corpus(corpus_copy)
    # Whatever the kill left: the store is refused at load or by the corpus check, or it holds
    # exactly the clean units.
    try:
        loaded = MilvusStore.load(store)
        check_fresh(loaded, corpus, embedder.name, ChunkSettings())
    except (IndexCorrupt, IndexStale):
        refused = True
    else:
        refused = False
        assert_clean(loaded, engine)
    # Killed before its first write, the build changed nothing; killed later, it left the article
    # unlisted (stale), or listed as edited (stale once it is put back).
    assert refused == (kill_at > 1)
    # The next build repairs it: the article is re-embedded unless the store was already whole.
    messages: list[str] = []
    _, report = build_milvus(corpus, store, embedder, unit_terms, log=messages.append)
    edited = EDITED.removesuffix(".txt")
    assert (edited in report.changed + report.added + report.repaired) == refused
    assert_clean(MilvusStore.load(store), engine)
    _, again = build_milvus(corpus, store, embedder, unit_terms)
    assert not again.touched and again.embedded_units == 0


def rewrite_rows_only(store: MilvusTarget, corpus: Path, embedder) -> str:
    """The state of the issue, made with the writes of the old order: the article edited, its units
    written again, its manifest row not, and the article put back. Returns its doc_id."""
    from index.build import _split

    original = edit(corpus)
    doc = load_corpus(corpus).get(EDITED.removesuffix(".txt"))
    writer = MilvusWriter(store, unit_terms)
    writer.existing()
    [(_, chunks, sentences)], analyses = _split([doc], ChunkSettings())
    analyses.result()
    for name, units in (("chunks", chunks), ("sentences", sentences)):
        writer.client.delete(store.collection(name), filter=f'doc_id == "{doc.doc_id}"')
        vectors = embedder.embed_many([u.text for u in units])
        writer.client.insert(store.collection(name), writer._rows(doc.doc_id, doc.sha256, units, vectors))
    (corpus / EDITED).write_text(original, encoding="utf-8")
    return doc.doc_id


def test_rows_rewritten_under_the_old_manifest_row_are_refused_and_repaired(store, corpus_copy, embedder, engine):
    """The rows' sha256 gives the state of the issue away, whatever order wrote it."""
    doc_id = rewrite_rows_only(store, corpus_copy, embedder)
    doc = load_corpus(corpus_copy).get(doc_id)
    with pytest.raises(IndexCorrupt, match=rf"{doc.doc_id}: its chunks are of another version.*run 'rag index'"):
        MilvusStore.load(store)
    messages: list[str] = []
    _, report = build_milvus(load_corpus(corpus_copy), store, embedder, unit_terms, log=messages.append)
    assert report.repaired == [doc.doc_id] and not report.changed and "1 repaired" in report.summary()
    [message] = messages
    assert message.startswith(f"repairing the Milvus store {store}: re-embedding {doc_id} ({doc_id}: its chunks ")
    assert message.endswith(f"the manifest says {doc.sha256[:12]}))")
    assert_clean(MilvusStore.load(store), engine)


def test_a_unit_whose_text_is_not_the_file_text_is_refused_by_the_corpus_check(store, corpus_copy, embedder, engine):
    """Rows that agree with the manifest but not with the file (written by something else) are
    caught when the corpus is at hand: at `check_fresh` and at build start."""
    client = connect(store)
    read_manifest(client, store)  # loads the collections
    doc_id = EDITED.removesuffix(".txt")
    row = next(r for r in _read_all(client, store.collection("sentences"), ["pk", *CHECK_FIELDS, "extra", "terms",
                                                                               "vector"]) if r["doc_id"] == doc_id)
    moved = {"start": row["start"] + 7, "end": row["end"] + 7}  # the same length, another place
    client.upsert(store.collection("sentences"), [{k: v for k, v in row.items() if k != "sparse"} | moved])
    loaded = MilvusStore.load(store)  # sha256 and counts agree
    corpus = load_corpus(corpus_copy)
    with pytest.raises(IndexCorrupt, match=f"{doc_id}: a unit's text is not the file's text"):
        check_fresh(loaded, corpus, embedder.name, ChunkSettings())
    _, report = build_milvus(corpus, store, embedder, unit_terms)
    assert report.repaired == [doc_id]
    assert_clean(MilvusStore.load(store), engine)


def test_row_problems_names_missing_extra_and_foreign_rows(store):
    client = connect(store)
    writer = MilvusWriter(store, unit_terms, client)
    writer.existing()
    stored = writer.stored
    rows = {name: _read_all(client, store.collection(name), CHECK_FIELDS) for name in ("chunks", "sentences")}
    assert row_problems(stored, rows) == {}
    doc_id = EDITED.removesuffix(".txt")
    fewer = {**rows, "chunks": [r for r in rows["chunks"] if not (r["doc_id"] == doc_id and r["position"] == 0)]}
    assert "the manifest says" in row_problems(stored, fewer)[doc_id]
    twice = {**rows, "sentences": rows["sentences"] + [r for r in rows["sentences"] if r["doc_id"] == doc_id][:1]}
    assert "sentences, the manifest says" in row_problems(stored, twice)[doc_id]
    assert set(row_problems(stored, {"chunks": [], "sentences": []})) == set(stored.manifest.documents)


def test_a_v1_store_is_rebuilt(store, corpus_copy, embedder, engine):
    client = connect(store)
    read_manifest(client, store)
    [meta] = client.get(store.collection("manifest"), ids=[META_KEY], output_fields=["key", "body"])
    client.upsert(store.collection("manifest"), [{"key": meta["key"], "body": {**meta["body"], "format": "rag-milvus v1"},
                                                  "vector": [0.0, 0.0]}])
    with pytest.raises(IndexCorrupt, match="v1"):
        MilvusStore.load(store)
    _, report = build_milvus(load_corpus(corpus_copy), store, embedder, unit_terms)
    assert "rag-milvus v1" in report.full_rebuild_reason and len(report.added) == 5  # it starts anew
    assert_clean(MilvusStore.load(store), engine)


def test_a_first_build_killed_is_missing_until_rebuilt(tmp_path, embedder, monkeypatch):
    """Two articles into a new store: until the META row, the last write but the flushes, the
    store counts as never built; the next build makes it whole. Killed between a collection and
    its index, once the first article is listed, and before the META row (every kill before the
    META row leaves the same `IndexMissing`)."""
    corpus = tmp_path / "articles"
    corpus.mkdir()
    for name in ("000_75e6e878609b9bfe.txt", EDITED):
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    docs = load_corpus(corpus)
    calls = record_writes(monkeypatch)
    clean, _ = build_milvus(docs, MilvusTarget(str(tmp_path / "clean.db")), embedder, unit_terms)
    monkeypatch.undo()
    release(clean.target)
    meta = max(i for i, call in enumerate(calls, 1) if call == ("upsert", "rag_manifest"))
    assert calls[meta:] == [("flush", "rag_chunks"), ("flush", "rag_sentences"), ("flush", "rag_manifest")]
    first_index = calls.index(("create_index", "rag_chunks")) + 1
    first_listed = calls.index(("upsert", "rag_manifest")) + 1
    for kill_at in (first_index, first_listed, meta):
        target = MilvusTarget(str(tmp_path / f"killed-{kill_at}.db"))
        record_writes(monkeypatch, kill_at)
        with pytest.raises(KeyboardInterrupt):
            build_milvus(docs, target, embedder, unit_terms)
        monkeypatch.undo()
        with pytest.raises(IndexMissing):
            MilvusStore.load(target)
        _, report = build_milvus(docs, target, embedder, unit_terms)
        assert len(report.added) == 2 and not report.unchanged
        rebuilt = MilvusStore.load(target)
        for name in ("chunks", "sentences"):
            assert list(rebuilt.table(name).units) == list(clean.table(name).units)
        release(target)


@pytest.mark.parametrize("kill_at", range(1, 4))
def test_a_removal_killed_at_any_write_is_caught_when_the_article_comes_back(
    store, corpus_copy, embedder, engine, monkeypatch, kill_at
):
    """Removing an article deletes its manifest row, then its units; killed in between and the
    article put back, the store is stale, and the next build adds it again and drops the leftovers."""
    path = corpus_copy / EDITED
    original = path.read_text(encoding="utf-8")
    path.unlink()
    calls = record_writes(monkeypatch, kill_at)
    with pytest.raises(KeyboardInterrupt):
        build_milvus(load_corpus(corpus_copy), store, embedder, unit_terms)
    monkeypatch.undo()
    assert calls[:3] == [("delete", "rag_manifest"), ("delete", "rag_chunks"), ("delete", "rag_sentences")][:kill_at]
    path.write_text(original, encoding="utf-8")
    corpus = load_corpus(corpus_copy)
    if kill_at > 1:
        with pytest.raises(IndexStale):
            check_fresh(MilvusStore.load(store), corpus, embedder.name, ChunkSettings())
    _, report = build_milvus(corpus, store, embedder, unit_terms)
    assert report.added == ([EDITED.removesuffix(".txt")] if kill_at > 1 else [])
    assert_clean(MilvusStore.load(store), engine)


# -- through the CLI, as separate processes -----------------------------------------------------

# `rag index` whose n-th Milvus write ends the process on the spot (no clean-up, no finally).
KILLED_INDEX = f"""
import os, sys
from pymilvus import MilvusClient
kill_at, calls = int(sys.argv[1]), []
for name in {WRITES!r}:
    def write(self, *args, _real=getattr(MilvusClient, name), **kwargs):
        calls.append(1)
        if len(calls) == kill_at:
            os._exit(137)
        return _real(self, *args, **kwargs)
    setattr(MilvusClient, name, write)
from rag.cli import main
sys.exit(main(sys.argv[2:]))
"""


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=600, env=env)


def rag(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return run("-m", "rag.cli", *args, stdin=stdin)


def store_args(corpus: Path, target: MilvusTarget) -> list[str]:
    return ["--corpus", str(corpus), "--store", f"milvus://{target.uri}"]


def assert_exact_answers(result: subprocess.CompletedProcess, corpus: Path, engine) -> None:
    """Every answer cites what a clean index cites, and every citation slices the current file."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == list(QUESTIONS)
    for row in rows:
        expected = engine.ask(row["question"])
        assert [(c["doc_id"], c["start"], c["end"]) for c in row["citations"]] == [
            (c.doc_id, c.start, c.end) for c in expected.citations
        ]
        assert row["answer"] == expected.text
        for c in row["citations"]:
            assert (corpus / c["source"]).read_text(encoding="utf-8")[c["start"] : c["end"]] == c["text"]


def kill_index(store: MilvusTarget, corpus: Path, kill_at: int) -> None:
    release(store)
    original = edit(corpus)
    killed = run("-c", KILLED_INDEX, str(kill_at), "index", *store_args(corpus, store))
    assert killed.returncode == 137, killed.stderr
    (corpus / EDITED).write_text(original, encoding="utf-8")


@pytest.mark.subprocess
def test_cli_ask_after_a_killed_index_answers_exactly(store, corpus_copy, engine):
    """Killed after the edited article's chunks were rewritten, before its sentences: `rag ask`
    sees the article unlisted, rebuilds it (one line says so), and cites what a clean index cites."""
    kill_index(store, corpus_copy, EDIT_WRITES.index(("insert", "rag_sentences")) + 1)
    asked = rag("ask", "--json", "-", *store_args(corpus_copy, store), stdin="\n".join(QUESTIONS) + "\n")
    assert_exact_answers(asked, corpus_copy, engine)
    assert "index is stale" in asked.stderr and "rebuilding" in asked.stderr
    assert_clean(MilvusStore.load(store), engine)


@pytest.mark.subprocess
def test_cli_index_after_a_killed_index_repairs_the_store(store, corpus_copy, engine):
    """Killed with every unit of the edited article rewritten and its manifest row not yet back
    (the window of the issue): the next `rag index` writes the article again."""
    kill_index(store, corpus_copy, EDIT_WRITES.index(("upsert", "rag_manifest")) + 1)
    indexed = rag("index", *store_args(corpus_copy, store))
    assert indexed.returncode == 0, indexed.stderr
    assert "1 added, 0 changed, 0 removed, 4 unchanged" in indexed.stdout
    assert_clean(MilvusStore.load(store), engine)


@pytest.mark.subprocess
def test_cli_ask_on_rows_of_another_version_repairs_and_answers_exactly(store, corpus_copy, embedder, engine):
    """The state of the issue, where one answer cited the middle of another sentence with
    `verified: true`: `rag ask` names the mismatch in one line, rebuilds the article (one more line
    says so), and answers as a clean index does; the store is then whole."""
    doc_id = rewrite_rows_only(store, corpus_copy, embedder)
    release(store)
    asked = rag("ask", "--json", "-", *store_args(corpus_copy, store), stdin="\n".join(QUESTIONS) + "\n")
    assert_exact_answers(asked, corpus_copy, engine)
    [line] = [line for line in asked.stderr.splitlines() if "does not match its manifest" in line]
    assert doc_id in line and "another version of the file" in line and line.endswith("rebuilding")
    [repair] = [line for line in asked.stderr.splitlines() if "repairing" in line]
    assert f"re-embedding {doc_id} (" in repair
    assert_clean(MilvusStore.load(store), engine)


@pytest.mark.subprocess
@pytest.mark.parametrize("verb", ["ask", "index"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_cli_an_unreachable_server_is_one_line(verb, scheme, corpus_copy):
    args = ["ask", "Who leads the delegation?"] if verb == "ask" else ["index"]
    result = rag(*args, "--corpus", str(corpus_copy), "--store", f"{scheme}://127.0.0.1:1")
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"rag: cannot reach the Milvus server at {scheme}://127.0.0.1:1 (")
    assert "--store or RAG_STORE" in line


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


@pytest.mark.subprocess
@pytest.mark.parametrize("verb", ["ask", "index"])
@pytest.mark.parametrize(
    "case, path, words",
    [
        ("a file", "text.db", "{path} is a file, not a Milvus Lite database"),
        ("a path part that is a file", "corpus/manifest.json/x.db", "{corpus}/manifest.json is a file, not a folder"),
        ("inside the corpus", "corpus/sub/x.db", "is inside the corpus folder {corpus}"),
        ("the corpus folder", "corpus.db", "is the corpus folder"),
        ("a foreign folder", "mine.db", "holds other files (thesis.txt), not a Milvus Lite database"),
        ("a dangling link", "gone.db", "is a link that leads nowhere"),
    ],
)
def test_cli_a_store_path_that_is_not_ours_is_refused_in_one_line(verb, case, path, words, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (tmp_path / "text.db").write_text("not a database\n", encoding="utf-8")
    (tmp_path / "mine.db").mkdir()
    (tmp_path / "mine.db" / "thesis.txt").write_text("x\n", encoding="utf-8")
    (tmp_path / "gone.db").symlink_to(tmp_path / "nowhere")
    (tmp_path / "corpus.db").symlink_to(corpus, target_is_directory=True)
    before = snapshot(tmp_path)
    args = ["ask", "Who leads the delegation?"] if verb == "ask" else ["index"]
    result = rag(*args, "--corpus", str(corpus), "--store", f"milvus://{tmp_path / path}")
    assert result.returncode == 1 and result.stdout == "", case
    [line] = result.stderr.splitlines()
    assert line.startswith(f"rag: store milvus://{tmp_path / path}")
    assert words.format(path=tmp_path / path, corpus=corpus) in line and "--store or RAG_STORE" in line
    assert snapshot(tmp_path) == before  # nothing was written anywhere


@pytest.mark.subprocess
def test_cli_a_store_another_process_holds_is_one_line(store, corpus_copy):
    MilvusStore.load(store)  # this process holds it open: Milvus Lite allows one process
    result = rag("ask", "Who leads the delegation?", *store_args(corpus_copy, store))
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "another process has it open" in line and f"milvus://{store.uri}" in line
    debug = rag("ask", "Who leads the delegation?", *store_args(corpus_copy, store), "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "StoreUnavailable" in debug.stderr
