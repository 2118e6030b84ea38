"""Scale benchmark: a newsroom archive of 10k, 100k and 1M units on one machine.

For each size it writes a real index folder (synthetic articles on disk, both tables, FAISS,
BM25, same-story groups: everything `rag index` writes) and measures, each in a fresh process:

- build: units/s for everything after embedding (FAISS, BM25, stories, writing, checksums);
  embedding throughput is `bench.md`'s (the vectors here are synthesised, see below);
- cold `rag ask`: wall time of `rag ask` from process start to the printed answer, model load
  included, with the index present, and its peak RSS;
- warm hybrid search: p50/p95 of `Retriever.search` (FAISS + BM25 + fusion + duplicate folding)
  on the opened index, the time to open it, and that process's peak RSS;
- size on disk; and per FAISS index kind, search latency and recall@10 against exact search.

A projection to 10M and 100M units extrapolates the measured growth. Writes
`eval/reports/latest/scale.json` and `.md`.

    python -m eval.bench.scale [--sizes 10000 100000 1000000] [--queries 200] [--work DIR] [--out DIR]

Indexes are kept in `--work` and reused when their size and seed match (building 1M units takes
a while on a shared 2-core machine); `--rebuild` forces new ones.

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
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

import index.offline  # noqa: F401
from index.chunking import Chunk, ChunkSettings, Sentence, split_sentences
from index.documents import load_corpus
from index.embedding import Embedder, SentenceTransformerEmbedder, make_embedder
from index.store import (
    HNSW_EF_SEARCH,
    HNSW_MIN_UNITS,
    IVFPQ_MIN_UNITS,
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
    """Build one FAISS index of `kind` and measure it (through `VectorTable`, which re-ranks
    IVF-PQ candidates exactly) against the exact top-K rows."""
    t0 = time.perf_counter()
    faiss_index = build_faiss(vectors, kind)
    build_s = time.perf_counter() - t0
    table = VectorTable([None] * len(vectors), vectors, faiss_index)  # type: ignore[list-item]  # rows only
    size = faiss.serialize_index(faiss_index).nbytes  # flat/HNSW hold the vectors; IVF-PQ only codes
    with one_thread():  # one query at a time, single-threaded, as `VectorTable.dense` does
        times, found = timed(lambda q: table.neighbours(q.reshape(1, -1), K)[1][0], qvecs)
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


def kinds_for(n: int) -> list[str]:
    """Kinds compared at `n` units: exact always; HNSW below the IVF-PQ size (at 1M it takes
    longer to build on this machine than the rest of the index); IVF-PQ from 100k."""
    kinds = ["flat"]
    if n < IVFPQ_MIN_UNITS:
        kinds.append("hnsw")
    if n >= 100_000:
        kinds.append("ivfpq")
    return kinds


# -- a real index folder of synthetic articles ------------------------------------------------------


def write_archive(
    pool_texts: list[str], pool_vectors: np.ndarray, n: int, seed: int, folder: Path, embed_model: str
) -> dict:
    """Write `n` units as articles of `UNITS_PER_DOC` sentences to `folder/corpus` and their index
    (both tables over the same units and vectors) to `folder/index`; returns build measurements."""
    units, vectors = synthetic_units(pool_texts, pool_vectors, n, seed)
    corpus_dir, index_dir = folder / "corpus", folder / "index"
    shutil.rmtree(folder, ignore_errors=True)
    corpus_dir.mkdir(parents=True)
    sentences, chunks = [], []
    for first in range(0, n, UNITS_PER_DOC):
        doc_id = f"a{first // UNITS_PER_DOC:07d}"
        parts, offset = [], 0
        for u in units[first : first + UNITS_PER_DOC]:
            sentences.append(Sentence(doc_id, offset, offset + len(u.text), u.text))
            chunks.append(Chunk(doc_id, offset, offset + len(u.text), u.text))
            parts.append(u.text)
            offset += len(u.text) + 1
        (corpus_dir / f"{doc_id}.txt").write_text(" ".join(parts), encoding="utf-8")
    del units
    t0 = time.perf_counter()
    corpus = load_corpus(corpus_dir)
    read_s = time.perf_counter() - t0
    manifest = Manifest(
        embed_model,
        vectors.shape[1],
        ChunkSettings().to_dict(),
        {d.doc_id: DocEntry(d.source, d.sha256, d.title, d.publisher) for d in corpus.documents},
    )
    del corpus
    # Both tables hold the same units and vectors here, so their FAISS and BM25 indexes are the
    # same: built once and shared (a real corpus builds both; its chunks are ~3x fewer).
    stages = {}
    t0 = time.perf_counter()
    chunk_table = VectorTable(chunks, vectors)
    stages["faiss_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    tables = {
        "chunks": chunk_table,
        "sentences": VectorTable(sentences, vectors, chunk_table.faiss_index, chunk_table.bm25),
    }
    stages["bm25_s"] = round(time.perf_counter() - t0, 1)
    store = IndexStore(manifest, tables["chunks"], tables["sentences"])
    t0 = time.perf_counter()
    store.story_groups()
    stages["stories_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    store.save(index_dir)
    stages["write_s"] = round(time.perf_counter() - t0, 1)
    total = sum(stages.values())
    return {
        "units": n,
        "kind": tables["chunks"].kind,
        "corpus_read_s": round(read_s, 1),
        **stages,
        "build_s": round(total, 1),
        "units_per_s (both tables, excluding embedding)": round(n / total, 0),
        "build_peak_rss_mib": round(peak_rss_mib(), 0),
        "index_on_disk_mib": round(_du(index_dir) / 2**20, 0),
        "corpus_on_disk_mib": round(_du(corpus_dir) / 2**20, 0),
    }


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def warm_search(folder: Path, qtexts: list[str], qvecs: np.ndarray) -> dict:
    """Open the index as `Engine` does and time hybrid searches (run in a fresh process)."""
    from rag.retrieval import Retriever

    t0 = time.perf_counter()
    store = IndexStore.load(folder / "index")
    retriever = Retriever(store, embedder=None)  # type: ignore[arg-type]  # query vectors are given
    _ = retriever.stories
    open_s = time.perf_counter() - t0
    times, _ = timed(
        lambda pair: retriever.search(pair[0], 5, "chunks", "hybrid", query_vector=pair[1]), zip_q(qtexts, qvecs)
    )
    return {"open_s": round(open_s, 2), **percentiles(times), "peak_rss_mib": round(peak_rss_mib(), 0)}


def zip_q(qtexts: list[str], qvecs: np.ndarray) -> list[tuple[str, np.ndarray]]:
    return [(t if t != "(pool vector)" else "how many troops and how much money", q) for t, q in zip(qtexts, qvecs)]


def cold_ask(folder: Path, question: str, runs: int) -> dict:
    """`rag ask` in a fresh process per run: wall time to the printed answer, and peak RSS."""
    walls, rss = [], []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_BACKEND": "extractive"}
    env.pop("RAG_EMBED_BACKEND", None)  # the default embedder, which the archive is stamped with
    code = (
        "import atexit, resource, runpy, sys\n"
        "atexit.register(lambda: print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))\n"
        "sys.argv = ['rag'] + sys.argv[1:]\n"
        "runpy.run_module('rag.cli', run_name='__main__')\n"
    )
    argv = ["ask", "--corpus", str(folder / "corpus"), "--index-dir", str(folder / "index"), question]
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=1800
        )
        walls.append(time.perf_counter() - t0)
        if done.returncode != 0:
            return {"error": done.stderr[-2000:]}
        rss.append(int(done.stderr.rsplit("PEAK_RSS_KIB", 1)[1].split()[0]) / 1024)
        rebuilt = "rebuilding" in done.stderr or "building the index" in done.stderr
        if rebuilt:
            return {"error": "rag ask rebuilt the index instead of opening it: " + done.stderr[-500:]}
    return {
        "runs": runs,
        "wall_s": [round(w, 2) for w in walls],
        "best_s": round(min(walls), 2),
        "median_s": round(float(np.median(walls)), 2),
        "peak_rss_mib": round(max(rss), 0),
    }


def default_embedder(folder: Path) -> Embedder:
    """The embedder a default `rag ask` on `folder`'s index loads (ONNX fp32 when onnxruntime is
    installed, else torch; the export sits in the index folder, as `rag index` leaves it). The
    archive is stamped with its name: fp32 ONNX gives torch's vectors (cosine >= 0.999), which
    the synthetic vectors come from."""
    embedder = make_embedder(cache_dir=folder / "index")
    embedder.embed("warm up")
    return embedder


def open_breakdown(folder: Path) -> dict:
    """Where a cold open spends its time, stage by stage (run in a fresh process)."""
    out = {}
    t0 = time.perf_counter()
    from rag import Engine, Settings  # noqa: F401  (the imports `rag ask` pays for)

    out["import_rag_s"] = round(time.perf_counter() - t0, 2)
    # In `Engine.open`'s order: the index first, then only the articles it has not verified.
    t0 = time.perf_counter()
    store = IndexStore.load(folder / "index")
    out["load_index_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    corpus = load_corpus(folder / "corpus", known=store.known_documents())
    out["load_corpus_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    embedder = default_embedder(folder)
    embedder.embed("warm up")
    out["load_model_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    Engine(Settings(corpus_dir=folder / "corpus", index_dir=folder / "index"), corpus, store, embedder)
    out["engine_init_s"] = round(time.perf_counter() - t0, 2)
    out["peak_rss_mib"] = round(peak_rss_mib(), 0)
    return out


# -- running ---------------------------------------------------------------------------------------


def _child(step: str, *args: str) -> dict:
    """Run one measuring step in a fresh process (so its memory and cold start are its own)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "eval.bench.scale", "--step", step, *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pool(work: Path, variants: int, seed: int) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """The pool and queries, embedded once and kept in `work` for every step."""
    path = work / f"pool-{variants}-{seed}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        return list(data["texts"]), data["vectors"], list(data["qtexts"]), data["qvecs"]
    embedder = SentenceTransformerEmbedder()
    texts, vectors = make_pool(ROOT / "corpus", embedder, variants, seed)
    qtexts, qvecs = queries(embedder, vectors, 200, seed)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(path, texts=np.array(texts), vectors=vectors, qtexts=np.array(qtexts), qvecs=qvecs)
    return texts, vectors, qtexts, qvecs


