"""Speed and memory of the core path, written to a report (never asserted in tests).

Measures: embedding model load, cold index build, incremental rebuild with one document
changed, retrieval latency and whole extractive-answer latency (p50/p95) over the dev and gold
questions, and peak resident memory.

    python -m eval.bench.core [--out eval/reports/latest] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, TypeVar

import index.offline  # noqa: F401
from index.build import build_index
from index.documents import load_corpus
from index.embedding import SentenceTransformerEmbedder
from rag import Engine, Settings

HERE = Path(__file__).resolve().parent.parent  # eval/
ROOT = HERE.parent

T = TypeVar("T")


def questions() -> list[str]:
    out = []
    for name in ("dev_questions.jsonl", "gold.jsonl"):
        path = HERE / name
        if path.exists():
            out += [
                json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            ]
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def latency(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "p50_ms": 1000 * statistics.median(samples),
        "p95_ms": 1000 * percentile(samples, 0.95),
        "mean_ms": 1000 * statistics.fmean(samples),
    }


def run(repeat: int) -> dict:
    load_s, embedder = timed(SentenceTransformerEmbedder)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        corpus_dir = work / "corpus"
        shutil.copytree(ROOT / "corpus", corpus_dir)
        index_dir = work / "index"
        cold_s, (_, cold) = timed(lambda: build_index(load_corpus(corpus_dir), index_dir, embedder))
        target = corpus_dir / "004_0a4f169a68ff0522.txt"
        target.write_text(
            target.read_text(encoding="utf-8") + "\nA sentence added for the benchmark.\n", encoding="utf-8"
        )
        incr_s, (_, incr) = timed(lambda: build_index(load_corpus(corpus_dir), index_dir, embedder))
        noop_s, _ = timed(lambda: build_index(load_corpus(corpus_dir), index_dir, embedder))

        open_s, engine = timed(
            lambda: Engine.open(
                Settings(corpus_dir=ROOT / "corpus", index_dir=work / "index2"), embedder=embedder, log=None
            )
        )
        qs = questions()
        engine.ask(qs[0])  # warm-up
        retrieve, answer = [], []
        for _ in range(repeat):
            for q in qs:
                retrieve.append(timed(lambda: engine.retrieve(q))[0])
                answer.append(timed(lambda: engine.ask(q))[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "machine": {
            "python": platform.python_version(),
            "cpu_count": __import__("os").cpu_count(),
            "platform": platform.platform(),
        },
        "model_load_s": load_s,
        "index_build_cold_s": cold_s,
        "index_build_cold_units": cold.embedded_units,
        "index_build_incremental_s": incr_s,
        "index_build_incremental_units": incr.embedded_units,
        "index_build_incremental_summary": incr.summary(),
        "index_build_noop_s": noop_s,
        "engine_open_with_build_s": open_s,
        "questions": len(qs),
        "repeat": repeat,
        "retrieval": latency(retrieve),
        "extractive_answer": latency(answer),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def markdown(r: dict) -> str:
    rows = [
        ("embedding model load", f"{r['model_load_s']:.2f} s"),
        ("index build, cold", f"{r['index_build_cold_s']:.2f} s ({r['index_build_cold_units']} units embedded)"),
        (
            "index build, one document changed",
            f"{r['index_build_incremental_s']:.2f} s ({r['index_build_incremental_units']} units embedded)",
        ),
        ("index build, nothing changed", f"{r['index_build_noop_s']:.2f} s"),
        ("retrieval p50 / p95", f"{r['retrieval']['p50_ms']:.1f} / {r['retrieval']['p95_ms']:.1f} ms"),
        (
            "extractive answer p50 / p95",
            f"{r['extractive_answer']['p50_ms']:.1f} / {r['extractive_answer']['p95_ms']:.1f} ms",
        ),
        ("peak RSS", f"{r['peak_rss_mib']:.0f} MiB"),
    ]
    lines = [
        "# Core benchmark",
        "",
        f"{r['questions']} questions x {r['repeat']} runs; {r['machine']['cpu_count']} CPUs, Python {r['machine']['python']}.",
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "reports" / "latest")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    result = run(args.repeat)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "bench.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
