"""`rag eval --ablate`: switch each question-form rule off in turn and measure what it earned.

For every form in `rag.forms.FORMS` (and with none off, the baseline) it measures
- gold: every metric the gate holds (`eval/thresholds.toml`), on the extractive backend;
- dev: answerable right and unanswerable abstained (`eval.dev_check`);
- an external set (shared format): answer_hit, false refusals, impossible refused.
Each row is the change against the baseline, so a rule that helps only dev (the questions it was
written on) stands out. Writes `eval/reports/latest/ablation.md`. One engine per corpus serves
every variant: only the switch changes, never the index.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from eval.dev_check import judge as dev_judge
from eval.dev_check import load_items as dev_items
from eval.external import DEFAULT_EXTERNAL, load_set, summarise
from eval.external import answer_row as external_row
from eval.gate import Threshold, load_thresholds
from eval.gold import load_gold
from rag.forms import FORMS

REPORT = Path(__file__).resolve().parent / "reports" / "latest" / "ablation.md"


def variant(engine, form: str | None):
    """The same engine and index with one form switched off."""
    from rag.engine import Engine

    settings = replace(engine.settings, disabled_forms=form or "")
    return Engine(settings, engine.corpus, engine.store, engine.embedder, tuning=engine.tuning)


def gold_scores(engine, items, thresholds: Sequence[Threshold]) -> dict[str, float | None]:
    from eval.runner import _answer_row, score_rows
    from eval.runner import summarise as summarise_gold

    rows = [_answer_row(engine, item, "extractive", None) for item in items]
    for row, scores in zip(rows, score_rows(rows, items, Path(engine.settings.corpus_dir))):
        row["scores"] = scores
    summary = summarise_gold(rows)
    out: dict[str, float | None] = {}
    for t in thresholds:
        if t.scope.startswith("retrieval."):
            continue  # retrieval does not see the forms
        cell = summary.get(t.scope, {}).get(t.metric, {})
        out[f"{t.label}.{t.metric}"] = cell.get("mean") if isinstance(cell, dict) else None
    return out


def dev_scores(engine) -> dict[str, float]:
    rows = [dev_judge(item, engine.ask(item["question"])) for item in dev_items()]
    answerable = [r for r in rows if r["category"] != "unanswerable"]
    unanswerable = [r for r in rows if r["category"] == "unanswerable"]
    return {
        "dev.answerable_right": sum(r["ok"] for r in answerable) / len(answerable),
        "dev.unanswerable_abstained": sum(r["ok"] for r in unanswerable) / len(unanswerable),
    }


def external_scores(engine, folder: Path) -> dict[str, float]:
    summary = summarise([external_row(engine, item) for item in load_set(folder)])["system"]
    return {f"external.{m}": summary[m] for m in ("answer_hit", "false_refusal", "impossible_refused")}


def markdown(results: dict[str, dict[str, float | None]], external: Path | None, seconds: float) -> str:
    base = results["(none)"]
    metrics = list(base)
    lines = [
        "# Ablation: each question-form rule switched off in turn (`rag eval --ablate`)",
        "",
        "First row: every rule on (the shipped engine). Other rows: the change when that one rule is off "
        "(`RAG_DISABLE_FORMS=name`). For a minimum metric a negative change means the rule helps; for "
        "false_refusal and the gold maximums a positive one does. Gold: the gate's metrics on the extractive "
        f"backend; dev: eval.dev_check; external: {external.name if external else 'none'}.",
        "",
        "| rule off | " + " | ".join(metrics) + " |",
        "| --- | " + " | ".join("---" for _ in metrics) + " |",
        "| (none) | " + " | ".join("n/a" if base[m] is None else f"{base[m]:.3f}" for m in metrics) + " |",
    ]
    for form, row in results.items():
        if form == "(none)":
            continue
        cells = []
        for m in metrics:
            a, b = row.get(m), base[m]
            cells.append("n/a" if a is None or b is None else ("0" if abs(a - b) < 5e-4 else f"{a - b:+.3f}"))
        lines.append(f"| {form} | " + " | ".join(cells) + " |")
    lines += ["", f"Measured in {seconds:.0f} s.", ""]
    return "\n".join(lines)


def run_ablation(args: argparse.Namespace) -> int:
    from rag.engine import Engine
    from rag.settings import Settings

    t0 = time.perf_counter()
    settings = Settings.from_args(args, backend=None)
    news = Engine.open(settings)
    external = Path(args.ablate_external) if args.ablate_external else None
    if external is None and DEFAULT_EXTERNAL.is_dir():
        external = DEFAULT_EXTERNAL
    outside = Engine.open(replace(settings, corpus_dir=external / "corpus", index_dir=None)) if external else None
    items, thresholds = load_gold(), load_thresholds()
    results: dict[str, dict[str, float | None]] = {}
    for form in [None, *FORMS]:
        label = form or "(none)"
        print(f"rag eval --ablate: {label}", flush=True)
        row: dict[str, float | None] = {}
        row.update(gold_scores(variant(news, form), items, thresholds))
        row.update(dev_scores(variant(news, form)))
        if outside is not None and external is not None:
            row.update(external_scores(variant(outside, form), external))
        results[label] = row
    out = Path(args.out) / "ablation.md" if args.out else REPORT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(results, external, time.perf_counter() - t0), encoding="utf-8")
    print(f"report: {out}")
    return 0
