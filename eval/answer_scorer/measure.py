"""What the trained answer scorer would add to the answer path, measured before wiring it in.

    python -m eval.answer_scorer.measure [--external ../shared/external/squad2-normans]

For every question of dev, gold and the external set: the engine's decision (its candidates in
the reader's order, or its refusal), then the scorer's probability for the first `TOP` candidates.
Reported in `eval/reports/latest/answer_scorer.md`:

- how well each signal tells the external set's answerable questions from its impossible ones,
  on the candidate the engine would answer with (ROC AUC: 0.5 is a coin);
- how often the scorer ranks a candidate holding the gold answer above one that does not;
- the three sets' answers under two policies: refuse when the scorer's probability is under a
  threshold, and re-rank the top candidates by it (with a bonus for the reader's first choice).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import index.offline  # noqa: F401  (offline switches before torch)
from eval.dev_check import DEV_SET, load_items
from eval.external import load_set
from index.terms import fold

EVAL = Path(__file__).resolve().parents[1]
REPORT = EVAL / "reports" / "latest" / "answer_scorer.md"
TOP = 5
THRESHOLDS = (0.1, 0.2, 0.3, 0.4)
BONUSES = (0.0, 0.2, 0.5)


def _candidates(engine, set_name: str, items: list[dict]) -> list[dict]:
    rows = []
    for item in items:
        question = engine.read(item["question"])
        _, evidence = engine.evidence(item["question"], ask=question.ask)
        decision = engine.decide(question, evidence)
        cands = [
            {
                "text": e.text,
                "src": e.citation.doc_id,
                "start": e.citation.start,
                "end": e.citation.end,
                "support": e.score,
            }
            for e in decision.evidence[:TOP]
        ]
        rows.append({"set": set_name, "item": item, "refused": decision.refusal is not None, "cands": cands})
    return rows


def _answerable(row: dict) -> bool:
    item = row["item"]
    return not item["impossible"] if "impossible" in item else item["category"] not in ("unanswerable", "offtopic")


def _right(row: dict, c: dict) -> bool:
    """Whether a candidate answers: it covers a gold span (external), or holds a key and overlaps
    the evidence (dev, gold)."""
    item = row["item"]
    if "answers" in item:
        return any(a["start"] >= c["start"] and a["end"] <= c["end"] for a in item["answers"])
    overlaps = any(
        e["source"].startswith(c["src"]) and e["start"] < c["end"] and c["start"] < e["end"] for e in item["evidence"]
    )
    keys = item.get("keys") or []
    return overlaps and (not keys or any(fold(k).lower() in fold(c["text"]).lower() for k in keys))


def _outcome(rows: list[dict], choose) -> str:
    answerable = [r for r in rows if _answerable(r)]
    other = [r for r in rows if not _answerable(r)]
    hit = refused = 0
    for r in answerable:
        at = choose(r)
        refused += at is None
        hit += at is not None and _right(r, r["cands"][at])
    kept_out = sum(choose(r) is None for r in other)
    return f"{hit}/{len(answerable)} right, {refused} refused; {kept_out}/{len(other)} refused"


def _auc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / max(1, len(pos) * len(neg))


def measure(external: Path) -> str:
    from eval.answer_scorer.model import AnswerScorer
    from rag.engine import Engine
    from rag.settings import Settings

    with Engine.open(Settings(backend="extractive")) as engine:
        rows = _candidates(engine, "dev", load_items(DEV_SET))
        rows += _candidates(engine, "gold", load_items(EVAL / "gold.jsonl"))
    outside = [
        {"id": i.id, "question": i.question, "impossible": i.impossible,
         "answers": [{"start": a.start, "end": a.end} for a in i.answers]}
        for i in load_set(external)
    ]  # fmt: skip
    with Engine.open(Settings(backend="extractive", corpus_dir=external / "corpus")) as engine:
        rows += _candidates(engine, "external", outside)
    scorer = AnswerScorer()
    for r in rows:
        r["p"] = scorer.score(r["item"]["question"], [c["text"] for c in r["cands"]])

    answered = [r for r in rows if r["set"] == "external" and r["cands"] and not r["refused"]]
    labels = [int(_answerable(r)) for r in answered]
    auc_scorer = _auc([r["p"][0] for r in answered], labels)
    auc_support = _auc([r["cands"][0]["support"] for r in answered], labels)
    pairs = [
        r["p"][i] > r["p"][j]
        for r in answered
        if _answerable(r)
        for i, j in itertools.permutations(range(len(r["cands"])), 2)
        if _right(r, r["cands"][i]) and not _right(r, r["cands"][j])
    ]

    def as_is(r):
        return None if r["refused"] or not r["cands"] else 0

    def refuse_below(t):
        return lambda r: None if as_is(r) is None or r["p"][0] < t else 0

    def rerank(bonus):
        def choose(r):
            if as_is(r) is None:
                return None
            return max(range(len(r["p"])), key=lambda i: r["p"][i] + (bonus if i == 0 else 0.0))

        return choose

    policies = [("the engine as it is", as_is)]
    policies += [(f"refuse when p < {t}", refuse_below(t)) for t in THRESHOLDS]
    policies += [(f"re-rank top {TOP} by p, reader's first +{b}", rerank(b)) for b in BONUSES]
    table = "\n".join(
        f"| {name} | " + " | ".join(_outcome([r for r in rows if r["set"] == s], choose) for s in ("dev", "gold", "external")) + " |"
        for name, choose in policies
    )  # fmt: skip
    return (
        "# The answer scorer, measured (`python -m eval.answer_scorer.measure`)\n\n"
        f"External set: `{external.name}`. Scorer: `eval/answer_scorer/` (MiniLM cross-encoder, top 3 layers "
        "trained on synthetic pairs from gensim's Wikipedia excerpt and Lee news corpus; "
        "`answer_scorer_train.md`).\n\n"
        f"- Answerable against impossible, on the candidate the engine answers with ({len(answered)} questions): "
        f"ROC AUC {auc_scorer:.3f} for the scorer's probability, {auc_support:.3f} for the evidence support the "
        "engine refuses by (0.5 is a coin).\n"
        f"- Ranking: of {len(pairs)} pairs (a candidate holding the gold answer, one not), the scorer puts "
        f"the right one first in {sum(pairs) / max(1, len(pairs)):.3f}.\n\n"
        "Each cell: answerable questions answered right, answerable refused; unanswerable refused.\n\n"
        "| policy | dev | gold | external |\n|---|---|---|---|\n" + table + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.answer_scorer.measure", description=__doc__.split("\n")[0])
    parser.add_argument("--external", type=Path, default=EVAL.parent.parent / "shared" / "external" / "squad2-normans")
    args = parser.parse_args(argv)
    report = measure(args.external.expanduser())
    REPORT.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
