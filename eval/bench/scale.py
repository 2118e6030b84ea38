"""Scale benchmark: the FAISS store at 10k and 100k units, exact (flat) vs HNSW.

For each size and index kind it reports build time, memory, single-query latency p50/p95 and
recall@10 against exact search, plus the latency of a whole hybrid `Retriever.search` (FAISS +
BM25 + fusion) at the size's default kind. Writes `eval/reports/latest/scale.json` and `.md`.

    python -m eval.bench.scale [--sizes 10000 100000] [--queries 200] [--out DIR]

The synthetic corpora are the real articles repeated with variations. Every sentence of the corpus
is rewritten `variants` times (numbers redrawn, names swapped, a clause dropped) and the rewrites
are embedded with the real MiniLM model: that is the pool. A unit of the synthetic corpus joins
two pool texts; its vector is the normalised weighted sum of their vectors plus a little noise,
because embedding 100k texts on this 2-core machine would take most of an hour while the index
only ever sees vectors. Queries are the real dev and gold questions, embedded, plus noisy pool
vectors to reach `--queries`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

import index.offline  # noqa: F401
from index.chunking import Chunk, split_sentences
from index.documents import load_corpus
from index.embedding import Embedder, SentenceTransformerEmbedder
from index.store import (
    HNSW_EF_SEARCH,
    HNSW_MIN_UNITS,
    DocEntry,
    IndexStore,
    Manifest,
    VectorTable,
    build_faiss,
    index_kind,
    one_thread,
)

ROOT = Path(__file__).resolve().parents[2]
REPORT_DIR = ROOT / "eval" / "reports" / "latest"
QUESTION_FILES = (ROOT / "eval" / "dev_questions.jsonl", ROOT / "eval" / "gold.jsonl")
K = 10
REPEATS = 3  # every query is timed this many times and its fastest run kept: the machine is shared
NOISE = 0.02  # per-dimension standard deviation of the noise added to mixed vectors
UNITS_PER_DOC = 20
NAMES = [
    "Merz",
    "Macron",
    "Starmer",
    "Tusk",
    "Rutte",
    "Kallas",
    "Costa",
    "Sánchez",
    "Meloni",
    "Scholz",
    "Frederiksen",
    "Stubb",
    "Nausėda",
    "Fiala",
    "Orbán",
    "Sikorski",
    "Baerbock",
    "Lammy",
    "Barrot",
]
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][a-z]{3,}\b")


# -- the synthetic corpus ------------------------------------------------------------------------


def vary(text: str, rng: random.Random) -> str:
    """One rewrite of a sentence: other numbers, another name, maybe a clause fewer."""
    text = _NUMBER.sub(lambda m: str(rng.randint(2, 999)) if rng.random() < 0.7 else m.group(), text)
    names = _NAME.findall(text)
    if names and rng.random() < 0.6:
        text = text.replace(rng.choice(names), rng.choice(NAMES))
    parts = text.split(", ")
    if len(parts) > 2 and rng.random() < 0.4:
        parts.pop(rng.randrange(1, len(parts)))
    return ", ".join(parts)


def make_pool(corpus_dir: Path, embedder: Embedder, variants: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Rewrites of every corpus sentence, embedded with the real model."""
    rng = random.Random(seed)
    corpus = load_corpus(corpus_dir)
    sentences = [s.text for doc in corpus.documents for s in split_sentences(doc)]
    texts = sentences + [vary(s, rng) for s in sentences for _ in range(variants)]
    texts = list(dict.fromkeys(texts))
    return texts, embedder.embed_many(texts, batch_size=128)


