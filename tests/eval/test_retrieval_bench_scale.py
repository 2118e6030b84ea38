"""The scale benchmark's machinery on a small synthetic corpus (the real run is 10k and 100k)."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

from eval.bench import scale as bench_scale


def test_variations_keep_the_sentence_recognisable():
    rng = random.Random(1)
    text = "Shmyhal asked the 26 countries present to give 0.25% of their output, said Merz, in Berlin."
    variants = {bench_scale.vary(text, rng) for _ in range(20)}
    assert len(variants) > 5 and all("countries" in v for v in variants)


def test_exact_top_is_the_brute_force_order():
    rng = np.random.default_rng(0)
    vectors, queries = rng.normal(size=(300, 8)).astype(np.float32), rng.normal(size=(4, 8)).astype(np.float32)
    top = bench_scale.exact_top(vectors, queries)
    for q, rows in zip(queries, top):
        assert rows.tolist() == np.argsort(-(vectors @ q))[: bench_scale.K].tolist()


def _entry(units: int, build_s: float, disk_mib: float, cold_s: float, p95: float, rss_mib: float) -> dict:
    return {
        "units": units,
        "default_kind": "flat",
        "build": {"build_s": build_s, "index_on_disk_mib": disk_mib},
        "cold_ask": {"best_s": cold_s, "peak_rss_mib": rss_mib},
        "warm_hybrid": {"p95_ms": p95, "peak_rss_mib": rss_mib / 2},
    }


def test_projection_follows_the_measured_growth_and_names_what_runs_out():
    sizes = [_entry(100_000, 100.0, 500.0, 5.0, 10.0, 1024.0), _entry(10_000, 10.0, 50.0, 4.0, 5.0, 512.0)]
    ten_m, hundred_m = bench_scale.projection(sizes)
    assert ten_m["units"] == 10_000_000 and hundred_m["units"] == 100_000_000
    assert ten_m["build_s_growth"] == 1.0 and ten_m["build_s"] == 10_000.0  # linear: x100 from 100k
    assert ten_m["peak_rss_gib"] == 4.0  # x2 per x10 units: 1 GiB -> 4 GiB at 10M
    assert hundred_m["peak_rss_gib"] == 8.0
    assert "query latency" not in ten_m["verdict"]
    assert "index no longer fits in the page cache" in hundred_m["verdict"]  # 500 MiB x 1000


def test_projection_needs_two_measured_sizes():
    assert bench_scale.projection([_entry(10_000, 1.0, 1.0, 1.0, 1.0, 1.0)]) == []


@pytest.mark.slow  # a small archive written to disk and searched
def test_small_archive_opens_without_rebuilding_and_reports_every_number(embedder, corpus_dir, tmp_path):
    from index.build import check_fresh
    from index.chunking import ChunkSettings
    from index.documents import load_corpus
    from index.store import IndexStore

    one = tmp_path / "corpus"
    one.mkdir()
    shutil.copy(sorted(corpus_dir.glob("*.txt"))[3], one)
    texts, vectors = bench_scale.make_pool(one, embedder, 1, 3)
    qtexts, qvecs = bench_scale.queries(embedder, vectors, 12, 3)
    folder = tmp_path / "archive"
    build = bench_scale.write_archive(texts, vectors, 400, 3, folder, embedder.name)
    assert build["units"] == 400 and build["build_s"] > 0 and build["index_on_disk_mib"] > 0
    store = IndexStore.load(folder / "index")
    check_fresh(store, load_corpus(folder / "corpus"), embedder.name, ChunkSettings())  # `rag ask` would not rebuild
    doc = load_corpus(folder / "corpus").by_id[store.sentences.units[5].doc_id]
    unit = store.sentences.units[5]
    assert doc.text[unit.start : unit.end] == unit.text  # offsets into the article, as the contract says
    warm = bench_scale.warm_search(folder, qtexts, qvecs)
    assert 0 < warm["p50_ms"] <= warm["p95_ms"] and warm["open_s"] > 0
    _, unit_vectors = bench_scale.synthetic_units(texts, vectors, 400, 3)
    top = bench_scale.exact_top(unit_vectors, qvecs)
    flat, ivfpq = (bench_scale.bench_index(unit_vectors, kind, qvecs, top) for kind in ("flat", "ivfpq"))
    assert flat["recall@10"] == 1.0 and ivfpq["recall@10"] >= 0.9
    report = {
        "machine": {
            "cpus": 2,
            "processor": "x",
            "memory_gib": 1,
            "load_average_at_start": [0],
            "python": "3",
            "faiss": "1",
        },
        "setup": {"pool_texts": len(texts), "units_per_article": 20, "hnsw_min_units": 1, "ivfpq_min_units": 2},
        "sizes": [
            {
                "units": 400,
                "default_kind": "flat",
                "build": build,
                "cold_ask": {"runs": 1, "wall_s": [1.0], "best_s": 1.0, "peak_rss_mib": 1.0},
                "warm_hybrid": warm,
                "kinds": [flat, ivfpq],
            }
        ],
        "notes": ["a test run"],
    }
    text = bench_scale.markdown(report)
    assert "not measured in this run" in text and "| 400 | flat | yes |" in text and "- a test run" in text
    json.dumps(report)
