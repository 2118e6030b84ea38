"""The Milvus store (Milvus Lite, in-process): same units, same BM25, same citations as FAISS.

Needs the `scale` extra (pymilvus, milvus-lite); skipped without it. Milvus Lite runs in this
process with a file as its database, so these tests start no cluster.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.milvus_store import MilvusTarget, StoreUriError, parse_store, term_code

ROOT = Path(__file__).resolve().parents[2]
GOLD_SAMPLE = 12  # the first gold questions, asked of both stores
CORPUS_QUESTIONS = (
    "How much must partners pay for Ukraine's defence in 2026?",
    "Who leads the US delegation?",
    "What share of economic output should nations dedicate?",
    "How many nations took part?",
) + tuple(
    json.loads(line)["question"]
    for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()[:GOLD_SAMPLE]
)


def test_store_values_name_faiss_lite_or_server() -> None:
    assert parse_store("") is None and parse_store("faiss") is None
    assert parse_store("milvus:///tmp/x.db") == MilvusTarget("/tmp/x.db")
    assert parse_store("http://host:19530?prefix=news") == MilvusTarget("http://host:19530", "news")
    with pytest.raises(StoreUriError, match=r"ending in \.db"):
        parse_store("milvus:///tmp/x")
    with pytest.raises(StoreUriError, match="faiss"):
        parse_store("postgres://db")


def test_term_codes_are_single_alphanumeric_tokens() -> None:
    codes = [term_code(t) for t in ("$120", "60", "<money>", "it's", "1,000")]
    assert all(c.isalnum() for c in codes) and len(set(codes)) == len(codes)


@pytest.fixture(scope="module")
def milvus_engine(tmp_path_factory, embedder, corpus_dir):
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from rag import Engine, Settings

    db = tmp_path_factory.mktemp("milvus") / "store.db"
    settings = Settings(corpus_dir=corpus_dir, index_dir=tmp_path_factory.mktemp("unused"), store=f"milvus://{db}")
    return Engine.open(settings, embedder=embedder, log=None)


def test_milvus_store_holds_the_faiss_units_and_vectors(milvus_engine, engine) -> None:
    for name in ("chunks", "sentences"):
        milvus, faiss = milvus_engine.store.table(name), engine.store.table(name)
        assert list(milvus.units) == list(faiss.units)  # spans, text, analysis and flags
        np.testing.assert_allclose(milvus.vectors, faiss.vectors, atol=1e-6)
    assert milvus_engine.store.manifest.documents == engine.store.manifest.documents


def test_milvus_bm25_equals_bm25s_on_our_terms(milvus_engine, engine) -> None:
    """Milvus' BM25 function over coded terms gives bm25s' scores, so fusion is unchanged."""
    from rag.retrieval import question_terms

    for name in ("chunks", "sentences"):
        milvus, faiss = milvus_engine.retriever.table(name), engine.retriever.table(name)
        rows = list(range(len(faiss)))
        for question in CORPUS_QUESTIONS:
            terms = question_terms(question)
            np.testing.assert_allclose(milvus.lexical_scores(terms, rows), faiss.lexical_scores(terms, rows), rtol=1e-5)
            assert milvus.lexical_bound(terms) == pytest.approx(faiss.lexical_bound(terms), rel=1e-5)
            assert [r for r, _ in milvus.lexical(terms, 10)] == [r for r, _ in faiss.lexical(terms, 10)]
            query = engine.embedder.embed(question)
            assert [r for r, _ in milvus.dense(query, 10)] == [r for r, _ in faiss.dense(query, 10)]


def test_engine_on_milvus_lite_cites_exact_spans_like_faiss(milvus_engine, engine) -> None:
    docs = milvus_engine.corpus.by_id
    cited = 0
    for question in CORPUS_QUESTIONS:
        answer, expected = milvus_engine.ask(question), engine.ask(question)
        cited += bool(answer.citations)
        for c in answer.citations:
            assert docs[c.doc_id].text[c.start : c.end] == c.text
        assert [(c.doc_id, c.start, c.end) for c in answer.citations] == [
            (c.doc_id, c.start, c.end) for c in expected.citations
        ]
        assert answer.text == expected.text
    assert cited >= len(CORPUS_QUESTIONS) // 2  # most questions are answered, with citations


def test_incremental_rebuild_upserts_and_deletes_by_document(tmp_path, corpus_copy, embedder) -> None:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from index.build import build_index, build_milvus
    from index.documents import load_corpus
    from index.milvus_store import MilvusStore
    from index.terms import unit_terms

    target = MilvusTarget(str(tmp_path / "inc.db"))
    first, report = build_milvus(load_corpus(corpus_copy), target, embedder, unit_terms)
    assert report.added and not report.changed
    files = sorted(corpus_copy.glob("*.txt")) or sorted(p for p in corpus_copy.iterdir() if p.is_file())
    files[0].write_text(
        files[0].read_text(encoding="utf-8") + "\nA closing line with 42 new words.\n", encoding="utf-8"
    )
    files[1].unlink()
    corpus = load_corpus(corpus_copy)
    _, report = build_milvus(corpus, target, embedder, unit_terms)
    assert len(report.changed) == 1 and len(report.removed) == 1 and report.unchanged
    assert report.embedded_units < len(first.chunks) + len(first.sentences)
    reopened = MilvusStore.load(target)
    expected, _ = build_index(corpus, tmp_path / "faiss", embedder)
    for name in ("chunks", "sentences"):
        assert list(reopened.table(name).units) == list(expected.table(name).units)
        np.testing.assert_allclose(reopened.table(name).vectors, expected.table(name).vectors, atol=1e-6)
    for doc in corpus.documents:
        for unit in reopened.sentences.units:
            if unit.doc_id == doc.doc_id:
                assert doc.text[unit.start : unit.end] == unit.text
    shutil.rmtree(tmp_path / "faiss")