def synthetic_units(
    pool_texts: list[str], pool_vectors: np.ndarray, n: int, seed: int
) -> tuple[list[Chunk], np.ndarray]:
    """`n` units, each two pool texts joined, with a mixed, noisy, normalised vector."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(pool_texts), n), rng.integers(0, len(pool_texts), n)
    w = rng.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
    vectors = w * pool_vectors[a] + (1 - w) * pool_vectors[b]
    vectors += rng.normal(0, NOISE, vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    units = []
    for i in range(n):
        text = f"{pool_texts[a[i]]} {pool_texts[b[i]]}"
        units.append(Chunk(f"syn{i // UNITS_PER_DOC:06d}", 0, len(text), text))
    return units, vectors.astype(np.float32)


def queries(embedder: Embedder, pool_vectors: np.ndarray, count: int, seed: int) -> tuple[list[str], np.ndarray]:
    """The real questions, embedded, topped up with noisy pool vectors."""
    questions = [
        json.loads(line)["question"]
        for path in QUESTION_FILES
        if path.exists()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ][:count]
    vectors = embedder.embed_many(questions) if questions else np.zeros((0, pool_vectors.shape[1]), np.float32)
    rng = np.random.default_rng(seed)
    extra = pool_vectors[rng.integers(0, len(pool_vectors), max(count - len(questions), 0))]
    extra = extra + rng.normal(0, 0.05, extra.shape).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    texts = questions + ["(pool vector)"] * len(extra)
    return texts, np.vstack([vectors, extra]).astype(np.float32)


# -- measuring ------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(search, queries) -> tuple[list[float], list]:
    """Per query: the fastest of REPEATS runs of `search(q)`, and its result."""
    times, results = [], []
    for q in queries:
        best, result = float("inf"), None
        for _ in range(REPEATS):
            t = time.perf_counter()
            result = search(q)
            best = min(best, time.perf_counter() - t)
        times.append(best)
        results.append(result)
    return times, results


def percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1000
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3), "p95_ms": round(float(np.percentile(arr, 95)), 3)}


def exact_top(vectors: np.ndarray, qvecs: np.ndarray) -> np.ndarray:
    """Brute-force top-K rows per query in numpy: the oracle, independent of FAISS."""
    scores = qvecs @ vectors.T
    part = np.argpartition(-scores, K, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def bench_index(vectors: np.ndarray, kind: str, qvecs: np.ndarray, exact: np.ndarray) -> dict:
    """Build one FAISS index of `kind` and measure it against the exact top-K rows."""
    t0 = time.perf_counter()
    faiss_index = build_faiss(vectors, kind)
    build_s = time.perf_counter() - t0
    # Flat and HNSW indexes hold everything in their serialised form: vectors (+ graph links).
    size = faiss.serialize_index(faiss_index).nbytes
    with one_thread():  # one query at a time, single-threaded, as `VectorTable.search` does
        times, found = timed(lambda q: faiss_index.search(q.reshape(1, -1), K)[1][0], qvecs)
    recall = float(np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact)]))
    out = {
        "kind": kind,
        "build_s": round(build_s, 3),
        "index_mib": round(size / 2**20, 1),
        **percentiles(times),
        "recall@10": round(recall, 4),
    }
    if kind == "hnsw":
        out["ef_sweep"] = ef_sweep(faiss_index, qvecs, exact)
    return out


def ef_sweep(index, qvecs: np.ndarray, exact: np.ndarray) -> list[dict]:
    """Recall and latency of an HNSW index at several efSearch values (the default is starred)."""
    rows = []
    for ef in (16, 32, 64, 128, 256):
        index.hnsw.efSearch = ef
        with one_thread():
            times, found = timed(lambda q: index.search(q.reshape(1, -1), K)[1][0], qvecs)
        rec = [len(set(f) & set(e)) / K for f, e in zip(found, exact)]
        rows.append({"ef_search": ef, **percentiles(times), "recall@10": round(float(np.mean(rec)), 4)})
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return rows


def bench_retriever(
    units: list[Chunk], vectors: np.ndarray, qtexts: list[str], qvecs: np.ndarray, dimension: int
) -> dict:
    """Latency of a whole hybrid search (FAISS + BM25 + fusion) at the default index kind."""
    from rag.retrieval import Retriever

    t0 = time.perf_counter()
    table = VectorTable(list(units), vectors)
    manifest = Manifest(
        "synthetic",
        dimension,
        {},
        {f"syn{i:06d}": DocEntry(f"syn{i:06d}", "") for i in range(len(units) // UNITS_PER_DOC + 1)},
    )
    store = IndexStore(manifest, table, table)
    retriever = Retriever(store, embedder=None)  # type: ignore[arg-type]  # query vectors are given
    setup_s = time.perf_counter() - t0
    asked = [
        (text if text != "(pool vector)" else units[i].text[:80], q) for i, (text, q) in enumerate(zip(qtexts, qvecs))
    ]
    # Duplicate folding needs the story detection, a corpus-wide pass of its own (see rag.dedup);
    # the synthetic corpus is nothing but repeats, so it is left out here.
    times, _ = timed(
        lambda pair: retriever.search(pair[0], 5, "chunks", "hybrid", query_vector=pair[1], collapse_duplicates=False),
        asked,
    )
    return {"kind": table.kind, "setup_s (faiss + bm25 x2)": round(setup_s, 2), **percentiles(times)}


def run(
    sizes: list[int],
    n_queries: int = 200,
    variants: int = 12,
    seed: int = 7,
    corpus_dir: Path = ROOT / "corpus",
    embedder: Embedder | None = None,
    retriever: bool = True,
) -> dict:
    embedder = embedder or SentenceTransformerEmbedder()
    t0 = time.perf_counter()
    pool_texts, pool_vectors = make_pool(corpus_dir, embedder, variants, seed)
    qtexts, qvecs = queries(embedder, pool_vectors, n_queries, seed)
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": _cpu_name(),
            "python": platform.python_version(),
            "faiss": faiss.__version__,
            "faiss_threads": faiss.omp_get_max_threads(),
        },
        "setup": {
            "pool_texts": len(pool_texts),
            "pool_embed_s": round(time.perf_counter() - t0, 1),
            "queries": len(qvecs),
            "k": K,
            "repeats": REPEATS,
            "noise": NOISE,
            "hnsw_min_units": HNSW_MIN_UNITS,
            "hnsw_ef_search": HNSW_EF_SEARCH,
        },
        "sizes": [],
    }
    for n in sizes:
        units, vectors = synthetic_units(pool_texts, pool_vectors, n, seed + n)
        top = exact_top(vectors, qvecs)
        entry = {
            "units": n,
            "default_kind": index_kind(n),
            "vectors_mib": round(vectors.nbytes / 2**20, 1),
            "indexes": [bench_index(vectors, kind, qvecs, top) for kind in ("flat", "hnsw")],
        }
        if retriever:
            entry["hybrid_search"] = bench_retriever(units, vectors, qtexts, qvecs, vectors.shape[1])
        entry["peak_rss_mib_so_far"] = round(peak_rss_mib(), 1)
        report["sizes"].append(entry)
        del units, vectors
    return report


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def markdown(report: dict) -> str:
    m, s = report["machine"], report["setup"]
    lines = [
        "# Scale benchmark: FAISS store, exact vs HNSW",
        "",
        f"Machine: {m['cpus']} CPUs ({m['processor']}), Python {m['python']}, faiss {m['faiss']} "
        f"({m['faiss_threads']} threads, searches run single-threaded). {s['queries']} queries, one at a time, "
        f"top-{s['k']}; each query timed {s['repeats']} times, fastest kept (the machine is shared).",
        f"Synthetic units: the real articles' sentences rewritten (pool of {s['pool_texts']} texts, embedded "
        "with MiniLM), two pool texts per unit, vector = weighted mix + noise (see `eval/bench/scale.py`).",
        f"The store switches from exact flat search to HNSW (M=32, efSearch={s['hnsw_ef_search']}) at "
        f"{s['hnsw_min_units']:,} units per table.",
        "",
        "Memory: `index MiB` is the index itself (vectors, plus graph links for HNSW); the process's peak "
        "RSS (model, pool, corpus, BM25 and both indexes) was "
        + ", ".join(f"{e['peak_rss_mib_so_far']:,.0f} MiB after {e['units']:,} units" for e in report["sizes"])
        + ".",
        "",
        "| units | index | default | build s | index MiB | p50 ms | p95 ms | recall@10 vs exact |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in report["sizes"]:
        for ix in e["indexes"]:
            lines.append(
                f"| {e['units']:,} | {ix['kind']} | {'yes' if ix['kind'] == e['default_kind'] else ''} | "
                f"{ix['build_s']} | {ix['index_mib']} | {ix['p50_ms']} | "
                f"{ix['p95_ms']} | {ix['recall@10']:.3f} |"
            )
    lines += [
        "",
        "HNSW efSearch sweep (recall@10 vs exact / p50 ms):",
        "",
        "| units | " + " | ".join(f"ef={r['ef_search']}" for r in report["sizes"][0]["indexes"][1]["ef_sweep"]) + " |",
        "|---|" + "---|" * len(report["sizes"][0]["indexes"][1]["ef_sweep"]),
    ]
    for e in report["sizes"]:
        sweep = e["indexes"][1]["ef_sweep"]
        lines.append(f"| {e['units']:,} | " + " | ".join(f"{r['recall@10']:.3f} / {r['p50_ms']}" for r in sweep) + " |")
    if any("hybrid_search" in e for e in report["sizes"]):
        lines += [
            "",
            "Whole hybrid search (`Retriever.search`, FAISS + BM25 over every unit + fusion, k=5), "
            "at the default index kind:",
            "",
            "| units | index | setup s | p50 ms | p95 ms |",
            "|---|---|---|---|---|",
        ]
        for e in report["sizes"]:
            h = e.get("hybrid_search")
            if h:
                lines.append(
                    f"| {e['units']:,} | {h['kind']} | {h['setup_s (faiss + bm25 x2)']} | {h['p50_ms']} | {h['p95_ms']} |"
                )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPORT_DIR)
    parser.add_argument("--no-retriever", action="store_true", help="skip the whole-search latency")
    args = parser.parse_args(argv)
    report = run(args.sizes, args.queries, retriever=not args.no_retriever)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    text = markdown(report)
    (args.out / "scale.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
