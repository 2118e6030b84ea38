"""The backend contract: declared capabilities, typed options, one backend per (name, options),
a model switch that leaves the index alone, backends from outside packages, and a per-question
time budget that ends in the extractive answer instead of a long wait."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rag import Engine, Settings, backends
from rag.backends.base import BackendOptions
from rag.backends import available, backend_class, get_backend
from rag.backends.base import Backend, Deadline, Draft
from rag.backends.extractive import ExtractiveBackend
from rag.backends.llm import LiteLLMBackend
from rag.errors import BackendError

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "rag_echo_backend"
QUESTION = "How much must Ukraine's partners pay next year?"


def _fresh(engine: Engine) -> Engine:
    """An engine over the session index with its own backend cache (closing it touches nothing shared)."""
    return Engine(engine.settings, engine.corpus, engine.store, engine.embedder)


class Recording(Backend):
    """Answers with the top evidence sentence; remembers what it was built with and closed."""

    name = "recording"
    built: list[BackendOptions] = []

    def __init__(self, options: BackendOptions):
        self.options, self.closed = options, 0

    @classmethod
    def create(cls, options):
        cls.built.append(options)
        return cls(options)

    def draft(self, question, evidence, *, deadline=None):
        return Draft(evidence[0].text, (evidence[0].id,)) if evidence else Draft("", ())

    def close(self):
        self.closed += 1


@pytest.fixture
def recording():
    Recording.built = []
    backends.register("recording")(Recording)
    yield Recording
    backends.unregister("recording")


# -- the contract ---------------------------------------------------------------------------


def test_capabilities_are_declared_on_the_classes():
    assert (ExtractiveBackend.can_stream, ExtractiveBackend.can_repair) == (False, False)
    assert (LiteLLMBackend.can_stream, LiteLLMBackend.can_repair, LiteLLMBackend.needs_model) == (True, True, True)
    assert {"extractive", "litellm", "local"} <= set(available())
    with pytest.raises(TypeError):
        Backend()  # `draft` is abstract: a backend must write drafts


def test_no_module_probes_a_backend_with_getattr():
    sources = [*sorted((ROOT / "rag" / "backends").glob("*.py")), ROOT / "rag" / "engine.py",
               ROOT / "ui" / "shared_engine.py", ROOT / "ui" / "chat.py"]
    probing = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in sources
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")]
    assert probing == []


def test_options_come_from_settings_and_are_hashable():
    settings = Settings.from_env({"RAG_MODEL": "openai/m", "RAG_API_BASE": "http://127.0.0.1:1/v1", "RAG_TIMEOUT": "7",
                                  "RAG_RETRIES": "0", "RAG_MAX_TOKENS": "50", "RAG_LLM_EVIDENCE": "3"})
    options = BackendOptions.from_settings(settings)
    assert options == BackendOptions("openai/m", "http://127.0.0.1:1/v1", 7.0, 0, 50, 3)
    assert hash(options) == hash(BackendOptions.from_settings(settings))
    assert options.with_model("openai/other").model == "openai/other"
    assert options.with_model("", None) == options  # empty UI fields keep the configured model
    backend = get_backend("litellm", options)
    assert (backend.model, backend.timeout, backend.retries, backend.max_tokens, backend.max_evidence) == \
        ("openai/m", 7.0, 0, 50, 3)


def test_the_default_budget_is_thirty_seconds_for_the_whole_question():
    assert Settings().timeout == 30.0 and BackendOptions().timeout == 30.0


def test_an_unknown_backend_names_the_choices():
    with pytest.raises(BackendError, match=r"unknown backend 'nope'.*extractive.*litellm.*local"):
        backend_class("nope")


def test_a_registered_object_that_is_not_a_backend_is_refused():
    with pytest.raises(BackendError, match="not a subclass"):
        backends.register("bad")(dict)


# -- one backend per (name, options); model switches leave the index alone --------------------


def test_backends_are_built_once_per_name_and_options(engine, recording):
    local = _fresh(engine)
    first = BackendOptions(model="m1")
    assert local.backend("recording", first) is local.backend("recording", BackendOptions(model="m1"))
    assert local.backend("recording", first) is not local.backend("recording", first.with_model("m2"))
    assert [o.model for o in recording.built] == ["m1", "m2"]
    # the extractive backend depends on no option: it is the engine's fallback, whatever the options
    assert local.backend("extractive", first) is local.backend("extractive", first.with_model("m2")) is local.fallback


def test_a_model_switch_rebuilds_no_retrieval_structure(engine, recording, monkeypatch):
    import rag.opening
    from ui.shared_engine import SharedEngine

    local = _fresh(engine)
    built = []
    original = rag.opening.Retriever

    class CountingRetriever(original):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(rag.opening, "Retriever", CountingRetriever)
    shared = SharedEngine(local.settings, local)
    retriever, scorer = local.retriever, local.scorer
    for model, api_base in [("openai/one", "http://127.0.0.1:1/v1"), ("openai/two", ""), ("openai/one", "http://127.0.0.1:1/v1")]:
        with shared.use() as used:
            assert used is local
            answer = used.ask(QUESTION, backend="recording", options=shared.options(model, api_base))
        assert answer.backend == "recording" and answer.citations
    assert built == [] and local.retriever is retriever and local.scorer is scorer
    assert [(o.model, o.api_base) for o in recording.built] == [("openai/one", "http://127.0.0.1:1/v1"),
                                                                ("openai/two", None)]


def test_closing_the_engine_closes_its_backends(engine, recording):
    local = _fresh(engine)
    local.ask(QUESTION, backend="recording")
    (made,) = local.backends.opened.values()
    local.close()
    assert made.closed == 1 and local.backends.opened == {}
    local.ask(QUESTION, backend="recording")  # usable again: a new backend is made on demand
    assert len(recording.built) == 2


def test_the_fallback_is_injected(engine, serve):
    class Broken(Backend):
        def draft(self, question, evidence, *, deadline=None):
            return Draft("Partners must pay $61 billion.", (evidence[0].id,))

    written = []

    class Plain(Backend):
        name = "plain"

        def draft(self, question, evidence, *, deadline=None):
            written.append(evidence[-1].text)
            return Draft(evidence[-1].text, (evidence[-1].id,))

    serve("broken", Broken())
    local = Engine(engine.settings, engine.corpus, engine.store, engine.embedder, fallback=Plain())
    answer = local.ask(QUESTION, backend="broken")
    assert answer.verification == "fallback" and '"$61 billion"' in answer.fallback_reason
    assert written and answer.text == written[-1] != local.ask(QUESTION).text


# -- backends from other packages -----------------------------------------------------------


def _dist_info(folder: Path, name: str, entry_points: str) -> None:
    info = folder / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[rag.backends]\n{entry_points}\n", encoding="utf-8")


def test_a_broken_plugin_is_reported_with_its_package(tmp_path, monkeypatch):
    _dist_info(tmp_path, "rag_broken_plugin", "gone = rag_no_such_module:Gone\nwrong = json:loads")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert {"gone", "wrong"} <= set(available())
    with pytest.raises(BackendError, match=r"'gone' from package rag_broken_plugin.*failed to load"):
        backend_class("gone")
    with pytest.raises(BackendError, match="'wrong'.*not a subclass"):
        backend_class("wrong")


def test_a_plugin_cannot_take_over_a_builtin_name(tmp_path, monkeypatch):
    _dist_info(tmp_path, "rag_greedy_plugin", "extractive = json:loads")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert backend_class("extractive") is ExtractiveBackend


@pytest.mark.subprocess  # pip installs the fixture package, then runs the rag CLI twice
def test_a_third_party_backend_works_from_the_cli_without_editing_rag(engine, tmp_path):
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                          "--no-index", "--target", str(target), str(FIXTURE)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    assert list(target.glob("rag_echo_backend-*.dist-info")), "pip wrote no dist-info"
    settings = engine.settings
    cmd = [sys.executable, "-m", "rag.cli", "ask", "--json", "--corpus", str(settings.corpus_dir),
           "--index-dir", str(settings.resolved_index_dir), "--backend", "echo", QUESTION]
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    without = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**base, "PYTHONPATH": str(ROOT)})
    assert without.returncode == 1 and "unknown backend 'echo'" in without.stderr

    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                            env={**base, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["backend"] == "echo" and data["verification"] == "verified" and data["citations"]
    for c in data["citations"]:
        assert engine.document(c["doc_id"]).text[c["start"]:c["end"]] == c["text"]


# -- the per-question time budget -----------------------------------------------------------


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers: the worst provider there is."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted: list[socket.socket] = []
        self.api_base = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self._stop = threading.Event()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted.append(conn)  # held open, never read from or written to

    def __enter__(self):
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.mark.parametrize("stream", [False, True])
def test_a_silent_server_ends_in_the_extractive_answer_within_the_budget(engine, stream):
    local = _fresh(engine)
    options = BackendOptions(model="openai/silent", timeout=1.0, retries=3)
    with SilentServer() as server:
        options = options.with_model(api_base=server.api_base)
        if stream:
            *_, answer = list(local.ask_stream(QUESTION, backend="litellm", options=options))
        else:
            answer = local.ask(QUESTION, backend="litellm", options=options)
        attempts = len(server.accepted)
    extractive = local.ask(QUESTION)
    assert answer.backend == "litellm" and answer.verification == "fallback" and answer.verified is False
    assert answer.text == extractive.text and answer.citations == extractive.citations
    assert "1 s budget" in answer.fallback_reason and "RAG_TIMEOUT" in answer.fallback_reason
    assert "showing the extractive answer instead" in answer.fallback_reason
    # the budget, not the retry count, decided: a timed-out request is not retried past the deadline
    assert attempts == 1


def test_the_repair_gets_only_what_is_left_of_the_budget(engine, scripted, monkeypatch):
    # The draft is wrong and used up the budget: the repair request is never sent.
    import rag.stages.draft

    _, evidence = engine.evidence(QUESTION)
    i = next(e.id for e in evidence if "$60 billion" in e.text)
    scripted.enqueue(f"Partners must provide $70 billion [{i}].", f"Partners must provide $60 billion [{i}].")
    now = [0.0]
    monkeypatch.setattr(rag.stages.draft, "Deadline", lambda budget: Deadline(budget, clock=lambda: now[0]))
    parse = scripted._draft

    def slow_parse(raw, shown):
        now[0] += 6.0  # the draft took longer than the whole budget
        return parse(raw, shown)

    monkeypatch.setattr(scripted, "_draft", slow_parse)
    answer = engine.ask(QUESTION, backend="scripted", options=BackendOptions(timeout=5.0))
    assert answer.verification == "fallback" and len(scripted.prompts) == 1
    assert '"$70 billion"' in answer.fallback_reason and "its repair" in answer.fallback_reason
    assert "5 s budget (0 attempt(s))" in answer.fallback_reason
