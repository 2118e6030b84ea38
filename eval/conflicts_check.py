"""Count the conflicts flagged over every answer to the dev and gold questions.

The seed articles never give two different values for one quantity (measure, owner and period),
so on them every flagged conflict is a false one and the count must be 0. On another corpus the
listing shows what was flagged, to judge by eye. Exit status 1 when `--max` is exceeded.

    python -m eval.conflicts_check [--corpus DIR] [--index-dir DIR] [--max N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import index.offline  # noqa: F401
from eval.dev_check import DEV_SET, load_items
from rag import Engine, Settings

GOLD_SET = Path(__file__).resolve().parent / "gold.jsonl"


def questions(paths: tuple[Path, ...] = (DEV_SET, GOLD_SET)) -> list[str]:
    """The questions of every set that exists, in order, without repeats."""
    found = [item["question"] for path in paths if path.exists() for item in load_items(path)]
    return list(dict.fromkeys(found))


def run(engine: Engine, asked: list[str]) -> dict:
    """Every conflict flagged, with its question, and how many answers carry statements."""
    rows, with_statements = [], 0
    for question in asked:
        answer = engine.ask(question)
        with_statements += bool(answer.statements)
        rows += [{"question": question, **c.to_dict()} for c in answer.conflicts]
    return {"questions": len(asked), "conflicts": len(rows), "answers_with_statements": with_statements, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--max", type=int, default=None, help="exit 1 when more conflicts than this are flagged")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    engine = Engine.open(Settings.from_env(corpus_dir=args.corpus, index_dir=args.index_dir))
    result = run(engine, questions())
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        for r in result["rows"]:
            print(f"{r['question']}\n    {r['text']}")
        print(
            f"conflicts flagged: {result['conflicts']} over {result['questions']} questions "
            f"({result['answers_with_statements']} answers list other sources' statements)"
        )
    return 1 if args.max is not None and result["conflicts"] > args.max else 0


if __name__ == "__main__":
    sys.exit(main())
