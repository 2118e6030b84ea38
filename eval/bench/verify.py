"""Time of `CitationVerifier` against the answer's length: it must stay linear.

The answer is built from a real cited sentence of the corpus (the first citation of the extractive
answer to the first dev question, with its figures and its speaker), repeated until the answer has
the size asked, in two shapes:
  - one sentence: the cited sentence's words joined by "; " into a single sentence with one marker
    at its end (before the fix, 160 KB of this took 13.9 s and 1 MB did not finish in 10 minutes);
  - many sentences: the cited sentence with its "[1]" marker, repeated.
The source node carries exact offsets. One more row shows that an answer over the verifier's limit
(`rag.integrations.llama_index.MAX_ANSWER_CHARS`) is refused at once with a problem naming it.

    python -m eval.bench.verify [--sizes 10000,40000,160000,1000000] [--out eval/reports/latest]

Writes verify_bench.json and verify_bench.md. Exit status 1 when a check of 1 MB or less took 5 s
or more, or when a sentence of an answer under the limit was not checked.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import index.offline  # noqa: F401
from eval.bench.core import questions
from rag import Engine, Settings
from rag.integrations.llama_index import MAX_ANSWER_CHARS, CitationVerifier, citation_node

HERE = Path(__file__).resolve().parent.parent  # eval/
TARGET_S = 5.0  # the bar for a 1 MB answer
TARGET_CHARS = 1_000_000


def _sized(unit: str, sep: str, size: int, tail: str) -> str:
    """`unit` repeated with `sep` up to `size` characters in all, then `tail`."""
    count = max(1, (size - len(tail)) // (len(unit) + len(sep)))
    return sep.join([unit] * count) + tail


def answers(sentence: str, size: int) -> dict[str, str]:
    body = sentence.rstrip(" .!?\"'\u201d")
    return {
        "one sentence": _sized(body, "; ", size, " [1]."),
        "many sentences": _sized(body + " [1].", " ", size, ""),
    }


def run(sizes: list[int]) -> dict:
    engine = Engine.open(Settings.from_env())
    question = questions()[0]
    answer = engine.ask(question)
    if not answer.citations:
        raise SystemExit(f"the first dev question ({question!r}) got no citation to build answers from")
    citation = answer.citations[0]
    node = citation_node(citation)
    verifier = CitationVerifier(engine)
    verifier.check_text(citation.text + " [1]", [node.node])  # warm: the article's folded form, regexes
    rows = []
    for size in sizes:
        for shape, text in answers(citation.text, size).items():
            t0 = time.perf_counter()
            report = verifier.check_text(text, [node.node], question)
            seconds = time.perf_counter() - t0
            rows.append(
                {
                    "shape": shape,
                    "chars": len(text),
                    "seconds": round(seconds, 3),
                    "claims": len(report.claims),
                    "problems": len(report.problems),
                }
            )
            print(f"{shape:>15} {len(text):>10,} chars: {seconds:7.3f} s, {len(report.claims)} claims", flush=True)
    over = "x" * (MAX_ANSWER_CHARS + 1)
    t0 = time.perf_counter()
    refused = verifier.check_text(over, [node.node])
    return {
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.1f} at the end"
        ),
        "question": question,
        "cited": {"source": citation.source, "start": citation.start, "end": citation.end, "chars": len(citation.text)},
        "rows": rows,
        "limit": {
            "max_chars": MAX_ANSWER_CHARS,
            "seconds": round(time.perf_counter() - t0, 4),
            "problem": refused.problems[0] if refused.problems else "",
        },
    }


def failures(result: dict) -> list[str]:
    out = []
    for r in result["rows"]:
        if r["chars"] <= TARGET_CHARS and r["seconds"] >= TARGET_S:
            out.append(f"{r['shape']} of {r['chars']:,} characters took {r['seconds']} s (target < {TARGET_S} s)")
        if r["claims"] == 0:
            out.append(f"{r['shape']} of {r['chars']:,} characters was not checked")
    if not result["limit"]["problem"]:
        out.append("an answer over the limit was checked instead of refused")
    return out


def markdown(result: dict) -> str:
    c = result["cited"]
    lines = [
        "# CitationVerifier: time against answer length",
        "",
        f"Machine: {result['machine']}. Cited sentence: {c['source']} {c['start']}-{c['end']} ({c['chars']} characters),",
        f"the first citation of the answer to {result['question']!r}. `python -m eval.bench.verify`.",
        "",
        "| shape | characters | seconds | claims | problems |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['shape']} | {r['chars']:,} | {r['seconds']:.3f} | {r['claims']:,} | {r['problems']:,} |")
    lim = result["limit"]
    lines += [
        "",
        f"Over the limit ({lim['max_chars']:,} characters): refused in {lim['seconds'] * 1000:.1f} ms with",
        f"> {lim['problem']}",
        "",
        f"Target: a 1 MB answer checked in under {TARGET_S:.0f} s. Before the fix a 160 KB sentence took 13.9 s and",
        "1 MB did not finish in 10 minutes (issue 26): each name and each full stop re-read the whole text before it.",
        "On this machine the code before the fix (78ad4a0) took 0.08 s at 10 KB and 0.85 s at 40 KB (one sentence).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,40000,160000,1000000", help="answer sizes in characters")
    parser.add_argument("--out", type=Path, default=HERE / "reports" / "latest")
    args = parser.parse_args(argv)
    result = run([int(s) for s in args.sizes.split(",")])
    result["failures"] = failures(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "verify_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "verify_bench.md").write_text(markdown(result))
    for failure in result["failures"]:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
