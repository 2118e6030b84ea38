"""`rag eval` end to end on the real engine: the report, the gate, and planted regressions."""

from __future__ import annotations

import json
import socket

import pytest

import rag.spans
from eval.gate import check, load_thresholds
from eval.runner import main, run_eval, score_rows
from rag.types import Citation


def test_the_current_system_passes_its_gate(baseline_report):
    code, _, data = baseline_report
    assert data["gate"]["failures"] == []
    assert code == 0


def test_the_report_has_every_row_a_table_and_a_chart(baseline_report, gold_items):
    _, out, data = baseline_report
    assert [r["id"] for r in data["rows"]] == [i.id for i in gold_items]
    assert {"context_recall", "context_precision", "string_present", "quoted_spans_alignment", "citation_exact",
            "figures_grounded", "evidence_hit", "abstention_correct", "wrong_speaker"} <= set(data["rows"][0]["scores"])
    summary = data["summary"]["extractive"]
    assert set(summary) == {"figure", "position", "multi_source", "attribution", "misattribution", "unanswerable",
                            "offtopic", "answerable", "answerable_all", "unanswerable_offtopic", "all"}
    assert summary["answerable"]["evidence_hit"]["n"] == sum(i.category in ("figure", "position", "multi_source")
                                                             for i in gold_items)
    assert summary["misattribution"]["wrong_speaker"]["n"] == sum(i.category == "misattribution" for i in gold_items)
    assert {r["mode"] for r in data["retrieval"]} == {"dense", "bm25", "hybrid"}
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert ("| metric | figure | position | multi_source | attribution | misattribution | unanswerable | offtopic | "
            "answerable | answerable_all | unanswerable_offtopic | all |") in md
    assert "## Failures per question" in md and "recall@5" in md
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.loads((out / "results.json").read_text(encoding="utf-8"), parse_constant=pytest.fail)  # no NaN


def test_rows_that_miss_are_listed_as_failures(baseline_report):
    _, out, data = baseline_report
    md = (out / "summary.md").read_text(encoding="utf-8")
    missed = [r for r in data["rows"] if r["scores"]["evidence_hit"] == 0 or r["scores"]["wrong_speaker"] == 1
              or (r["category"] in ("unanswerable", "offtopic") and not r["abstained"])]
    for row in missed:
        assert f"**extractive {row['id']}**" in md


def _gate(result):
    return [f for f in check(result.summaries, result.retrieval, load_thresholds()) if f.where == "extractive"]


@pytest.mark.eval_gate
def test_retrieval_k0_fails_the_gate(engine, gold_items):
    items = [i for i in gold_items if i.category != "unanswerable"][:12]
    result = run_eval(engine, items, ["extractive"], k=0, retrieval_modes=(), with_retrieval_quality=False)
    failed = {(f.threshold.scope, f.threshold.metric) for f in _gate(result)}
    assert ("answerable", "context_recall") in failed
    assert ("answerable", "evidence_hit") in failed


@pytest.mark.eval_gate
def test_a_broken_offset_fails_the_gate(engine, gold_items, monkeypatch):
    def off_by_one(doc, start, end):  # the text is right, the offsets point one character later
        return Citation(doc.doc_id, doc.source, start + 1, end + 1, doc.text[start:end])

    monkeypatch.setattr(rag.spans, "cite", off_by_one)
    items = [i for i in gold_items if i.category == "figure"][:10]
    result = run_eval(engine, items, ["extractive"], retrieval_modes=(), with_retrieval_quality=False)
    assert any(r["citations"] for r in result.runs[0].rows)
    failed = {(f.threshold.scope, f.threshold.metric) for f in _gate(result)}
    assert ("all", "citation_exact") in failed


@pytest.mark.eval_gate
def test_the_cli_exits_1_and_names_the_metric(engine, gold_items, tmp_path, capsys, monkeypatch, make_eval_args,
                                              no_retrieval_quality):
    import eval.runner as runner

    monkeypatch.setattr(runner, "load_gold", lambda: gold_items[::5])
    code = main(make_eval_args(engine, tmp_path / "r", k=0))
    out = capsys.readouterr().out
    assert code == 1
    assert "gate FAILED" in out
    line = next(l for l in out.splitlines() if "answerable.context_recall" in l and "threshold" in l)
    assert "= 0.000" in line
    threshold = next(t for t in load_thresholds() if (t.scope, t.metric) == ("answerable", "context_recall"))
    assert f"{threshold.minimum:.3f}" in line


@pytest.mark.eval_gate
def test_without_gate_a_miss_is_reported_but_exits_0(engine, gold_items, tmp_path, capsys, monkeypatch,
                                                     make_eval_args, no_retrieval_quality):
    import eval.runner as runner

    monkeypatch.setattr(runner, "load_gold", lambda: gold_items[::5])
    assert main(make_eval_args(engine, tmp_path / "r", k=0, gate=False)) == 0
    assert "below thresholds (not gating)" in capsys.readouterr().out


def test_scoring_stays_offline(engine, gold_items, monkeypatch):
    """Ragas must not phone home (telemetry, model downloads) while scoring."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("/"):
            attempts.append(address)
            raise OSError(f"network blocked in test: {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    items = gold_items[:3] + gold_items[-2:]
    result = run_eval(engine, items, ["extractive"], retrieval_modes=("hybrid",), with_retrieval_quality=False)
    scores = score_rows(result.runs[0].rows, items, engine.settings.corpus_dir)
    assert len(scores) == len(items)
    assert attempts == []


def test_an_unknown_backend_is_refused_before_any_work(engine, tmp_path, make_eval_args):
    from index.errors import RagError

    with pytest.raises(RagError, match="unknown backend.*nope.*extractive"):
        main(make_eval_args(engine, tmp_path / "r", backend="extractive,nope"))
    assert not (tmp_path / "r").exists()
