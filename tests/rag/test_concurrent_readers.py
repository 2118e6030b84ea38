"""Readers during a rebuild: files that change under a reader make it re-open the newest index.

In process: an engine whose article changed after it opened (it had not read the text yet) answers
from the re-opened index, and gives up after `REOPEN_ATTEMPTS` re-opens. Through the CLI: 20
`rag ask` processes while `rag index` rebuilds after an article grew, and grows again, give 20
answers whose citations slice the files, and none says "run the command again".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import index.store
from index.documents import StoredDocument
from index.errors import CorpusChanged
from index.lock import index_lock
from rag import Engine, Settings
from rag import opening

QUESTION = "How much must partners pay for Ukraine's defence in 2026?"
SOURCE = "001_b62e1636ae29b204.txt"  # the article that answers it
OTHER = "003_44c35423e110a14f.txt"  # another one, grown first
READERS = 20


def grow(path: Path, n: int) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"\nA paragraph added to the article, number {n}, while readers were reading it.\n")


def exact(corpus: Path, citations: list[dict]) -> bool:
    return all(
        (corpus / c["source"]).read_text(encoding="utf-8")[c["start"] : c["end"]] == c["text"] for c in citations
    )


def test_an_article_changed_under_an_open_engine_is_read_again(corpus_copy, tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(index.store, "STAMP_SETTLE_S", 0.0)  # record the copied files as verified at once
    settings = Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "idx")
    Engine.open(settings, embedder=embedder, log=None)  # builds, and records every article as verified
    engine = Engine.open(settings, embedder=embedder, log=None)
    assert all(isinstance(d, StoredDocument) for d in engine.documents)  # texts not read yet
    before = engine.store.folder
    grow(corpus_copy / SOURCE, 1)
    answer = engine.ask(QUESTION)  # reading the article finds it changed: re-open, rebuild, answer
    assert answer.citations and not answer.abstained
    assert exact(corpus_copy, [c.to_dict() for c in answer.citations])
    assert engine.store.folder != before
    assert engine.document(SOURCE.rsplit(".", 1)[0]).text == (corpus_copy / SOURCE).read_text(encoding="utf-8")


def test_a_reader_gives_up_after_three_reopens(engine, monkeypatch):
    reopened = []

    def always_changed(*args, **kwargs):
        raise CorpusChanged(f"{SOURCE} changed while it was being used; run the command again")
        yield  # a generator, as `_answer` is

    monkeypatch.setattr(engine, "_answer", always_changed)
    monkeypatch.setattr(engine, "reopen", lambda: reopened.append(1))
    with pytest.raises(CorpusChanged):
        engine.ask(QUESTION)
    assert len(reopened) == opening.REOPEN_ATTEMPTS == 3


@pytest.mark.subprocess
def test_twenty_readers_during_a_rebuild_all_answer_exactly(corpus_copy, tmp_path):
    """An article grew; 20 readers open the index (the old generation) and find it stale while a
    build holds the write lock, as a long rebuild does. Then the article that answers the question
    grows too, and `rag index` rebuilds: every reader had opened that article unread, so each one
    finds it changed when it reads it, re-opens the newest index and answers from it."""
    index_dir = tmp_path / "idx"
    where = ["--corpus", str(corpus_copy), "--index-dir", str(index_dir)]
    run = [sys.executable, "-m", "rag.cli"]
    built = subprocess.run([*run, "index", *where], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    time.sleep(index.store.STAMP_SETTLE_S + 0.5)
    warm = subprocess.run([*run, "ask", QUESTION, *where], capture_output=True, text=True, timeout=600)
    assert warm.returncode == 0, warm.stderr  # and records the settled articles: readers now read lazily
    grow(corpus_copy / OTHER, 1)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    errors: list[list[str]] = [[] for _ in range(READERS)]
    with index_lock(index_dir):  # a rebuild under way: readers load, find the index stale, and wait
        readers = [
            subprocess.Popen(
                [*run, "ask", "--json", QUESTION, *where],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(READERS)
        ]
        for reader, lines in zip(readers, errors):
            threading.Thread(target=lambda r=reader, out=lines: out.extend(r.stderr), daemon=True).start()
        deadline = time.monotonic() + 600
        while sum(any("waiting for it" in line for line in e) for e in errors) < READERS:
            assert time.monotonic() < deadline and all(r.poll() is None for r in readers), errors
            time.sleep(0.5)
        grow(corpus_copy / SOURCE, 2)  # every reader holds this article unread
        rebuild = subprocess.Popen([*run, "index", *where], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    answers = [(r.stdout.read() if r.stdout else "", r.wait(timeout=900)) for r in readers]
    rebuild.communicate(timeout=900)
    assert rebuild.returncode == 0
    failed = [(code, "".join(e)) for (_, code), e in zip(answers, errors) if code != 0]
    assert not failed, failed[:2]
    reread = sum(any("reading the newest index" in line for line in e) for e in errors)
    assert reread == READERS  # each found the article changed under it, and did not give up
    for (out, _), e in zip(answers, errors):
        err = "".join(e)
        assert "run the command again" not in err and "Traceback" not in err, err
        answer = json.loads(out)
        assert answer["citations"] and not answer["abstained"]
        assert exact(corpus_copy, answer["citations"])
    shutil.rmtree(index_dir, ignore_errors=True)
