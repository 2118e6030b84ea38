"""Every answer and citation the extractive engine gives on dev, gold and an external set, as JSON lines.

A refactor that claims "behaviour unchanged" proves it by two snapshots, before and after, that are
equal line for line:

    python -m eval.snapshot --out /tmp/before.jsonl [--external ../shared/external/squad2-normans]
    ... change the code ...
    python -m eval.snapshot --out /tmp/after.jsonl [--external ...]
    python -m eval.snapshot --diff /tmp/before.jsonl /tmp/after.jsonl

Everything `Answer.to_dict` gives is kept (answer, citations with offsets, support, verification,
statements, conflicts, closest passages, refusal reason) except the timings, which always differ.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import index.offline  # noqa: F401  (offline switches before torch)

EVAL = Path(__file__).resolve().parent
# Forms switched off for the run, as `RAG_DISABLE_FORMS` does for `rag` itself (a snapshot of an ablation).
_DISABLED = os.environ.get("RAG_DISABLE_FORMS", "")


def _questions(path: Path) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    return [(item["id"], item["question"]) for item in items]


def _row(set_name: str, qid: str, answer) -> dict:
    d = answer.to_dict()
    d.pop("timings")
    return {"set": set_name, "id": qid, **d}


def snapshot(external: Path | None) -> list[dict]:
    from rag.engine import Engine
    from rag.settings import Settings

    rows: list[dict] = []
    with Engine.open(Settings(backend="extractive", disabled_forms=_DISABLED)) as engine:
        for set_name, path in (("dev", EVAL / "dev_questions.jsonl"), ("gold", EVAL / "gold.jsonl")):
            rows += [_row(set_name, qid, engine.ask(q)) for qid, q in _questions(path)]
    if external is not None:
        settings = Settings(backend="extractive", corpus_dir=external / "corpus", disabled_forms=_DISABLED)
        with Engine.open(settings) as engine:
            rows += [_row(external.name, qid, engine.ask(q)) for qid, q in _questions(external / "questions.jsonl")]
    return rows


def diff(before: Path, after: Path) -> int:
    """Print the rows that differ; 1 when any does."""
    a = [json.loads(line) for line in before.read_text(encoding="utf-8").splitlines()]
    b = [json.loads(line) for line in after.read_text(encoding="utf-8").splitlines()]
    if len(a) != len(b):
        print(f"{len(a)} rows before, {len(b)} after")
        return 1
    changed = [(x, y) for x, y in zip(a, b) if x != y]
    for x, y in changed:
        print(
            f"{x['set']} {x['id']}:\n  before {json.dumps(x, ensure_ascii=False)}\n  after  {json.dumps(y, ensure_ascii=False)}"
        )
    counts: dict[str, int] = {}
    for x in a:
        counts[x["set"]] = counts.get(x["set"], 0) + 1
    print(f"{len(changed)} of {len(a)} rows differ ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return 1 if changed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.snapshot", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the snapshot here (JSON lines)")
    parser.add_argument("--external", type=Path, help="also an external set's folder (corpus/ + questions.jsonl)")
    parser.add_argument("--diff", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two snapshots")
    args = parser.parse_args(argv)
    if args.diff:
        return diff(*args.diff)
    if not args.out:
        parser.error("give --out FILE or --diff BEFORE AFTER")
    rows = snapshot(args.external)
    tmp = args.out.with_name(args.out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    tmp.replace(args.out)
    print(f"{len(rows)} answers: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
