"""The served app through `gradio_client` and plain HTTP: endpoints, sessions, privacy."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from rag.cli import build_parser

QUESTION = "How much must partners pay for Ukraine's defence in 2026?"


def client_for(server) -> Client:
    return Client(server.url, verbose=False)


def chat(client: Client, question: str, messages=None, backend="extractive", k=5):
    return client.predict(question, messages or [], backend, "", "", k, api_name="/chat")


def last_text(messages) -> str:
    content = messages[-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_only_the_intended_endpoints_are_public(ui_server):
    endpoints = client_for(ui_server).view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert sorted(endpoints) == ["/answer", "/chat", "/rebuild"]


def test_chat_answers_with_markers_and_follow_ups_use_the_session(ui_server, engine):
    client = client_for(ui_server)
    messages, passages, box = chat(client, QUESTION)
    assert box == ""
    expected = engine.ask(QUESTION)
    assert 'href="#rag-c1-1"' in last_text(messages)
    assert expected.citations[0].text.replace("'", "&#x27;").replace('"', "&quot;")[:40] in last_text(messages)
    assert "cited [1]" in passages
    messages, passages, _ = chat(client, "and what about Germany?", messages)
    assert "Searched for: How much must partners pay" in passages
    assert 'href="#rag-c2-' in last_text(messages) or "no answer in the corpus" in last_text(messages)
    # Another client is another session: no history, so the follow-up is searched on its own.
    _, fresh_passages, _ = chat(client_for(ui_server), "and what about Germany?")
    assert "Searched for:" not in fresh_passages


def test_chat_streams_intermediate_updates(ui_server):
    job = client_for(ui_server).submit(QUESTION, [], "extractive", "", "", 5, api_name="/chat")
    final = job.result(timeout=120)
    outputs = job.outputs()
    assert len(outputs) >= 3  # pending, streamed text, final answer
    assert "Searching the articles" in last_text(outputs[0][0])
    assert any("rag-notice-streaming" in last_text(o[0]) for o in outputs[1:-1])
    assert "rag-answer" in last_text(final[0])


def test_bad_input_and_backend_errors_are_messages_and_the_app_keeps_serving(engine, serve_app, closed_port, monkeypatch):
    from ui.endpoints import Endpoint, EndpointPolicy

    monkeypatch.setattr("rag.backends.llm.BACKOFF_S", 0.0)  # the refused calls' retries need no pause here
    down = Endpoint("down", "openai/none", f"http://127.0.0.1:{closed_port}/v1")
    client = client_for(serve_app(engine, endpoints=EndpointPolicy((down,))))
    messages, _, _ = chat(client, "   ")
    assert "Type a question first" in last_text(messages)
    messages, _, _ = chat(client, "x" * (engine.settings.max_question_chars + 1))
    assert "over the limit" in last_text(messages)
    # An offered model server where nothing listens fails; the chat says so, without its address.
    messages, _, _ = client.predict(QUESTION, [], "litellm", "down", "", 5, api_name="/chat")
    text = last_text(messages)
    assert "litellm backend failed: could not connect to the model server" in text
    assert "Traceback" not in text and str(closed_port) not in text
    messages, _, _ = chat(client, QUESTION)
    assert 'href="#rag-c1-1"' in last_text(messages)


def test_answer_endpoint_returns_the_cli_json_with_exact_spans(ui_server, engine):
    data = client_for(ui_server).predict(QUESTION, "extractive", 5, api_name="/answer")
    assert data == engine.ask(QUESTION).to_dict() | {"timings": data["timings"]}
    for c in data["citations"]:
        assert engine.document(c["doc_id"]).text[c["start"]:c["end"]] == c["text"]
    with pytest.raises(AppError, match="can't be used"):
        client_for(ui_server).predict("", "extractive", 5, api_name="/answer")


@pytest.mark.parametrize("method,path", [
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file=/etc/passwd"),
    ("GET", "/gradio_api/file={corpus_file}"),
    ("GET", "/gradio_api/file/{corpus_file}"),
    ("GET", "/gradio_api/proxy=http://example.com/"),
    ("GET", "/gradio_api/file=http://example.com/"),
    ("GET", "/gradio_api/runs"),
    ("GET", "/monitoring"),
])
def test_files_uploads_and_url_fetching_are_refused(ui_server, corpus_dir, method, path):
    corpus_file = sorted(corpus_dir.glob("*.txt"))[0].resolve()
    url = ui_server.url.rstrip("/") + path.format(corpus_file=corpus_file)
    files = {"files": ("a.txt", b"hello")} if method == "POST" else None
    response = httpx.request(method, url, files=files, timeout=10)
    assert response.status_code == 403
    assert "does not accept, serve or fetch files" in response.text


def test_the_page_itself_is_served(ui_server):
    response = httpx.get(ui_server.url, timeout=10)
    assert response.status_code == 200 and "<gradio-app" in response.text


def test_local_and_private_by_default(ui_server):
    assert build_parser().parse_args(["ui"]).host == "127.0.0.1"
    assert ui_server.app.server_name == "127.0.0.1"
    assert ui_server.app.share is False
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert ui_server.app.analytics_enabled is False


def test_rebuild_endpoint_picks_up_a_new_article(tmp_path, corpus_dir, embedder, serve_app):
    from rag import Engine, Settings

    folder = tmp_path / "corpus"
    folder.mkdir()
    first, second = sorted(corpus_dir.glob("*.txt"))[:2]
    shutil.copy(first, folder / first.name)
    engine = Engine.open(Settings(corpus_dir=folder, index_dir=tmp_path / "idx"), embedder=embedder, log=None)
    client = client_for(serve_app(engine))
    shutil.copy(second, folder / second.name)
    status, table = client.predict(api_name="/rebuild")
    assert status.startswith("Index rebuilt: 1 added, 0 changed, 0 removed, 1 unchanged")
    assert table.count("<tr>") == 3  # header + two articles
    assert second.name in table


def test_app_that_cannot_open_its_corpus_still_serves_and_explains(tmp_path, serve_app):
    from rag import Settings
    from ui.shared_engine import SharedEngine

    empty = tmp_path / "empty"
    empty.mkdir()
    served = serve_app(SharedEngine(Settings(corpus_dir=empty, index_dir=tmp_path / "idx")))
    client = client_for(served)
    messages, _, _ = chat(client, QUESTION)
    assert str(empty) in last_text(messages) and "Rebuild index" in last_text(messages)
    status, table = client.predict(api_name="/rebuild")
    assert status.startswith("Rebuild failed") and "No articles are loaded" in table
    assert httpx.get(served.url, timeout=10).status_code == 200


@pytest.mark.subprocess
def test_rag_ui_command_serves_on_localhost_until_interrupted(engine, closed_port):
    """What a new user runs: `rag ui`, then a question through the page's endpoint, then Ctrl-C."""
    import signal
    import subprocess
    import sys
    import threading

    port = closed_port
    command = [sys.executable, "-m", "rag.cli", "ui", "--port", str(port),
               "--corpus", str(engine.settings.corpus_dir), "--index-dir", str(engine.settings.resolved_index_dir)]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "rag ui: ready at" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(240), f"rag ui did not start: {''.join(lines)[-2000:]}"
        url = f"http://127.0.0.1:{port}/"
        assert f"rag ui: ready at {url}" in "".join(lines)
        messages, _, _ = chat(Client(url, verbose=False), QUESTION)
        assert 'href="#rag-c1-1"' in last_text(messages)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0
    assert "Traceback" not in "".join(lines)