def step(name: str, args: argparse.Namespace) -> dict:
    texts, vectors, qtexts, qvecs = _pool(args.work, args.variants, args.seed)
    qtexts, qvecs = qtexts[: args.queries], qvecs[: args.queries]
    n = args.sizes[0]
    folder = args.work / f"archive-{n}-{args.seed}"
    if name == "build":
        embedder = make_embedder(cache_dir=folder / "index")  # exports on first use, below
        out = write_archive(texts, vectors, n, args.seed + n, folder, embedder.name)
        embedder.embed("export")  # into the index folder, once the save has claimed it
        (folder / "build.json").write_text(json.dumps(out), encoding="utf-8")
        return out
    if name == "kinds":
        _, unit_vectors = synthetic_units(texts, vectors, n, args.seed + n)
        top = exact_top(unit_vectors, qvecs)
        return {"indexes": [bench_index(unit_vectors, kind, qvecs, top) for kind in kinds_for(n)]}
    if name == "warm":
        return warm_search(folder, qtexts, qvecs)
    if name == "open":
        return open_breakdown(folder)
    raise ValueError(f"unknown step {name!r}")


def run(args: argparse.Namespace) -> dict:
    texts, _, qtexts, qvecs = _pool(args.work, args.variants, args.seed)
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": _cpu_name(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "faiss": faiss.__version__,
        },
        "setup": {
            "pool_texts": len(texts),
            "queries": min(args.queries, len(qvecs)),
            "k": K,
            "repeats": REPEATS,
            "noise": NOISE,
            "units_per_article": UNITS_PER_DOC,
            "hnsw_min_units": HNSW_MIN_UNITS,
            "ivfpq_min_units": IVFPQ_MIN_UNITS,
            "hnsw_ef_search": HNSW_EF_SEARCH,
        },
        "sizes": [],
    }
    common = ["--work", str(args.work), "--queries", str(args.queries), "--seed", str(args.seed)]
    for n in args.sizes:
        folder = args.work / f"archive-{n}-{args.seed}"
        per = [*common, "--sizes", str(n)]
        if args.rebuild or not (folder / "build.json").exists():
            print(f"building {n:,} units ...", file=sys.stderr, flush=True)
            build = _child("build", *per)
        else:
            build = json.loads((folder / "build.json").read_text(encoding="utf-8"))
            build["reused"] = True
        entry = {"units": n, "default_kind": index_kind(n), "build": build}
        print(f"measuring {n:,} units ...", file=sys.stderr, flush=True)
        question = qtexts[0]
        cold_ask(folder, question, 1)  # the first open after a build verifies every checksum: not timed
        entry["cold_ask"] = cold_ask(folder, question, args.cold_runs)
        entry["open_breakdown"] = _child("open", *per)
        entry["warm_hybrid"] = _child("warm", *per)
        if not args.no_kinds:
            entry["kinds"] = _child("kinds", *per).get("indexes")
        report["sizes"].append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["projection"] = projection(report["sizes"])
    return report


