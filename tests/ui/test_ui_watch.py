"""`rag ui` and `rag watch`, both started as a user starts them, on one corpus folder: a file written
while the app runs becomes answerable in the app within seconds, without a restart."""

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
from gradio_client import Client


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "news"
ARTICLE = {
    "title": "Iceland opens a geothermal school in Akureyri",
    "published": "2025-12-12",
    "text": "Iceland opened a geothermal training school in Akureyri on Friday, with places for 340 students.\n"
    "The school was paid for by the regional council.",
}
QUESTION = "How many students does the geothermal school in Akureyri have places for?"
READY_S = 600  # models load and the first index is built before either process is ready
ANSWERABLE_S = 10


class Process:
    """A `rag` command in its own process, its stderr read line by line."""

    def __init__(self, *args: str):
        self.lines: list[str] = []
        # One embedding backend for both processes, so neither finds the other's index stale.
        env = {**os.environ, "RAG_EMBED_BACKEND": "torch"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
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
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=120)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def last_text(messages) -> str:
    content = messages[-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def ask(url: str) -> str:
    messages, _, _ = Client(url, verbose=False).predict(QUESTION, [], "extractive", "", "", 5, api_name="/chat")
    return last_text(messages)


@pytest.mark.subprocess
def test_a_file_rag_watch_indexes_is_answered_by_a_rag_ui_started_before(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "idx"
    corpus.mkdir()
    (corpus / "coast.jsonl").write_bytes((FIXTURES / "dated" / "coast.jsonl").read_bytes())
    common = ("--corpus", str(corpus), "--index-dir", str(index_dir))
    watcher = Process("watch", *common)
    app = None
    try:
        watcher.wait_for("watching", READY_S)
        port = free_port()
        app = Process("ui", "--port", str(port), *common)
        app.wait_for("rag ui: ready at", READY_S)
        url = f"http://127.0.0.1:{port}/"
        assert "does not cover" in ask(url)  # not in the corpus yet
        (corpus / "akureyri.jsonl").write_text(json.dumps(ARTICLE) + "\n", encoding="utf-8")
        deadline = time.monotonic() + ANSWERABLE_S
        while "340" not in (answer := ask(url)):
            assert time.monotonic() < deadline, answer + "\n" + "\n".join(watcher.lines + app.lines)
            time.sleep(0.5)
        assert 'href="#rag-c1-1"' in answer  # answered with a citation, by the app started before the file
    finally:
        if app is not None:
            app.stop()
        watcher.stop()
    assert not any("Traceback" in line for line in (app.lines if app else []) + watcher.lines)
