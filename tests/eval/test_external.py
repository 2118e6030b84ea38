"""`rag eval --external DIR` (eval/external.py): the shared question-set format, its scoring, and a
run through the CLI on a made-up set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.external import ExternalSetError, GoldAnswer, ExternalItem, covers_answer, holds_answer, load_set, summarise

TEXT = (
    "The port of Callao opened to foreign ships in 1850. It was built by the engineer Ana Ruiz.\n\n"
    "Lima lies on the Rimac river. The city was founded by Francisco Pizarro in 1535."
)


def make_set(folder: Path) -> Path:
    (folder / "corpus").mkdir(parents=True)
    (folder / "corpus" / "Peru.txt").write_text(TEXT, encoding="utf-8")

    def answer(text: str) -> dict:
        start = TEXT.index(text)
        return {"text": text, "start": start, "end": start + len(text)}

    lines = [
        {
            "id": "q1",
            "source": "Peru.txt",
            "question": "When did the port of Callao open to foreign ships?",
            "impossible": False,
            "answers": [answer("1850")],
        },
        {
            "id": "q2",
            "source": "Peru.txt",
            "question": "Who founded Lima?",
            "impossible": False,
            "answers": [answer("Francisco Pizarro")],
        },
        {
            "id": "q3",
            "source": "Peru.txt",
            "question": "What is the boiling point of mercury?",
            "impossible": True,
            "answers": [],
        },
    ]
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return folder


def test_load_set_reads_the_shared_format(tmp_path):
    items = load_set(make_set(tmp_path / "set"))
    assert [i.id for i in items] == ["q1", "q2", "q3"]
    assert items[0].answers[0].text == "1850" and items[2].impossible


def test_a_folder_without_the_format_is_one_clear_error(tmp_path):
    with pytest.raises(ExternalSetError, match="corpus/ and questions.jsonl"):
        load_set(tmp_path)
    folder = make_set(tmp_path / "set")
    with open(folder / "questions.jsonl", "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    with pytest.raises(ExternalSetError, match="questions.jsonl:4"):
        load_set(folder)


def test_answer_and_evidence_hits_are_folded_text_and_covering_spans():
    item = ExternalItem("x", "a.txt", "q?", False, (GoldAnswer("10th century", 20, 32),))
    assert holds_answer("in the 10th  Century", item)
    assert not holds_answer("in the 11th century", item)
    assert covers_answer([("a.txt", 0, 40)], item)
    assert not covers_answer([("a.txt", 25, 40)], item)  # overlapping is not covering
    assert not covers_answer([("b.txt", 0, 40)], item)


def test_summary_counts_refusals_separately_for_answerable_and_impossible():
    rows = [
        {
            "impossible": False,
            "abstained": False,
            "answer_hit": True,
            "evidence_hit": True,
            "bm25_answer_hit": False,
            "bm25_evidence_hit": False,
            "dense_answer_hit": True,
            "dense_evidence_hit": True,
        },
        {
            "impossible": False,
            "abstained": True,
            "answer_hit": False,
            "evidence_hit": False,
            "bm25_answer_hit": True,
            "bm25_evidence_hit": True,
            "dense_answer_hit": False,
            "dense_evidence_hit": False,
        },
        {
            "impossible": True,
            "abstained": True,
            "answer_hit": False,
            "evidence_hit": False,
            "bm25_answer_hit": False,
            "bm25_evidence_hit": False,
            "dense_answer_hit": False,
            "dense_evidence_hit": False,
        },
    ]
    summary = summarise(rows)
    assert summary["system"] == {
        "answer_hit": 0.5,
        "evidence_hit": 0.5,
        "false_refusal": 0.5,
        "impossible_refused": 1.0,
    }
    assert summary["bm25_top_sentence"]["answer_hit"] == 0.5 and summary["dense_top_sentence"]["answer_hit"] == 0.5


@pytest.mark.subprocess
def test_rag_eval_external_writes_its_report_from_a_real_index(tmp_path):
    folder = make_set(tmp_path / "peru-set")
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rag.cli",
            "eval",
            "--external",
            str(folder),
            "--out",
            str(out),
            "--index-dir",
            str(tmp_path / "idx"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = (out / "external.md").read_text(encoding="utf-8")
    assert "| answer_hit |" in report and "top BM25 sentence" in report
    rows = [json.loads(line) for line in (out / "external_rows.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]
    assert rows[0]["answer_hit"] and "1850" in rows[0]["answer"]
    assert rows[2]["abstained"]  # nothing in the text answers it
