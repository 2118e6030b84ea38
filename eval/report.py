"""The evaluation report: `results.json` (every row), `summary.md` (tables, gate, failures) and
`scores.png` (scores per category and backend, recall@k per retrieval variant).

`eval/reports/<timestamp>/` is gitignored; `eval/reports/latest/eval_summary.{md,json}` and
`eval_scores.png` keep the last default run (no per-row JSON) and are committed, so a reviewer
sees the numbers without running anything.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from eval.gold import CATEGORIES

if TYPE_CHECKING:
    from eval.gate import Threshold
    from eval.results import EvalResult

# Per category, then the groups `eval.runner.GROUP_SCOPES` adds, then everything.
SCOPES = (*CATEGORIES, "answerable", "answerable_all", "unanswerable_offtopic", "all")
CHART_SCOPES = (*CATEGORIES, "all")
METRIC_NOTES = {
    "context_recall": "ragas NonLLMContextRecall: share of gold evidence sentences found inside a retrieved chunk",
    "context_precision": "ragas NonLLMContextPrecisionWithReference: average precision of the retrieved chunks",
    "string_present": "ragas StringPresence of a key figure in the answer (any key, whole tokens)",
    "quoted_spans_alignment": "ragas QuotedSpansAlignment: quoted passages found verbatim in the cited spans",
    "citation_exact": "span grounding: share of citations whose offsets slice exactly to their text",
    "figures_grounded": "span grounding: share of the answer's figures present in its cited spans",
    "evidence_hit": "span grounding: a citation overlaps a gold evidence span (0 when abstaining)",
    "abstention_correct": "span grounding: abstained exactly when the item is unanswerable or offtopic "
    "(not scored on misattribution, where correcting and abstaining are both right)",
    "wrong_speaker": "misattribution: a non-abstaining answer credits the asked speaker, or neither denies "
    "them nor names the true speaker (lower is better; rule in eval.answer_facts.wrong_speaker)",
    "faithfulness": "ragas Faithfulness (judge): answer claims supported by the retrieved contexts",
    "factual_correctness(mode=f1)": "ragas FactualCorrectness (judge): claim F1 against the reference answer",
    "nv_accuracy": "ragas AnswerAccuracy (judge): agreement with the reference answer",
}
CHART_METRICS = (
    "context_recall",
    "context_precision",
    "evidence_hit",
    "string_present",
    "citation_exact",
    "abstention_correct",
    "wrong_speaker",
    "faithfulness",
    "factual_correctness(mode=f1)",
    "nv_accuracy",
)


def _clean(value):
    """JSON without NaN: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _fmt(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def row_problems(row: dict) -> list[str]:
    """Why a row counts as a failure, in words; empty when it passed every check."""
    from eval.gold import ABSTAIN, ANSWERABLE_ALL

    s, answerable = row.get("scores", {}), row["category"] in ANSWERABLE_ALL
    out = []
    if row.get("error"):
        out.append(f"backend error: {row['error']}")
    if answerable and row["abstained"]:
        out.append("abstained on an answerable question")
    elif answerable and s.get("evidence_hit") == 0:
        out.append("no citation overlaps the gold evidence")
    if s.get("string_present") == 0 and not row["abstained"]:
        out.append(f"no key figure in the answer (keys: {', '.join(row.get('keys', []))})")
    if row["category"] in ABSTAIN and not row["abstained"]:
        out.append(f"answered an {row['category']} question")
    if s.get("wrong_speaker") == 1:
        out.append(
            "wrong speaker: the answer credits the asked speaker, or gives the statement without saying "
            "the articles do not quote them"
        )
    if row["category"] == "misattribution" and s.get("evidence_hit") == 0:
        out.append("answered without citing the true speaker's sentence")
    if s.get("citation_exact") is not None and s["citation_exact"] < 1:
        out.append("a citation does not slice exactly from its article")
    if s.get("figures_grounded") is not None and s["figures_grounded"] < 1:
        out.append("a figure in the answer is not in the cited spans")
    if s.get("quoted_spans_alignment") is not None and s["quoted_spans_alignment"] < 1:
        out.append("a quoted passage is not in the cited spans")
    return out


def _score_table(summary: dict) -> list[str]:
    scopes = [s for s in SCOPES if s in summary]
    metrics = list(dict.fromkeys(m for s in scopes for m in summary[s]))
    lines = ["| metric | " + " | ".join(scopes) + " |", "|---" * (len(scopes) + 1) + "|"]
    for m in metrics:
        cells = []
        for s in scopes:
            cell = summary[s].get(m, {})
            cells.append(f"{_fmt(cell.get('mean'))} ({cell.get('n', 0)})" if cell.get("n") else "–")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def _retrieval_table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(no retrieval rows)"]
    cols = [c for c in rows[0] if c.startswith(("recall@", "hit@"))]
    lines = ["| mode | scope | n | " + " | ".join(cols) + " |", "|---" * (len(cols) + 3) + "|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['scope']} | {r['n']} | " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    return lines


def _generic_table(rows: list[dict]) -> list[str]:
    cols = list(dict.fromkeys(c for r in rows for c in r))
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for r in rows:
        lines.append(
            "| " + " | ".join(_fmt(v) if isinstance(v, float) else str(v) for v in (r.get(c, "") for c in cols)) + " |"
        )
    return lines


def markdown(result: "EvalResult", thresholds: list["Threshold"]) -> str:
    c = result.config
    lines = [
        f"# rag eval — {c['time']}",
        "",
        f"backends: {', '.join(c['backends'])} · k={c['k']} · retrieval={c['retrieval']} · "
        f"min_support={c['min_support']} · judge: {c['judge'] or 'none'} · {c['items']} gold items"
        + (f" · {c['seconds']} s" if "seconds" in c else ""),
        "",
        "Each cell: mean over the rows where the metric applies (count in brackets).",
        "",
    ]
    for run in result.runs:
        lines += [f"## Scores per category — {run.backend}", ""] + _score_table(run.summary) + [""]
    lines += [
        "## Chunk retrieval — recall@k over gold evidence (Engine.retrieve chunks)",
        "",
        "recall@k: share of an item's gold evidence sentences inside a top-k chunk (or the same-story "
        "chunk folded into it as corroboration); hit@k: any of them.",
        "",
    ]
    lines += _retrieval_table(result.retrieval) + [""]
    lines += [
        "## Evidence-sentence retrieval — gold evidence in the top k (eval.retrieval_quality)",
        "",
        "recall@k: share of items whose gold evidence sentence is ranked within the top k sentences "
        "(llama-index: top-k nodes); what the backends read, after chunk retrieval.",
        "",
    ]
    if result.retrieval_quality:
        lines += _generic_table(result.retrieval_quality) + [""]
    else:
        lines += [f"Not included: {result.retrieval_quality_note}", ""]
    lines += [
        "## LlamaIndex CitationQueryEngine vs rag — where the citations point (eval.llama_index_compare)",
        "",
        "citation_exact: cited offsets slice the article file to the cited text; evidence_hit: from those "
        "offsets; evidence_hit_located: from spans found by text. Details: llama_index_compare.md.",
        "",
    ]
    if result.llama_index:
        lines += _generic_table(result.llama_index) + [""]
    else:
        lines += [f"Not included: {result.llama_index_note}", ""]
    lines += ["## Gate (eval/thresholds.toml)", ""]
    if result.failures:
        lines += [f"**FAILED** — {len(result.failures)} threshold(s) missed:", ""]
        lines += [f"- {f}" for f in result.failures] + [""]
    else:
        lines += [f"Passed: all {len(thresholds)} thresholds met.", ""]
    lines += ["| where | threshold | bound |", "|---|---|---|"]
    lines += [f"| {t.scope} | {t.metric} | {'≤' if t.kind == 'max' else '≥'} {t.limit:.3f} |" for t in thresholds] + [
        ""
    ]
    lines += ["## Failures per question", ""]
    any_failure = False
    for run in result.runs:
        for row in run.rows:
            problems = row_problems(row)
            if problems:
                any_failure = True
                lines.append(f"- **{run.backend} {row['id']}** {row['question']} — {'; '.join(problems)}")
    if not any_failure:
        lines.append("None.")
    lines += ["", "## Metrics", ""] + [f"- `{k}`: {v}" for k, v in METRIC_NOTES.items()]
    return "\n".join(lines) + "\n"


def chart(result: "EvalResult", path: Path) -> None:
    """One panel per backend (metrics grouped by category) and one for retrieval recall@k."""
    import matplotlib

    matplotlib.use("Agg")  # no display: CI and servers
    import matplotlib.pyplot as plt
    import numpy as np

    panels = len(result.runs) + 1
    fig, axes = plt.subplots(panels, 1, figsize=(12, 3.6 * panels), squeeze=False)
    for ax, run in zip(axes[:, 0], result.runs):
        scopes = [s for s in CHART_SCOPES if s in run.summary]
        metrics = [m for m in CHART_METRICS if any(run.summary[s].get(m, {}).get("n") for s in scopes)]
        width = 0.8 / max(len(metrics), 1)
        x = np.arange(len(scopes))
        for i, m in enumerate(metrics):
            values = [run.summary[s].get(m, {}).get("mean") for s in scopes]
            ax.bar(x + i * width, [np.nan if v is None else v for v in values], width, label=m)
        ax.set_xticks(x + width * (len(metrics) - 1) / 2, scopes)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"scores per category — backend {run.backend}")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax = axes[-1, 0]
    rows = [r for r in result.retrieval if r["scope"] == "answerable"]
    ks = [c for c in (rows[0] if rows else {}) if c.startswith("recall@")]
    width = 0.8 / max(len(ks), 1)
    x = np.arange(len(rows))
    for i, k in enumerate(ks):
        ax.bar(x + i * width, [r[k] for r in rows], width, label=k)
    ax.set_xticks(x + width * (len(ks) - 1) / 2, [r["mode"] for r in rows])
    ax.set_ylim(0, 1.05)
    ax.set_title("retrieval variants — recall@k over gold evidence (answerable items)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bound_key(t: "Threshold") -> str:
    return "maximum" if t.kind == "max" else "minimum"


def _summary_json(result: "EvalResult", thresholds: list["Threshold"]) -> dict:
    return {
        "config": result.config,
        "summary": result.summaries,
        "retrieval": result.retrieval,
        "retrieval_quality": result.retrieval_quality,
        "retrieval_quality_note": result.retrieval_quality_note,
        "llama_index": result.llama_index,
        "llama_index_note": result.llama_index_note,
        "gate": {
            "passed": not result.failures,
            "thresholds": [{"scope": t.scope, "metric": t.metric, _bound_key(t): t.limit} for t in thresholds],
            "failures": [
                {
                    "where": f.where,
                    "scope": f.threshold.scope,
                    "metric": f.threshold.metric,
                    "value": f.value,
                    _bound_key(f.threshold): f.threshold.limit,
                }
                for f in result.failures
            ],
        },
    }


def write_report(result: "EvalResult", out: Path, thresholds: list["Threshold"]) -> Path:
    """Write results.json, summary.md and scores.png into `out`; returns `out`."""
    out.mkdir(parents=True, exist_ok=True)
    data = _summary_json(result, thresholds)
    data["rows"] = [row for run in result.runs for row in run.rows]
    (out / "results.json").write_text(json.dumps(_clean(data), ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "summary.md").write_text(markdown(result, thresholds), encoding="utf-8")
    chart(result, out / "scores.png")
    return out


def write_latest(result: "EvalResult", out: Path, thresholds: list["Threshold"], latest: Path) -> None:
    """Refresh the committed summary (eval_summary.md/.json without rows, eval_scores.png);
    other reports share the folder, hence the prefix."""
    latest.mkdir(parents=True, exist_ok=True)
    (latest / "eval_summary.json").write_text(
        json.dumps(_clean(_summary_json(result, thresholds)), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (latest / "eval_summary.md").write_text(markdown(result, thresholds), encoding="utf-8")
    (latest / "eval_scores.png").write_bytes((out / "scores.png").read_bytes())
