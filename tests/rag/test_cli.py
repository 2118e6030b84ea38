"""The CLI contract other tools depend on: JSON shape, stdin batch mode, exit codes; and its shape:
verbs of `eval` and `ui` arrive through the `rag.commands` entry points, never by import."""

from __future__ import annotations

import argparse
import ast
import io
import json
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from index.store import current_dir

from rag import cli
from rag.errors import BackendError
from index.errors import CorpusError
from rag.progress import PlainProgress, stderr_progress
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

CONTRACT = {"question": str, "answer": str, "abstained": bool, "backend": str, "citations": list}
CITATION = {"doc_id": str, "source": str, "start": int, "end": int, "text": str}


def rag(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], input=stdin, capture_output=True,
                          text=not isinstance(stdin, bytes), timeout=600)


@pytest.fixture(scope="module")
def index_args(engine) -> list[str]:
    return ["--corpus", str(engine.settings.corpus_dir), "--index-dir", str(engine.settings.resolved_index_dir)]


@pytest.mark.subprocess
def test_stdin_batch_gives_one_json_object_per_question_in_order(index_args, corpus_dir):
    questions = ["How many nations have promised equipment and help once a truce holds?",
                 "What is the boiling point of mercury?",
                 "What did Friedrich Merz say Germany's contribution would depend on?"]
    result = rag("ask", "--json", "-", *index_args, stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == questions
    for row in rows:
        for key, kind in CONTRACT.items():
            assert isinstance(row[key], kind), key
        assert row["backend"] == "extractive"
        for c in row["citations"]:
            for key, kind in CITATION.items():
                assert isinstance(c[key], kind), key
            text = (corpus_dir / c["source"]).read_bytes().decode("utf-8")
            assert text[c["start"] : c["end"]] == c["text"]
            assert c["doc_id"] == c["source"].rsplit(".", 1)[0]
    assert not rows[0]["abstained"] and rows[0]["citations"]
    assert rows[1]["abstained"] and rows[1]["citations"] == []


@pytest.mark.subprocess
def test_human_output_shows_answer_and_bracketed_citations(index_args):
    result = rag("ask", "How large should Ukraine's peacetime army be?", *index_args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Short answer: 800,000 [0") and ".txt:" in lines[0]  # the filler's own span
    assert "800,000" in lines[1]
    assert lines[2].startswith("  [0") and ".txt:" in lines[2]


@pytest.mark.subprocess
def test_a_refusal_prints_the_closest_passages_labelled_as_no_answer(index_args, corpus_dir):
    human = rag("ask", "What did the Pope say about the framework?", *index_args)
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert "does not cover" in lines[0] and lines[1] == "  Closest passages, not an answer:"
    assert lines[2].startswith("  [0") and ".txt:" in lines[2]
    data = json.loads(rag("ask", "--json", "What did the Pope say about the framework?", *index_args).stdout)
    assert data["abstained"] is True and data["citations"] == [] and data["closest"]
    for c in data["closest"]:
        assert (corpus_dir / c["source"]).read_text(encoding="utf-8")[c["start"] : c["end"]] == c["text"]


@pytest.mark.subprocess
def test_debug_json_traces_the_decision_and_plain_json_does_not(index_args):
    question = "How many troops does Russia have in Ukraine?"
    plain = json.loads(rag("ask", "--json", question, *index_args).stdout)
    assert "trace" not in plain and plain["refusal_reason"] == "structure"
    traced = json.loads(rag("ask", "--json", "--debug", question, *index_args).stdout)
    trace = traced["trace"]
    assert trace["ask"]["relation"] == "figure" and trace["refusal_reason"] == "structure"
    assert {"by", "source", "start", "end"} <= set(trace["dropped"][0])
    assert any(d["by"].startswith("structure (wrong_owner") for d in trace["dropped"])
    answered = json.loads(rag("ask", "--json", "--debug", "How large should Ukraine's peacetime army be?", *index_args).stdout)
    first = answered["trace"]["candidates"][0]
    assert 0.0 < first["probability"] < 1.0 and set(first["features"]) >= {"support", "type_found", "clears_support"}
    assert answered["refusal_reason"] == "" and "retrieve_s" in answered["trace"]["timings"]


@pytest.mark.subprocess
@pytest.mark.parametrize("question", ["", "   ", "x" * 1001])
def test_bad_question_exits_2_with_nothing_on_stdout(question, index_args):
    result = rag("ask", question, "--json", *index_args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("rag: ") and "question" in result.stderr


@pytest.mark.subprocess
def test_a_bad_byte_in_real_stdin_costs_only_its_line(index_args):
    stdin = b"How large should Ukraine's peacetime army be?\nWho \xff leads?\n" + b"y" * 2000 + b"\n"
    result = rag("ask", "--json", "-", *index_args, stdin=stdin)
    assert result.returncode == 2, result.stderr
    rows = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert "800,000" in rows[0]["answer"]
    assert rows[1]["line"] == 2 and "UTF-8" in rows[1]["error"]
    assert rows[2]["line"] == 3 and "1000" in rows[2]["error"]
    assert b"Traceback" not in result.stderr


@pytest.mark.subprocess
def test_index_reports_bad_files_and_exits_nonzero(corpus_copy, tmp_path):
    (corpus_copy / "broken.txt").write_bytes(b"\xff\xfe\x00bad")
    result = rag("index", "--corpus", str(corpus_copy), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 1
    assert "broken.txt" in result.stderr and "UTF-8" in result.stderr
    assert "5 added" in result.stdout
    assert (current_dir(tmp_path / "idx") / "manifest.json").exists()


@pytest.mark.subprocess
def test_missing_corpus_is_one_line_error(tmp_path):
    result = rag("ask", "Who?", "--corpus", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


# -- registration: rag/ and index/ never import their clients ------------------------------------


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in
              ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    return names


@pytest.mark.parametrize("package", ["rag", "index"])
def test_lower_packages_import_nothing_from_ui_or_eval(package):
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = sorted(m for m in _imported_modules(path) if m.split(".")[0] in ("ui", "eval"))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_the_import_scan_sees_all_three_forms(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import ui.app\nfrom eval import runner\nimportlib.import_module('ui.chat')\nfrom . import x\n")
    assert _imported_modules(module) == {"ui.app", "eval", "ui.chat"}


def declared_commands() -> list[EntryPoint]:
    """The `rag.commands` entry points as pyproject.toml declares them (installed or not)."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = table["project"]["entry-points"][cli.COMMAND_GROUP]
    return [EntryPoint(name, value, cli.COMMAND_GROUP) for name, value in declared.items()]


def test_pyproject_registers_eval_and_ui():
    assert {ep.name: ep.value for ep in declared_commands()} == {
        "eval": "eval.runner:register", "ui": "ui.app:register"}


def test_installed_commands_match_pyproject():
    installed = {name: ep.value for name, ep in cli.installed_commands().items()}
    declared = {ep.name: ep.value for ep in declared_commands()}
    assert installed == declared, "the installed entry points are stale: run pip install -e . again"


@pytest.mark.parametrize("verb, flag", [("eval", "--judge"), ("ui", "--port")])
def test_registered_verbs_answer_help(verb, flag, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.build_parser(declared_commands()).parse_args([verb, "--help"])
    assert stop.value.code == 0
    assert flag in capsys.readouterr().out


def test_registered_verbs_bring_their_handlers():
    import eval.runner

    parser = cli.build_parser([ep for ep in declared_commands() if ep.name == "eval"])
    args = parser.parse_args(["eval", "--gate", "--backend", "extractive,litellm", "--debug"])
    assert args.func is eval.runner.main and args.gate and args.backend == "extractive,litellm" and args.debug


def test_only_the_verb_being_run_is_loaded():
    installed = {ep.name: ep for ep in declared_commands()}
    assert cli._commands_for(["--debug", "ask", "ui"], installed) == []
    assert [ep.name for ep in cli._commands_for(["--debug", "ui", "--port", "1"], installed)] == ["ui"]
    assert sorted(ep.name for ep in cli._commands_for(["--help"], installed)) == ["eval", "ui"]


def test_a_command_that_cannot_load_fails_only_when_run(capsys):
    broken = EntryPoint("broken", "no_such_module_here:register", cli.COMMAND_GROUP)
    args = cli.build_parser([broken]).parse_args(["ask", "Who?"])
    assert args.func is cli.cmd_ask
    args = cli.build_parser([broken]).parse_args(["broken"])
    with pytest.raises(cli.RagError, match="pip install -e"):
        args.func(args)


def test_an_unknown_verb_names_the_choices_and_the_entry_point_group(capsys):
    assert cli.main(["nosuchverb"]) == 2
    err = capsys.readouterr().err
    assert "'nosuchverb'" in err and "index, ask" in err and "rag.commands" in err


# -- global flags before or after the verb -------------------------------------------------------


@pytest.mark.parametrize("argv, debug", [
    (["ask", "Who?"], False),
    (["--debug", "ask", "Who?"], True),
    (["ask", "--debug", "Who?"], True),
    (["ask", "Who?", "--debug"], True),
    (["index", "--debug"], True),
])
def test_debug_is_accepted_before_or_after_the_verb(argv, debug):
    assert cli.build_parser([]).parse_args(argv).debug is debug


def test_debug_after_the_verb_shows_the_traceback(tmp_path, capsys):
    argv = ["ask", "Who?", "--corpus", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "idx")]
    assert cli.main(argv) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(CorpusError):
        cli.main([*argv, "--debug"])


# -- stdin batches: one bad line costs only that line ---------------------------------------------


class FakeAnswer:
    def __init__(self, question: str) -> None:
        self.question, self.text, self.citations, self.verified = question, f"answer to {question}", [], True
        self.statements, self.conflicts = (), ()  # the answer card (rag.agreement): none here
        self.closest = ()  # shown only with a refusal
        self.short = None  # the short answer (rag.short_answer): none here

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": f"answer to {self.question}"}


class FakeEngine:
    """Answers every question except those containing 'FAIL', which raise a backend error."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def ask(self, question: str, k=None, backend=None) -> FakeAnswer:
        self.asked.append(question)
        if "FAIL" in question:
            raise BackendError("the backend is down; check RAG_API_BASE")
        return FakeAnswer(question)


@pytest.fixture
def batch(monkeypatch, capsys, tmp_path):
    """Run `rag ask -` on these stdin bytes with a fake engine: (exit code, stdout rows, engine, stderr)."""
    def run(data: bytes, *flags: str, engine: FakeEngine | None = None):
        opened = []

        def open_engine(settings):
            opened.append(engine or FakeEngine())
            return opened[-1]

        monkeypatch.setattr(cli, "_open_engine", open_engine)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        code = cli.main(["ask", "-", *flags, "--corpus", str(tmp_path)])
        out, err = capsys.readouterr()
        rows = [json.loads(line) for line in out.splitlines()] if "--json" in flags else out.splitlines()
        return code, rows, opened[0] if opened else None, err
    return run


def test_bad_lines_get_error_objects_with_line_numbers_and_the_rest_are_answered(batch):
    data = b"".join([b"First question?\n", b"bad \xff byte?\n", b"\n", b"   \n", b"x" * 1001 + b"\n",
                     b"y" * 50_000 + b"\n", "Último question?\r\n".encode("utf-8"), b"no newline at the end?"])
    code, rows, engine, _ = batch(data, "--json")
    assert code == 2
    assert len(rows) == 8
    assert rows[0] == {"question": "First question?", "answer": "answer to First question?"}
    assert rows[1]["line"] == 2 and "UTF-8" in rows[1]["error"] and "0xff" in rows[1]["error"]
    assert rows[2]["line"] == 3 and "empty" in rows[2]["error"]
    assert rows[3]["line"] == 4 and "empty" in rows[3]["error"]
    assert rows[4]["line"] == 5 and "1001 characters" in rows[4]["error"]
    assert rows[5]["line"] == 6 and "longer than 1000" in rows[5]["error"]
    assert rows[6]["question"] == "Último question?"
    assert rows[7]["question"] == "no newline at the end?"
    assert engine.asked == ["First question?", "Último question?", "no newline at the end?"]


def test_a_batch_of_only_bad_lines_loads_no_model(batch):
    code, rows, engine, _ = batch(b"\n\xfe\n", "--json")
    assert code == 2 and engine is None
    assert [r["line"] for r in rows] == [1, 2]


def test_a_failing_answer_costs_its_line_and_exits_1(batch):
    code, rows, _, _ = batch(b"one?\nplease FAIL\n\xff\nthree?\n", "--json")
    assert code == 1
    assert rows[0]["question"] == "one?" and rows[3]["question"] == "three?"
    assert rows[1] == {"line": 2, "error": "the backend is down; check RAG_API_BASE"}
    assert rows[2]["line"] == 3


def test_a_clean_batch_exits_0(batch):
    code, rows, _, _ = batch(b"one?\ntwo?\n", "--json")
    assert code == 0 and [r["question"] for r in rows] == ["one?", "two?"]


def test_without_json_a_bad_line_is_named_on_stderr(batch):
    code, lines, engine, err = batch(b"\xff\nfine?\n")
    assert code == 2 and engine.asked == ["fine?"]
    assert lines == ["answer to fine?"]
    assert err.startswith("rag: line 1: the line is not valid UTF-8")


def test_read_batch_skips_the_rest_of_an_over_long_line_only():
    stream = io.BytesIO(b"z" * 100_000 + b"\nnext?\n")
    assert [(n, q) for n, q, _ in cli.read_batch(stream, 10)] == [(1, None), (2, "next?")]


# -- settings from flags, in one place -----------------------------------------------------------


def test_settings_from_args_maps_flags_over_the_environment(tmp_path):
    args = argparse.Namespace(corpus=tmp_path, index_dir=None, backend="litellm", model="openai/m",
                              api_base=None, k=3, json=True)
    settings = Settings.from_args(args, {"RAG_API_BASE": "http://127.0.0.1:1/v1", "RAG_MODEL": "openai/env"})
    assert (settings.corpus_dir, settings.backend, settings.model, settings.top_k) == (tmp_path, "litellm", "openai/m", 3)
    assert settings.api_base == "http://127.0.0.1:1/v1" and settings.index_dir is None
    assert Settings.from_args(args, {}, backend=None).backend == "extractive"
    assert Settings.from_args(argparse.Namespace(), {}).top_k == 5  # a verb without those flags


class Built(Exception):
    """Raised by the patched `Settings.from_args` to stop a command right after it built its settings."""


@pytest.fixture
def settings_calls(monkeypatch):
    calls: list[argparse.Namespace] = []

    def record(cls, args, environ=None, **overrides):
        calls.append(args)
        raise Built

    monkeypatch.setattr(Settings, "from_args", classmethod(record))
    return calls


@pytest.mark.parametrize("argv", [["index"], ["ask", "Who?"], ["ask", "-"]])
def test_builtin_verbs_build_settings_from_args(argv, settings_calls):
    with pytest.raises(Built):
        cli.main(argv)
    assert settings_calls[0].command == argv[0]


@pytest.mark.parametrize("verb", ["eval", "ui"])
def test_registered_verbs_build_settings_from_args(verb, settings_calls):
    args = cli.build_parser(declared_commands()).parse_args([verb])
    with pytest.raises(Built):
        args.func(args)
    assert settings_calls == [args]


# -- progress on stderr when it is not a terminal ------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_piped_progress_prints_rate_and_eta_every_interval():
    clock, out = FakeClock(), io.StringIO()
    progress = PlainProgress(out, interval=5.0, clock=clock)
    for seconds, done in [(0, 100), (2, 380), (4.9, 790), (5, 800), (7, 1080), (10.5, 1570), (60, 9000)]:
        clock.now = 100.0 + seconds
        progress(done, 9000)
    lines = out.getvalue().splitlines()
    assert lines == [
        "embedding 800/9000 units, 140 units/s, ETA 59 s",
        "embedding 1570/9000 units, 140 units/s, ETA 53 s",
        "embedding 9000/9000 units, 148 units/s, done in 60 s",
    ]


def test_a_quick_build_prints_nothing():
    clock, out = FakeClock(), io.StringIO()
    progress = PlainProgress(out, clock=clock)
    for seconds, done in [(0, 64), (1, 128), (2.5, 150)]:
        clock.now = 100.0 + seconds
        progress(done, 150)
    assert out.getvalue() == ""


def test_stderr_progress_is_plain_when_not_a_terminal():
    progress, close = stderr_progress(io.StringIO())
    assert isinstance(progress, PlainProgress)
    close()
