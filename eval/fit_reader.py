"""Fit the reader's weights (`rag/reader_weights.json`) on data, and measure its refusal rules.

    python -m eval.fit_reader [--external ../shared/external/squad2-normans] [--dry-run]

Training questions: the dev set (`eval/dev_questions.jsonl`, on `corpus/`) and an external dev
set (shared format, on its own corpus). Gold (`eval/gold.jsonl`) is never used here: it is the
held-out check. For every question the engine's own candidates (`Engine.decide`, after retrieval
and the structural checks) give one feature row each (`rag.reader.features`); a candidate is a
positive when it covers a gold answer span (external) or overlaps a dev evidence sentence.
Questions a rule refused before the reader saw them add no rows.

A logistic regression (scikit-learn) is fitted on the rows. Its out-of-fold probabilities (5
folds, grouped by question so no question is in its own training fold) are measured two ways:
with the shipped refusal rule (the chosen candidate's support against the question's threshold)
and with a threshold on the probability itself, swept; and against the engine's former order
(the fused support, `first`). The report (`eval/reports/latest/reader_fit.md`) shows the
weights, both, and a calibration table.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import index.offline  # noqa: F401
from eval.external import DEFAULT_EXTERNAL, covers_answer, load_set
from rag.reader import FEATURES, WEIGHTS_PATH
from rag.types import Citation

CLEARS = FEATURES.index("clears_support")

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "eval" / "dev_questions.jsonl"
REPORT = ROOT / "eval" / "reports" / "latest" / "reader_fit.md"
FOLDS = 5
C = 1.0  # inverse regularisation strength of the logistic regression


@dataclass(frozen=True)
class Question:
    set: str
    id: str
    text: str
    answerable: bool
    is_positive: Callable[[Citation], bool]


@dataclass
class Rows:
    """Candidate rows of one question: features and labels, best-first as the engine ranked them."""

    question: Question
    features: list[tuple[float, ...]]
    labels: list[int]
    refused_by_rule: bool


def dev_questions() -> list[Question]:
    out = []
    for line in DEV.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        spans = [(e["source"], e["start"], e["end"]) for e in item.get("evidence", [])]

        def positive(c: Citation, spans=spans) -> bool:
            return any(s == c.source and c.start < e and b < c.end for s, b, e in spans)

        out.append(Question("dev", item["id"], item["question"], item["category"] != "unanswerable", positive))
    return out


def external_questions(folder: Path) -> list[Question]:
    out = []
    for item in load_set(folder):

        def positive(c: Citation, item=item) -> bool:
            return covers_answer([(c.source, c.start, c.end)], item)

        out.append(Question(folder.name, item.id, item.question, not item.impossible, positive))
    return out


def collect(engine, questions: Sequence[Question]) -> list[Rows]:
    """The engine's candidate rows for every question (the reader's features, before its choice)."""
    from rag.stages.decide import Refusal

    out = []
    for q in questions:
        question = engine.read(q.text)
        _, evidence = engine.evidence(q.text, ask=question.ask)
        decision = engine.decide(question, evidence)
        ruled = decision.reason in (Refusal.UNKNOWN_NAME, Refusal.STRUCTURE)
        readings = [] if ruled else list(decision.readings)
        out.append(
            Rows(q, [r.features for r in readings], [int(q.is_positive(r.evidence.citation)) for r in readings], ruled)
        )
    return out


def out_of_fold(rows: Sequence[Rows]) -> list[list[float]]:
    """Each question's candidate probabilities from a model that did not see that question."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    probs: list[list[float]] = [[] for _ in rows]
    for fold in range(FOLDS):
        train = [r for i, r in enumerate(rows) if i % FOLDS != fold]
        x = np.array([f for r in train for f in r.features])
        y = np.array([label for r in train for label in r.labels])
        model = LogisticRegression(C=C, max_iter=1000).fit(x, y)
        for i, r in enumerate(rows):
            if i % FOLDS == fold and r.features:
                probs[i] = model.predict_proba(np.array(r.features))[:, 1].tolist()
    return probs


def outcome(r: Rows, p: list[float], threshold: float | None) -> str:
    """How a question ends: right, wrong (answered from a non-answer) or refused. The most probable
    candidate answers when it clears its support (`threshold` None, the shipped rule) or when its
    probability reaches `threshold`."""
    if r.refused_by_rule or not p:
        return "refused"
    best = max(range(len(p)), key=lambda i: (p[i], -i))
    cleared = r.features[best][CLEARS] > 0 if threshold is None else p[best] >= threshold
    if not cleared:
        return "refused"
    return "right" if r.labels[best] else "wrong"


def scores(rows: Sequence[Rows], probs: Sequence[list[float]], threshold: float | None) -> dict[str, dict[str, float]]:
    """Per set: answerable answered from a positive, false refusals, impossible refused."""
    out: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(r.question.set for r in rows):
        chosen = [(r, p) for r, p in zip(rows, probs) if r.question.set == name]
        answerable = [outcome(r, p, threshold) for r, p in chosen if r.question.answerable]
        impossible = [outcome(r, p, threshold) for r, p in chosen if not r.question.answerable]
        out[name] = {
            "answered_right": answerable.count("right") / max(len(answerable), 1),
            "false_refusal": answerable.count("refused") / max(len(answerable), 1),
            "impossible_refused": impossible.count("refused") / max(len(impossible), 1),
        }
    return out


