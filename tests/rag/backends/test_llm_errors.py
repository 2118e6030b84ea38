"""Failures talk back clearly: a missing key, an unreachable or slow endpoint, a wrong model.

A tiny OpenAI-compatible HTTP server on 127.0.0.1 plays the provider, so retries, backoff and
timeouts are exercised over a real socket through litellm.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.backends.llm import LiteLLMBackend
from rag.errors import BackendError
from rag.types import Evidence
from rag import spans
from index.documents import Document

DOC = Document("d", "d.txt", "The remaining $60 billion must come from our partners.")
EVIDENCE = [Evidence(1, spans.cite(DOC, 0, len(DOC.text)))]


def _completion(content: str) -> bytes:
    return json.dumps({
        "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }).encode()


class FakeProvider:
    """Answers POST /v1/chat/completions from a script of (status, delay_s) steps, then 200s."""

    def __init__(self, script=(), reply="The remaining $60 billion must come from partners [1]."):
        self.script, self.reply, self.requests = list(script), reply, 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                provider.requests += 1
                status, delay = provider.script.pop(0) if provider.script else (200, 0)
                time.sleep(delay)
                body = _completion(provider.reply) if status == 200 else json.dumps(
                    {"error": {"message": f"status {status}", "type": "error", "code": status}}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_transient_error_is_retried_with_backoff():
    with FakeProvider(script=[(503, 0)]) as provider:
        backend = LiteLLMBackend("openai/fake", provider.api_base, retries=2)
        started = time.monotonic()
        draft = backend.draft("How much?", EVIDENCE)
        waited = time.monotonic() - started
    assert provider.requests == 2 and draft.evidence_ids == (1,)
    assert waited >= 0.5  # the first backoff pause happened (a lower bound, not a speed limit)


def test_retries_run_out_with_a_message_naming_the_backend():
    with FakeProvider(script=[(503, 0)] * 5) as provider:
        with pytest.raises(BackendError, match=r"the litellm backend \(openai/fake at http://127.0.0.1"):
            LiteLLMBackend("openai/fake", provider.api_base, retries=1).draft("How much?", EVIDENCE)
    assert provider.requests == 2


def test_a_refused_key_is_not_retried_and_says_which_setting():
    with FakeProvider(script=[(401, 0)]) as provider:
        with pytest.raises(BackendError, match="API key"):
            LiteLLMBackend("openai/fake", provider.api_base, retries=3).draft("How much?", EVIDENCE)
    assert provider.requests == 1


def test_a_slow_endpoint_times_out_naming_rag_timeout():
    with FakeProvider(script=[(200, 3)]) as provider:
        with pytest.raises(BackendError, match="RAG_TIMEOUT"):
            LiteLLMBackend("openai/fake", provider.api_base, timeout=1, retries=0).draft("How much?", EVIDENCE)


def test_an_unreachable_endpoint_names_rag_api_base():
    backend = LiteLLMBackend("openai/fake", f"http://127.0.0.1:{_closed_port()}/v1", retries=0)
    with pytest.raises(BackendError, match=r"unreachable.*RAG_API_BASE"):
        backend.draft("How much?", EVIDENCE)


def test_a_missing_api_key_is_reported_before_any_request(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendError, match="OPENAI_API_KEY"):
        LiteLLMBackend("openai/gpt-4o-mini", retries=0).draft("How much?", EVIDENCE)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(BackendError, match="ANTHROPIC_API_KEY"):
        LiteLLMBackend("anthropic/claude-3-5-haiku-latest", retries=0).draft("How much?", EVIDENCE)


def test_a_missing_model_names_the_flag_and_the_variable():
    with pytest.raises(BackendError, match=r"--model.*RAG_MODEL"):
        LiteLLMBackend(None)


def test_an_unknown_provider_is_explained():
    with pytest.raises(BackendError, match="provider"):
        LiteLLMBackend("nosuchprovider/model", "http://127.0.0.1:9/v1", retries=0).draft("How much?", EVIDENCE)


def test_settings_choose_the_litellm_backend_from_the_environment():
    from rag.backends import get_backend
    from rag.settings import Settings

    env = {"RAG_BACKEND": "litellm", "RAG_MODEL": "openai/smollm2", "RAG_API_BASE": "http://127.0.0.1:1/v1",
           "RAG_TIMEOUT": "7", "RAG_RETRIES": "0", "RAG_MAX_TOKENS": "50", "RAG_LLM_EVIDENCE": "3"}
    settings = Settings.from_env(env)
    backend = get_backend(settings.backend, settings)
    assert (backend.name, backend.model, backend.api_base) == ("litellm", "openai/smollm2", "http://127.0.0.1:1/v1")
    assert (backend.timeout, backend.retries, backend.max_tokens, backend.max_evidence) == (7.0, 0, 50, 3)


@pytest.mark.subprocess
def test_cli_reports_an_unreachable_endpoint_in_one_line_and_exits_1(engine):
    env_settings = engine.settings
    cmd = [sys.executable, "-m", "rag.cli", "ask", "--corpus", str(env_settings.corpus_dir),
           "--index-dir", str(env_settings.resolved_index_dir), "--backend", "litellm", "--model", "openai/x",
           "--api-base", f"http://127.0.0.1:{_closed_port()}/v1", "How large should Ukraine's peacetime army be?"]
    result = subprocess.run(cmd, capture_output=True, text=True, env={**_env(), "RAG_RETRIES": "0"}, timeout=300)
    assert result.returncode == 1 and result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("rag: the litellm backend (openai/x") and "RAG_API_BASE" in last
    assert "Traceback" not in result.stderr


@pytest.mark.subprocess
def test_cli_without_a_model_fails_before_loading_anything():
    result = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "--backend", "litellm", "How large?"],
                            capture_output=True, text=True, env={k: v for k, v in _env().items() if k != "RAG_MODEL"},
                            timeout=120)
    assert result.returncode == 1 and "RAG_MODEL" in result.stderr and "Traceback" not in result.stderr


def _env() -> dict:
    import os

    return dict(os.environ)