TARGETS = {"cold_ask_s": 10.0, "warm_p95_ms": 50.0, "peak_rss_gib": 8.0}
MACHINE_RAM_GIB = 23.0


def projection(sizes: list[dict]) -> list[dict]:
    """10M and 100M units, extrapolated from the two largest sizes measured (log-log slope)."""
    ok = sorted(
        (e for e in sizes if "error" not in e.get("cold_ask", {}) and "error" not in e.get("warm_hybrid", {})),
        key=lambda e: e["units"],
    )
    if len(ok) < 2:
        return []
    a, b = ok[-2], ok[-1]
    metrics = {
        "build_s": lambda e: e["build"]["build_s"],
        "index_on_disk_gib": lambda e: e["build"]["index_on_disk_mib"] / 1024,
        "cold_ask_s": lambda e: e["cold_ask"]["best_s"],
        "warm_p95_ms": lambda e: e["warm_hybrid"]["p95_ms"],
        "peak_rss_gib": lambda e: max(e["cold_ask"]["peak_rss_mib"], e["warm_hybrid"]["peak_rss_mib"]) / 1024,
    }
    rows = []
    for target in (10_000_000, 100_000_000):
        row: dict = {"units": target}
        for name, get in metrics.items():
            va, vb = get(a), get(b)
            slope = np.log(vb / va) / np.log(b["units"] / a["units"]) if va > 0 and vb > 0 else 1.0
            slope = max(float(slope), 0.0)  # a cost measured shrinking with size is noise: held flat
            row[name] = round(float(vb * (target / b["units"]) ** slope), 1)
            row[f"{name}_growth"] = round(float(slope), 2)
        row["verdict"] = _verdict(row)
        rows.append(row)
    return rows


