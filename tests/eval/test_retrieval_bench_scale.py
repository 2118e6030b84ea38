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


@pytest.mark.slow  # a whole benchmark run
def test_small_run_reports_every_number_and_writes_both_files(embedder, corpus_dir, tmp_path):
    one = tmp_path / "corpus"
    one.mkdir()
    shutil.copy(sorted(corpus_dir.glob("*.txt"))[3], one)
    report = bench_scale.run([800], n_queries=12, variants=1, corpus_dir=one, embedder=embedder)
    (size,) = report["sizes"]
    flat, hnsw = size["indexes"]
    assert (flat["kind"], hnsw["kind"], size["default_kind"]) == ("flat", "hnsw", "flat")
    assert flat["recall@10"] == 1.0  # exact search agrees with the numpy oracle
    assert 0.8 <= hnsw["recall@10"] <= 1.0
    for ix in (flat, hnsw):
        assert ix["p50_ms"] <= ix["p95_ms"] and ix["build_s"] >= 0 and ix["index_mib"] > 0
    assert hnsw["index_mib"] > flat["index_mib"]  # the graph costs memory
    assert [r["ef_search"] for r in hnsw["ef_sweep"]] == [16, 32, 64, 128, 256]
    assert size["hybrid_search"]["p50_ms"] > 0
    text = bench_scale.markdown(report)
    assert "| 800 | flat | yes |" in text and "| 800 | hnsw |  |" in text
    json.dumps(report)
