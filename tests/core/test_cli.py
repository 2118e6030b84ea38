"""The CLI contract other tools depend on: JSON shape, stdin batch mode, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from index.store import current_dir

CONTRACT = {"question": str, "answer": str, "abstained": bool, "backend": str, "citations": list}
CITATION = {"doc_id": str, "source": str, "start": int, "end": int, "text": str}


def rag(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def index_args(engine) -> list[str]:
    return ["--corpus", str(engine.settings.corpus_dir), "--index-dir", str(engine.settings.resolved_index_dir)]


def test_stdin_batch_gives_one_json_object_per_question_in_order(index_args, corpus_dir):
    questions = ["How many nations have promised equipment and help once a truce holds?",
                 "What is the boiling point of mercury?",
                 "What did Friedrich Merz say Germany's contribution would depend on?"]
    result = rag("ask", "--json", "-", *index_args, stdin="\n".join(questions) + "\n\n")
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


def test_human_output_shows_answer_and_bracketed_citations(index_args):
    result = rag("ask", "How large should Ukraine's peacetime army be?", *index_args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "800,000" in lines[0]
    assert lines[1].startswith("  [0") and ".txt:" in lines[1]


@pytest.mark.parametrize("question", ["", "   ", "x" * 1001])
def test_bad_question_exits_2_with_nothing_on_stdout(question, index_args):
    result = rag("ask", question, "--json", *index_args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("rag: ") and "question" in result.stderr


def test_bad_line_in_stdin_batch_fails_before_any_answer(index_args):
    result = rag("ask", "--json", "-", *index_args, stdin="Who leads the force?\n" + "y" * 2000 + "\n")
    assert result.returncode == 2 and result.stdout == ""


def test_index_reports_bad_files_and_exits_nonzero(corpus_copy, tmp_path):
    (corpus_copy / "broken.txt").write_bytes(b"\xff\xfe\x00bad")
    result = rag("index", "--corpus", str(corpus_copy), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 1
    assert "broken.txt" in result.stderr and "UTF-8" in result.stderr
    assert "5 added" in result.stdout
    assert (current_dir(tmp_path / "idx") / "manifest.json").exists()


def test_missing_corpus_is_one_line_error(tmp_path):
    result = rag("ask", "Who?", "--corpus", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "idx"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
