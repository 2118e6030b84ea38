"""The LLM path against a real model: SmolLM2-135M from its package, served by llama.cpp's
OpenAI-compatible server on 127.0.0.1, called through litellm.

The model is tiny and often wrong, so these tests assert the guarantee, not the wording: every
citation slices exactly, and an answer either has every figure in its cited spans or says
`verified: false` with a reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from rag import Answer
from rag.backends.local import LocalServer, packaged_model_path
from rag.figures import figures, supported_by
from rag.markers import parse_reply, strip_markers

# Every test here needs the real model: marked `llm` (slow), skipped without the local extra.
pytestmark = [pytest.mark.llm, pytest.mark.usefixtures("local_extra")]

QUESTIONS = [
    "How much do Ukrainian officials expect the country's defense to cost in 2026?",
    "How large should Ukraine's peacetime army be?",
]


def assert_guarantee(engine, answer: Answer) -> None:
    """Exact spans always; figures outside the cited spans only ever with verified=False."""
    for c in answer.citations:
        assert engine.document(c.doc_id).text[c.start:c.end] == c.text
    if answer.abstained:
        return
    if answer.verified:
        stated = [f for c in answer.citations for t in (c.text, *(y.text for y in c.corroborated_by))
                  for f in figures(t)]
        unsupported = [f.text for f in figures(strip_markers(answer.text)) if supported_by(f, stated) is None]
        assert unsupported == [], answer.to_dict()
        assert answer.claims and all(c["supported"] and c["citations"] for c in answer.claims)
    else:
        assert answer.fallback_reason and answer.verification in ("fallback", "failed")


def test_the_package_ships_a_gguf_file():
    path = packaged_model_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 10_000_000
    assert path.read_bytes()[:4] == b"GGUF"


def test_the_server_speaks_openai_on_localhost(local_server):
    assert local_server.api_base.startswith("http://127.0.0.1:") and local_server.model == "openai/smollm2"
    with urllib.request.urlopen(f"{local_server.api_base}/models", timeout=10) as r:
        ids = [m["id"] for m in json.load(r)["data"]]
    assert ids == ["smollm2"]


def test_the_server_stops_when_the_block_ends():
    with LocalServer() as server:
        assert server.running
        base = server.api_base
    assert not server.running
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/models", timeout=5)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie nobody reaped has ended)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_python_leaves_no_model_server_behind():
    code = ("import time; from rag.backends.local import LocalServer; "
            "s = LocalServer().start(); print(s.pid, flush=True); time.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert _alive(pid)
    finally:
        parent.kill()  # SIGKILL: no atexit, no finally in the parent
        parent.wait()
    for _ in range(600):  # the server polls for its parent every second; this only bounds a hang
        if not _alive(pid):
            break
        time.sleep(0.1)
    assert not _alive(pid)


def test_the_local_backend_owns_its_server(engine):
    from rag import Engine
    from rag.backends.local import LocalBackend

    local = Engine(engine.settings, engine.corpus, engine.store, engine.embedder)
    backend = local.backend("local")
    assert isinstance(backend, LocalBackend) and backend.server is None  # started lazily
    local.ask(QUESTIONS[1], backend="local")
    server = backend.server
    assert server is not None and server.running
    assert local.backend("local", local.backend_options.with_model("openai/other")) is backend  # model is not its option
    local.close()
    assert not server.running and backend.server is None


@pytest.mark.parametrize("question", QUESTIONS)
def test_answers_from_the_real_model_keep_the_guarantee(llm_engine, question):
    answer = llm_engine.ask(question)
    assert answer.backend == "litellm" and not answer.abstained
    assert answer.verification in ("verified", "repaired", "fallback")
    assert answer.timings["generate_s"] > 0
    assert_guarantee(llm_engine, answer)


def test_streaming_from_the_real_model(llm_engine):
    *pieces, final = list(llm_engine.ask_stream(QUESTIONS[1]))
    assert pieces and all(isinstance(p, str) for p in pieces) and "".join(pieces).strip()
    assert isinstance(final, Answer)
    assert_guarantee(llm_engine, final)


def _cli(engine, *args: str) -> subprocess.CompletedProcess:
    settings = engine.settings
    cmd = [sys.executable, "-m", "rag.cli", "ask", "--json", "--corpus", str(settings.corpus_dir),
           "--index-dir", str(settings.resolved_index_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "RAG_MAX_TOKENS": "120", "RAG_TIMEOUT": "300"})


@pytest.mark.subprocess
def test_cli_litellm_backend_against_an_openai_compatible_server(engine, local_server):
    result = _cli(engine, "--backend", "litellm", "--model", local_server.model, "--api-base", local_server.api_base,
                  QUESTIONS[1])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == "litellm" and isinstance(data["verified"], bool) and data["citations"]
    assert data["verified"] or data["fallback_reason"]
    for c in data["citations"]:
        assert engine.document(c["doc_id"]).text[c["start"]:c["end"]] == c["text"]


@pytest.mark.subprocess
def test_cli_local_backend_starts_its_own_server(engine):
    result = _cli(engine, "--backend", "local", QUESTIONS[0])
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == "local" and isinstance(data["verified"], bool) and data["citations"]
    assert data["verified"] or data["fallback_reason"]


def test_the_local_backend_grammar_makes_every_sentence_cite_a_shown_id(local_engine):
    # The `local` backend (shared server, GBNF grammar) in process, on a question it may well
    # get wrong: whatever it says, each sentence carries an id of the evidence it was shown.
    local = local_engine
    question = QUESTIONS[0]
    *pieces, final = list(local.ask_stream(question))
    _, evidence = local.evidence(question)
    shown = {e.id for e in evidence[: local.settings.llm_evidence]}
    reply = parse_reply("".join(pieces), shown)
    assert reply.claims and all(c.ids for c in reply.claims), reply
    assert reply.dropped_ids == ()
    assert final.backend == "local"
    assert_guarantee(local, final)