def fused_order(rows: Sequence[Rows]) -> list[list[float]]:
    """The former choice as probabilities: the first candidate in fused-support order."""
    return [[1.0 if i == 0 else 0.0 for i in range(len(r.features))] for r in rows]


def sweep(rows: Sequence[Rows], probs: Sequence[list[float]]) -> list[tuple[float, dict]]:
    return [(t, scores(rows, probs, t)) for t in [round(0.05 * i, 2) for i in range(1, 15)]]


def fit(rows: Sequence[Rows]) -> tuple[list[float], float]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.array([f for r in rows for f in r.features])
    y = np.array([label for r in rows for label in r.labels])
    model = LogisticRegression(C=C, max_iter=1000).fit(x, y)
    return model.coef_[0].tolist(), float(model.intercept_[0])


def calibration(rows: Sequence[Rows], probs: Sequence[list[float]]) -> list[tuple[str, int, float]]:
    """Out-of-fold probability of each question's best candidate, binned, against how often it was right."""
    bins: dict[int, list[int]] = {}
    for r, p in zip(rows, probs):
        if not p:
            continue
        best = max(range(len(p)), key=lambda i: (p[i], -i))
        bins.setdefault(min(int(p[best] * 10), 9), []).append(r.labels[best])
    return [(f"{b / 10:.1f}-{(b + 1) / 10:.1f}", len(v), sum(v) / len(v)) for b, v in sorted(bins.items())]


def _table(title: str, table: dict[str, dict[str, float]]) -> list[str]:
    return [
        f"| {title}, {name} | {s['answered_right']:.3f} | {s['false_refusal']:.3f} | {s['impossible_refused']:.3f} |"
        for name, s in table.items()
    ]


def report(weights, bias, rows, probs) -> str:
    sets = sorted({r.question.set for r in rows})
    lines = [
        "# Reader fit (`python -m eval.fit_reader`)",
        "",
        f"Logistic regression (C={C}) over {sum(len(r.labels) for r in rows)} candidate rows of "
        f"{len(rows)} questions ({', '.join(sets)}); gold is not used. A candidate is positive when "
        "it covers a gold answer span (external) or overlaps a dev evidence sentence.",
        "",
        "| feature | weight |",
        "| --- | --- |",
        *[f"| {name} | {w:+.3f} |" for name, w in zip(FEATURES, weights)],
        f"| (bias) | {bias:+.3f} |",
        "",
        f"Out of fold ({FOLDS} folds by question), with the shipped refusal rule (the chosen candidate "
        "clears its support threshold), choosing by the fitted probability and by the former fused order:",
        "",
        "| choice, set | answered right | false refusal | impossible refused |",
        "| --- | --- | --- | --- |",
        *_table("fitted probability", scores(rows, probs, None)),
        *_table("fused order (before)", scores(rows, fused_order(rows), None)),
        "",
        "## A threshold on the probability as the refusal rule (measured, not shipped)",
        "",
        "| threshold | " + " | ".join(f"{n}: right / false ref. / imp. ref." for n in sets) + " |",
        "| --- | " + " | ".join("---" for _ in sets) + " |",
    ]
    for t, table in sweep(rows, probs):
        cells = [
            f"{table[n]['answered_right']:.2f} / {table[n]['false_refusal']:.2f} / {table[n]['impossible_refused']:.2f}"
            for n in sets
        ]
        lines.append(f"| {t:.2f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Calibration (out of fold): the best candidate's probability against how often it held the answer",
        "",
        "| probability | questions | share right |",
        "| --- | --- | --- |",
        *[f"| {b} | {n} | {share:.2f} |" for b, n, share in calibration(rows, probs)],
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from rag import Engine, Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--external", type=Path, action="append", help="external dev set(s) in the shared format")
    parser.add_argument("--dry-run", action="store_true", help="report only; leave reader_weights.json as it is")
    args = parser.parse_args(argv)
    externals = args.external or [DEFAULT_EXTERNAL]
    rows = collect(Engine.open(Settings.from_env(corpus_dir=ROOT / "corpus")), dev_questions())
    for folder in externals:
        rows += collect(Engine.open(Settings.from_env(corpus_dir=folder / "corpus")), external_questions(folder))
    probs = out_of_fold(rows)
    weights, bias = fit(rows)
    REPORT.write_text(report(weights, bias, rows, probs), encoding="utf-8")
    print(REPORT.read_text(encoding="utf-8"))
    if not args.dry_run:
        data = {
            "features": list(FEATURES),
            "weights": [round(w, 6) for w in weights],
            "bias": round(bias, 6),
            "fitted_on": sorted({r.question.set for r in rows}),
            "command": "python -m eval.fit_reader",
        }
        tmp = WEIGHTS_PATH.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        tmp.replace(WEIGHTS_PATH)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
