"""`rag watch` as a separate process: a new article becomes answerable while an engine opened
before keeps serving, and Ctrl-C leaves a whole index."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from index.store import IndexStore, current_dir
from rag import Engine, Settings
from rag.watch import wanted

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "news"
NEW_ARTICLE = {
    "title": "Norway opens a seed vault annex on Svalbard",
    "published": "2025-12-12",
    "text": "Norway opened a second seed vault annex on Svalbard on Friday, adding room for 400,000 seed samples.\n"
    "The agriculture ministry said the annex cost 90 million crowns.",
}
QUESTION = "How many seed samples does the new Svalbard annex add room for?"
READY_S = 600  # the watcher loads its models and builds the first index before it watches
ANSWERABLE_S = 10  # the bound: a new file answerable within this long of being written


class RagProcess:
    """A `rag` command in its own process, its stderr read line by line."""

    def __init__(self, *args: str):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            # The test's own engine embeds with the session's torch model: the process must too, or
            # each would find the other's index stale (another embedding model) and rebuild it.
            env={**os.environ, "RAG_EMBED_BACKEND": "torch"},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no {text!r} within {seconds} s:\n" + "\n".join(self.lines)
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=120)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def start_watch(corpus: Path, index_dir: Path) -> RagProcess:
    """`rag watch` on `corpus`."""
    return RagProcess("watch", "--corpus", str(corpus), "--index-dir", str(index_dir))


def indexed(index_dir: Path) -> set[str]:
    manifest = json.loads((current_dir(index_dir) / "manifest.json").read_text(encoding="utf-8"))
    return set(manifest["documents"])


@pytest.mark.subprocess
def test_a_new_file_becomes_answerable_and_a_running_engine_serves_it(tmp_path, embedder):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "idx"
    corpus.mkdir()
    (corpus / "coast.jsonl").write_bytes((FIXTURES / "dated" / "coast.jsonl").read_bytes())
    watcher = start_watch(corpus, index_dir)
    try:
        watcher.wait_for("watching", READY_S)
        running = Engine.open(Settings(corpus_dir=corpus, index_dir=index_dir), embedder=embedder, log=None)
        assert running.ask(QUESTION).abstained  # not in the corpus yet
        (corpus / "svalbard.jsonl").write_text(json.dumps(NEW_ARTICLE) + "\n", encoding="utf-8")
        deadline = time.monotonic() + ANSWERABLE_S
        while "svalbard#1" not in indexed(index_dir):
            assert time.monotonic() < deadline, "\n".join(watcher.lines)
            time.sleep(0.1)
        answer = running.ask(QUESTION)  # the engine opened before takes the new generation
        assert not answer.abstained, answer.to_dict()
        lead = answer.citations[0]
        assert lead.doc_id == "svalbard#1" and "400,000" in lead.text and lead.published == "2025-12-12"
        assert running.document(lead.doc_id).text[lead.start : lead.end] == lead.text
        (corpus / "svalbard.jsonl").unlink()
        deadline = time.monotonic() + ANSWERABLE_S
        while "svalbard#1" in indexed(index_dir):
            assert time.monotonic() < deadline, "\n".join(watcher.lines)
            time.sleep(0.1)
        assert running.ask(QUESTION).abstained
    finally:
        code = watcher.stop()
    assert code == 130, "\n".join(watcher.lines)
    assert any("1 added" in line for line in watcher.lines) and any("1 removed" in line for line in watcher.lines)
    IndexStore.load(index_dir)  # Ctrl-C left a whole index


@pytest.mark.subprocess
def test_ctrl_c_during_a_build_leaves_a_whole_index(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "idx"
    corpus.mkdir()
    (corpus / "coast.jsonl").write_bytes((FIXTURES / "dated" / "coast.jsonl").read_bytes())
    watcher = start_watch(corpus, index_dir)
    try:
        watcher.wait_for("watching", READY_S)
        before = current_dir(index_dir)
        for path in sorted((FIXTURES / "html").glob("*.html")):
            (corpus / path.name).write_bytes(path.read_bytes())
        watcher.wait_for("changed", 30)
    finally:
        code = watcher.stop()  # during the build of five pages, or just after it
    assert code == 130
    store = IndexStore.load(index_dir)
    assert current_dir(index_dir) == before or len(store.manifest.documents) == 7
    assert not [p for p in os.listdir(index_dir) if p.startswith("tmp-")]


def test_only_article_files_and_the_manifest_start_a_build():
    assert all(wanted(p) for p in ("a/b.html", "x.RSS", "d.jsonl", "n.txt", "manifest.json", "f.atom"))
    assert not any(wanted(p) for p in ("a.pdf", "b.json", ".c.swp", "d.html~"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


UI_ARTICLE = {
    "title": "Iceland opens a geothermal school in Akureyri",
    "published": "2025-12-12",
    "text": "Iceland opened a geothermal training school in Akureyri on Friday, with places for 340 students.\n"
    "The school was paid for by the regional council.",
}
UI_QUESTION = "How many students does the geothermal school in Akureyri have places for?"


def _ask_app(url: str) -> str:
    from gradio_client import Client

    messages, _, _ = Client(url, verbose=False).predict(UI_QUESTION, [], "extractive", "", "", 5, api_name="/chat")
    content = messages[-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


@pytest.mark.subprocess
def test_a_file_rag_watch_indexes_is_answered_by_a_rag_ui_started_before(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "idx"
    corpus.mkdir()
    (corpus / "coast.jsonl").write_bytes((FIXTURES / "dated" / "coast.jsonl").read_bytes())
    watcher = start_watch(corpus, index_dir)
    app = None
    try:
        watcher.wait_for("watching", READY_S)
        port = _free_port()
        app = RagProcess("ui", "--port", str(port), "--corpus", str(corpus), "--index-dir", str(index_dir))
        app.wait_for("rag ui: ready at", READY_S)
        url = f"http://127.0.0.1:{port}/"
        assert "does not cover" in _ask_app(url)  # not in the corpus yet
        (corpus / "akureyri.jsonl").write_text(json.dumps(UI_ARTICLE) + "\n", encoding="utf-8")
        deadline = time.monotonic() + ANSWERABLE_S
        while "340" not in (answer := _ask_app(url)):
            assert time.monotonic() < deadline, answer + "\n" + "\n".join(watcher.lines + app.lines)
            time.sleep(0.5)
        assert 'href="#rag-c1-1"' in answer  # answered with a citation, by the app started before the file
    finally:
        if app is not None:
            app.stop()
        watcher.stop()
    assert not any("Traceback" in line for line in (app.lines if app else []) + watcher.lines)
