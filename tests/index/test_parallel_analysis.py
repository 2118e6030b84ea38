"""Large builds analyse sentences in worker processes (index/parallel_analysis.py): same result."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import index.build
import index.parallel_analysis as parallel
from index.build import build_index
from index.chunking import split_sentences
from index.documents import load_corpus
from index.embedding import Embedder
from index.sentence_analysis import analyse

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
SNAPSHOT = ROOT / "tests" / "fixtures" / "analysis_corpus.json"  # see test_analysis_snapshot.py


@pytest.fixture(scope="module")
def items():
    return [(d, split_sentences(d)) for d in load_corpus(CORPUS).documents]


def _counting(calls: list):
    def counted(doc, sentences):
        calls.append(doc.doc_id)
        return analyse(doc, sentences)

    return counted


@pytest.mark.subprocess  # two worker processes, each loading spaCy
def test_workers_give_the_in_process_analysis(items, monkeypatch):
    monkeypatch.setattr(parallel, "WORKER_MIN_DOCUMENTS", 1)
    calls: list[str] = []
    found = parallel.Analyses(items, _counting(calls), workers=2).result()
    assert calls == []  # every document went to a worker
    expected = [analyse(doc, sentences) for doc, sentences in items]
    assert [[a.to_dict() for a in doc] for doc in found] == [[a.to_dict() for a in doc] for doc in expected]


def test_small_builds_stay_in_process(items):
    calls: list[str] = []
    found = parallel.Analyses(items, _counting(calls)).result()
    assert len(items) < parallel.WORKER_MIN_DOCUMENTS
    assert calls == [doc.doc_id for doc, _ in items]
    assert len(found) == len(items)


def test_a_failing_worker_falls_back_to_the_building_process(items, monkeypatch):
    monkeypatch.setattr(parallel, "WORKER_MIN_DOCUMENTS", 1)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker exits 1 at once
    calls: list[str] = []
    found = parallel.Analyses(items, _counting(calls), workers=1).result()
    assert calls == [doc.doc_id for doc, _ in items]
    assert [len(a) for a in found] == [len(s) for _, s in items]


def test_cancel_stops_the_workers(items, monkeypatch):
    monkeypatch.setattr(parallel, "WORKER_MIN_DOCUMENTS", 1)
    analyses = parallel.Analyses(items, analyse, workers=1)
    processes = [w.process for w in analyses._workers]
    analyses.cancel()
    assert processes and all(p.poll() is not None for p in processes)


class _HashEmbedder(Embedder):
    """Vectors from a hash of the text: this test is about the stored analysis, not the vectors."""

    name = "hash-test"
    dimension = 8

    def embed_batch(self, texts):
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest()[:32], dtype=np.uint8)[:8] for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), self.dimension) + 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.subprocess  # a worker process loading spaCy
def test_a_build_with_workers_stores_the_snapshot_analysis(monkeypatch, tmp_path):
    monkeypatch.setattr(parallel, "WORKER_MIN_DOCUMENTS", 1)
    monkeypatch.setattr(index.build, "analyse", _refuse)  # the build must not analyse in-process
    store, _ = build_index(load_corpus(CORPUS), tmp_path / "index", _HashEmbedder())
    stored: dict[str, list] = {}
    for unit in store.sentences.units:
        stored.setdefault(unit.doc_id, []).append(unit.analysis.to_dict())
    assert stored == json.loads(SNAPSHOT.read_text(encoding="utf-8"))["documents"]


def _refuse(doc, sentences):
    raise AssertionError(f"{doc.doc_id} analysed in the building process")