def _verdict(row: dict) -> str:
    limits = []
    if row["peak_rss_gib"] > MACHINE_RAM_GIB:
        limits.append(f"memory ({row['peak_rss_gib']} GiB > {MACHINE_RAM_GIB} GiB of RAM)")
    if row["index_on_disk_gib"] > 0.8 * MACHINE_RAM_GIB:
        limits.append("index no longer fits in the page cache")
    if row["cold_ask_s"] > TARGETS["cold_ask_s"]:
        limits.append(f"cold start ({row['cold_ask_s']} s)")
    if row["warm_p95_ms"] > TARGETS["warm_p95_ms"]:
        limits.append(f"query latency (p95 {row['warm_p95_ms']} ms)")
    if row["build_s"] > 8 * 3600:
        limits.append(f"build time ({row['build_s'] / 3600:.0f} h without embedding)")
    return "one machine still enough" if not limits else "one machine not enough: " + "; ".join(limits)


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
        "# Scale benchmark: a newsroom archive on one machine",
        "",
        f"Machine: {m['cpus']} CPUs ({m['processor']}), {m['memory_gib']} GiB RAM, Python {m['python']}, "
        f"faiss {m['faiss']}. Shared with other sessions: load average {m['load_average_at_start']} at the "
        f"start, {report.get('load_average_at_end')} at the end, so every time here is pessimistic.",
        f"Synthetic archive: the real articles' sentences rewritten (pool of {s['pool_texts']} texts embedded "
        f"with MiniLM), two pool texts per unit, vector = weighted mix + noise, {s['units_per_article']} units "
        "per article written to disk as real files; both tables (chunks, sentences) hold every unit "
        "(see `eval/bench/scale.py`). Index kinds by size: flat, HNSW from "
        f"{s['hnsw_min_units']:,}, IVF-PQ (exact re-ranking) from {s['ivfpq_min_units']:,} units per table.",
        "",
        "## Targets at 1M units",
        "",
    ]
    if not any(e["units"] == 1_000_000 for e in report["sizes"]):
        lines.append("- 1M units: not measured in this run (see the notes below).")
    for e in report["sizes"]:
        if e["units"] != 1_000_000:
            continue
        c, w = e["cold_ask"], e["warm_hybrid"]
        if "error" in c or "error" in w:
            lines.append(f"- not measured: {c.get('error') or w.get('error')}")
            continue
        rss = max(c["peak_rss_mib"], w["peak_rss_mib"]) / 1024
        lines += [
            f"- cold `rag ask`: {c['best_s']} s best of {c['runs']} (target <= 10 s): "
            f"{'met' if c['best_s'] <= 10 else 'NOT met'}",
            f"- warm hybrid p95: {w['p95_ms']} ms (target <= 50 ms): {'met' if w['p95_ms'] <= 50 else 'NOT met'}",
            f"- peak RSS: {rss:.2f} GiB (target <= 8 GiB): {'met' if rss <= 8 else 'NOT met'}",
        ]
    lines += [
        "",
        "## Build, open and query",
        "",
        "Build = everything after embedding (embedding throughput: `bench.md`). Both tables hold the same "
        "units here, so FAISS and BM25 are built once and shared; stories run over all sentences.",
        "",
        "| units | kind | build s | units/s | FAISS s | BM25 s | stories s | write s | build RSS MiB | "
        "index MiB on disk | cold ask s (runs) | cold ask RSS MiB | open s | warm p50 ms | warm p95 ms | warm RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in report["sizes"]:
        b, c, w = e["build"], e["cold_ask"], e["warm_hybrid"]
        if "error" in b:
            lines.append(f"| {e['units']:,} | build failed: {b['error'][-200:]!r} |")
            continue
        cold = f"{c['best_s']} ({', '.join(map(str, c['wall_s']))})" if "error" not in c else "error"
        lines.append(
            f"| {e['units']:,} | {b['kind']} | {b['build_s']} | {b['units_per_s (both tables, excluding embedding)']:,.0f} | "
            f"{b['faiss_s']} | {b['bm25_s']} | {b['stories_s']} | {b['write_s']} | {b['build_peak_rss_mib']:,.0f} | "
            f"{b['index_on_disk_mib']:,.0f} | {cold} | {c.get('peak_rss_mib', '')} | {w.get('open_s', '')} | "
            f"{w.get('p50_ms', '')} | {w.get('p95_ms', '')} | {w.get('peak_rss_mib', '')} |"
        )
    lines += ["", "Where a cold `rag ask` spends its time (each stage in a fresh process):", ""]
    keys = ["import_rag_s", "load_index_s", "load_corpus_s", "load_model_s", "engine_init_s", "peak_rss_mib"]
    lines += ["| units | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for e in report["sizes"]:
        o = e.get("open_breakdown", {})
        lines.append(f"| {e['units']:,} | " + " | ".join(str(o.get(k, o.get("error", "")[-80:])) for k in keys) + " |")
    if any(e.get("kinds") for e in report["sizes"]):
        lines += [
            "",
            "## FAISS index kinds",
            "",
            "One query at a time, single-threaded; IVF-PQ candidates re-ranked with exact cosines "
            "(as `VectorTable.dense` does). `index MiB` is what the kind keeps in memory (IVF-PQ: codes "
            "only; its re-ranking reads the memory-mapped vectors).",
            "",
            "| units | index | default | build s | index MiB | p50 ms | p95 ms | recall@10 vs exact |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for e in report["sizes"]:
            for ix in e.get("kinds") or []:
                lines.append(
                    f"| {e['units']:,} | {ix['kind']} | {'yes' if ix['kind'] == e['default_kind'] else ''} | "
                    f"{ix['build_s']} | {ix['index_mib']} | {ix['p50_ms']} | {ix['p95_ms']} | {ix['recall@10']:.3f} |"
                )
    if report.get("projection"):
        lines += [
            "",
            "## Projection",
            "",
            "Extrapolated from the two largest sizes measured (each metric's log-log growth between them, "
            "shown as the exponent; a metric that shrank between them is held flat). Embedding is not "
            "included in build time.",
            "",
            "| units | build s | index GiB | cold ask s | warm p95 ms | peak RSS GiB | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in report["projection"]:
            lines.append(
                f"| {r['units']:,} | {r['build_s']:,} (x^{r['build_s_growth']}) | {r['index_on_disk_gib']} "
                f"(x^{r['index_on_disk_gib_growth']}) | {r['cold_ask_s']} (x^{r['cold_ask_s_growth']}) | "
                f"{r['warm_p95_ms']} (x^{r['warm_p95_ms_growth']}) | {r['peak_rss_gib']} "
                f"(x^{r['peak_rss_gib_growth']}) | {r['verdict']} |"
            )
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--variants", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-scale"))
    parser.add_argument("--out", type=Path, default=REPORT_DIR)
    parser.add_argument("--rebuild", action="store_true", help="build the indexes again even if --work has them")
    parser.add_argument("--no-kinds", action="store_true", help="skip the per-kind recall/latency comparison")
    parser.add_argument("--note", action="append", default=[], help="a note for the report (repeatable)")
    parser.add_argument("--render", type=Path, help="only write the report again from this scale.json")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(step(args.step, args)))
        return 0
    if args.render:
        report = json.loads(args.render.read_text(encoding="utf-8"))
        report["projection"] = projection(report["sizes"])
    else:
        report = run(args)
    report["notes"] = [*report.get("notes", []), *args.note]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    text = markdown(report)
    (args.out / "scale.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
