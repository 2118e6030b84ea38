"""Score the extractive answers on the dev questions (`eval/dev_questions.jsonl`).

An answerable item is right when the answer is not an abstention, contains one of its key
strings (after folding quotes/dashes/spaces), and a citation overlaps a span that states it.
An unanswerable item is right when the engine abstains. Also prints each item's evidence
support, which is what `Settings.min_support` is calibrated against.

    python -m eval.dev_check [--index-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import index.offline  # noqa: F401
from index.terms import fold
from rag import Engine, Settings
from rag.spans import Range
from rag.spans import overlaps as _overlaps

DEV_SET = Path(__file__).resolve().parent / "dev_questions.jsonl"


def load_items(path: Path = DEV_SET) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def overlaps(citation, evidence: dict) -> bool:
    return _overlaps(citation, Range(evidence["source"], evidence["start"], evidence["end"]))


def judge(item: dict, answer) -> dict:
    """One row: was the answer right, and why not."""
    if item["category"] == "unanswerable":
        ok, why = answer.abstained, "" if answer.abstained else "answered an unanswerable question"
    elif answer.abstained:
        ok, why = False, "abstained"
    else:
        has_key = any(fold(k).lower() in fold(answer.text).lower() for k in item["keys"])
        cites = any(overlaps(c, e) for c in answer.citations for e in item["evidence"])
        ok = has_key and cites
        why = (
            ""
            if ok
            else ("no key string; " if not has_key else "") + ("no citation of the evidence" if not cites else "")
        )
    return {
        "id": item["id"],
        "category": item["category"],
        "ok": ok,
        "why": why,
        "support": round(answer.support, 4),
        "abstained": answer.abstained,
        "answer": answer.text,
    }


def run(engine: Engine, items: list[dict]) -> dict:
    rows = [judge(item, engine.ask(item["question"])) for item in items]
    answerable = [r for r in rows if r["category"] != "unanswerable"]
    unanswerable = [r for r in rows if r["category"] == "unanswerable"]
    return {
        "accuracy_answerable": sum(r["ok"] for r in answerable) / max(len(answerable), 1),
        "abstention_accuracy": sum(r["ok"] for r in unanswerable) / max(len(unanswerable), 1),
        "n": len(rows),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    engine = Engine.open(Settings.from_env(index_dir=args.index_dir))
    result = run(engine, load_items())
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for r in result["rows"]:
        mark = "ok  " if r["ok"] else "FAIL"
        print(f"{mark} {r['id']} {r['category']:<12} support={r['support']:.3f} {r['why']}")
        if not r["ok"]:
            print(f"       {r['answer'][:140]}")
    print(
        f"answerable accuracy {result['accuracy_answerable']:.0%}, "
        f"abstention accuracy {result['abstention_accuracy']:.0%} over {result['n']} questions"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
