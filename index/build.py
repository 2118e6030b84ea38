"""Building and refreshing the index incrementally.

Unchanged documents (same sha256) keep their chunks, sentences (with their analysis) and vectors;
new or changed ones are split, parsed (index/sentence_analysis.py) and embedded; removed ones drop out. A
change of embedding model or chunking makes every old vector unusable, so the whole corpus is
embedded again.

Chunks are embedded on their own (`CHUNK_VECTORS = "embedded"`), although their sentences already
are. Deriving a chunk's vector as the normalised mean of its sentences' vectors ("derived") skips
more than half the embedding work, but the mean is not the chunk's embedding (cosine 0.92 on
average, 0.80 at worst on corpus/; weighting by length gave 0.93) and gold hybrid recall@5 fell
from 0.923 to 0.896, dense from 0.849 to 0.806: more than the one point allowed (eval/bench/ingest.py,
eval/reports/latest/bench.md). The choice is part of the index key, like the embedding model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from index import converted
from index.chunking import Chunk, ChunkSettings, Sentence, TextUnit, make_chunks, split_sentences
from index.documents import Corpus, Document
from index.embedding import Embedder
from index.errors import IndexMissing, IndexStale, RagError
from index.lock import Log, index_lock
from index.parallel_analysis import Analyses
from index.search_table import Store
from index.sentence_analysis import analyse
from index.store import (
    INDEX_KINDS,
    DocEntry,
    IndexStore,
    Manifest,
    VectorTable,
    check_location,
    claim,
    clean,
)
from index.store import index_kind as kind_for

if TYPE_CHECKING:
    from index.milvus_store import MilvusStore, MilvusTarget

Progress = Callable[[int, int], None]
# Embeds texts in order (e.g. on a Ray cluster: index/ray_embed.py); the embedder's own batches otherwise.
EmbedMany = Callable[[Sequence[str], Progress | None], np.ndarray]

# New or changed documents with their chunks and sentences.
Split = list[tuple[Document, list[Chunk], list[Sentence]]]

CHUNK_VECTOR_MODES = ("derived", "embedded")
CHUNK_VECTORS = "embedded"


def index_key(embed_model: str, chunk_vectors: str = CHUNK_VECTORS) -> str:
    """What the manifest records as the vectors' origin: the embedder's name and how chunks got theirs."""
    if chunk_vectors not in CHUNK_VECTOR_MODES:
        raise RagError(f"unknown chunk vector mode {chunk_vectors!r}; choose one of {', '.join(CHUNK_VECTOR_MODES)}")
    return embed_model if chunk_vectors == "embedded" else f"{embed_model}+chunk-mean"


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Documents whose stored rows did not match the manifest or the files (a Milvus store that an
    # interrupted build left half-written): embedded and written again.
    repaired: list[str] = field(default_factory=list)
    embedded_units: int = 0
    full_rebuild_reason: str = ""

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.repaired or self.full_rebuild_reason)

    def summary(self) -> str:
        parts = [
            f"{len(v)} {k}"
            for k, v in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
                ("unchanged", self.unchanged),
            )
        ]
        if self.repaired:
            parts.append(f"{len(self.repaired)} repaired")
        text = ", ".join(parts) + f"; {self.embedded_units} units embedded"
        if self.full_rebuild_reason:
            text += f" (full rebuild: {self.full_rebuild_reason})"
        return text


def staleness(
    manifest: Manifest,
    corpus: Corpus | None,
    embed_model: str,
    chunking: ChunkSettings,
    chunk_vectors: str = CHUNK_VECTORS,
) -> str:
    """Why an index no longer fits the corpus and settings, or '' if it does."""
    key = index_key(embed_model, chunk_vectors)
    if manifest.embed_model != key:
        return f"embedding model changed ({manifest.embed_model} -> {key})"
    if manifest.chunking != chunking.to_dict():
        return f"chunking settings changed ({manifest.chunking} -> {chunking.to_dict()})"
    if corpus is not None:
        current = {d.doc_id: d.sha256 for d in corpus.documents}
        indexed = {k: v.sha256 for k, v in manifest.documents.items()}
        if current != indexed:
            diff = sorted(set(current) ^ set(indexed)) or sorted(k for k in current if current[k] != indexed.get(k))
            return f"documents changed since the index was built ({', '.join(diff[:5])})"
    return ""


def check_fresh(store: Store, corpus: Corpus | None, embed_model: str, chunking: ChunkSettings) -> None:
    """`IndexStale` if the index was built from other documents or settings; for a Milvus store,
    `IndexCorrupt` if a unit's text is not its file's text at its span (`MilvusStore.check_texts`)."""
    reason = staleness(store.manifest, corpus, embed_model, chunking)
    if reason:
        raise IndexStale(f"index is stale: {reason}; rebuild with 'rag index'")
    from index.milvus_store import MilvusStore

    if corpus is not None and isinstance(store, MilvusStore):
        store.check_texts(corpus)


def _reusable(
    index_dir: Path, embed_model: str, chunking: ChunkSettings, chunk_vectors: str
) -> tuple[IndexStore | None, str]:
    try:
        store = IndexStore.load(index_dir)
    except IndexMissing:
        return None, ""
    except RagError as exc:
        return None, str(exc)
    reason = staleness(store.manifest, None, embed_model, chunking, chunk_vectors)
    return (None, reason) if reason else (store, "")


def _rows_by_doc(table: VectorTable) -> dict[str, list[int]]:
    """Each document's rows in table order, from the span arrays (no row is parsed)."""
    spans = table.spans
    return {d: sorted(int(r) for r in spans.rows_of(d)) for d in spans.docs}


def _embed_by_length(
    embedder: Embedder, texts: list[str], progress: Progress | None, embed: EmbedMany | None = None
) -> np.ndarray:
    """Embed shortest first, so each batch pads to similar lengths; rows come back in `texts` order.

    A batch is padded to its longest text; in document order a 700-character chunk sits beside
    short sentences. Measured with the model's tokenizer, document order processed 1.87x the real
    tokens on corpus/ and length order 1.31x (1.21x and 1.12x on a 250 KB article).
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    ordered = [texts[i] for i in order]
    if embed is not None:
        sorted_vectors = np.asarray(embed(ordered, progress), dtype=np.float32).reshape(len(texts), embedder.dimension)
    else:
        sorted_vectors = embedder.embed_many(ordered, progress=progress)
    vectors = np.empty_like(sorted_vectors)
    vectors[order] = sorted_vectors
    return vectors


def chunk_means(chunks: list, sentences: list, sentence_vectors: np.ndarray) -> np.ndarray:
    """Each chunk's vector: the normalised mean of the vectors of the sentences inside its span.

    Chunks are runs of whole sentences of one document (index/chunking.py), so every chunk has at
    least one; a chunk without one would be a chunking bug, reported rather than given a zero.
    """
    starts = np.array([s.start for s in sentences])
    ends = np.array([s.end for s in sentences])
    out = np.empty((len(chunks), sentence_vectors.shape[1]), dtype=np.float32)
    for i, chunk in enumerate(chunks):
        inside = np.flatnonzero((starts >= chunk.start) & (ends <= chunk.end))
        if not len(inside):
            raise RagError(
                f"chunk {chunk.doc_id}:{chunk.start}-{chunk.end} holds no sentence; chunking is inconsistent"
            )
        mean = sentence_vectors[inside].mean(axis=0)
        out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out


def _split(docs: list[Document], chunking: ChunkSettings) -> tuple[Split, Analyses]:
    """Each new or changed document's chunks and sentences, and their analyses under way.

    Unchanged documents keep their stored analysis; these are parsed once (index/sentence_analysis.py), in a
    worker process while the caller embeds when there are many (index/parallel_analysis.py).
    """
    split = []
    for doc in docs:
        sentences = split_sentences(doc)
        split.append((doc, make_chunks(doc, sentences, chunking), sentences))
    # `analyse` looked up here, at call time: tests replace index.build.analyse with a memo.
    return split, Analyses([(doc, sentences) for doc, _, sentences in split], analyse)


def _analysed(split: Split, analyses: Analyses) -> Split:
    """`split` with every sentence carrying its analysis."""
    return [
        (doc, chunks, [replace(s, analysis=a) for s, a in zip(sentences, found, strict=True)])
        for (doc, chunks, sentences), found in zip(split, analyses.result(), strict=True)
    ]


def _embed_while_analysing(
    split: Split,
    analyses: Analyses,
    texts: list[str],
    embedder: Embedder,
    progress: Progress | None,
    embed: EmbedMany | None,
) -> tuple[Split, np.ndarray]:
    try:
        vectors = _embed_by_length(embedder, texts, progress, embed)
    except BaseException:
        analyses.cancel()
        raise
    return _analysed(split, analyses), vectors


def build_index(
    corpus: Corpus,
    index_dir: str | Path,
    embedder: Embedder,
    chunking: ChunkSettings = ChunkSettings(),
    progress: Progress | None = None,
    log: Log | None = None,
    index_kind: str = "auto",
    chunk_vectors: str = CHUNK_VECTORS,
    embed: EmbedMany | None = None,
) -> tuple[IndexStore, BuildReport]:
    """Bring the index at `index_dir` up to date with `corpus`, re-embedding only what changed.

    `index_dir` must be new, empty or an index of ours, outside the corpus (`IndexDirRefused`
    otherwise). `index_kind` is "auto" (by table size, `index.store.index_kind`) or a FAISS index
    kind that overrides it; a stored index of another kind is re-indexed (not re-embedded). One
    build at a time holds its lock; a second waits (telling `log`), then finds
    the index the first one saved and embeds only what is still missing, usually nothing.
    """
    if index_kind not in ("auto", *INDEX_KINDS):
        raise RagError(
            f"index kind must be auto or one of {', '.join(INDEX_KINDS)}, got {index_kind!r}; "
            "fix RAG_INDEX_KIND (or leave it unset for auto)"
        )
    index_dir = Path(index_dir)
    check_location(index_dir, corpus.root)
    claim(index_dir)
    with index_lock(index_dir, log):
        clean(index_dir)
        # The converted articles' text first: the generation about to be saved cites into it.
        converted.save(index_dir / converted.FOLDER, corpus.conversions)
        built = _build_locked(corpus, index_dir, embedder, chunking, progress, index_kind, chunk_vectors, embed)
        converted.prune(index_dir / converted.FOLDER, corpus.converted)
        return built


def _build_locked(
    corpus: Corpus,
    index_dir: Path,
    embedder: Embedder,
    chunking: ChunkSettings,
    progress: Progress | None,
    index_kind: str = "auto",
    chunk_vectors: str = CHUNK_VECTORS,
    embed: EmbedMany | None = None,
) -> tuple[IndexStore, BuildReport]:
    old, reason = _reusable(index_dir, embedder.name, chunking, chunk_vectors)
    report = BuildReport(full_rebuild_reason=reason)
    old_docs = old.manifest.documents if old else {}

    kept: dict[str, dict[str, tuple[list, np.ndarray]]] = {"chunks": {}, "sentences": {}}
    # Rows grouped once per table: asking `rows_of` per document scanned every unit each time.
    old_rows = {name: _rows_by_doc(old.table(name)) for name in kept} if old is not None else {}
    fresh: list[Document] = []
    for doc in corpus.documents:
        entry = old_docs.get(doc.doc_id)
        if old is not None and entry is not None and entry.sha256 == doc.sha256:
            report.unchanged.append(doc.doc_id)
            for name in kept:
                table = old.table(name)
                rows = old_rows[name].get(doc.doc_id, [])
                kept[name][doc.doc_id] = ([table.units[r] for r in rows], table.vectors[rows])
        else:
            (report.changed if entry is not None else report.added).append(doc.doc_id)
            fresh.append(doc)
    current = {d.doc_id for d in corpus.documents}
    report.removed = sorted(k for k in old_docs if k not in current)

    split, analyses = _split(fresh, chunking)
    derive = chunk_vectors == "derived"
    texts = [u.text for _, chunks, sents in split for u in ((*sents,) if derive else (*chunks, *sents))]
    pending, vectors = _embed_while_analysing(split, analyses, texts, embedder, progress, embed)
    report.embedded_units = len(texts)
    offset = 0
    for doc, chunks, sents in pending:
        if not derive:
            kept["chunks"][doc.doc_id] = (chunks, vectors[offset : offset + len(chunks)])
            offset += len(chunks)
        sentence_vectors = vectors[offset : offset + len(sents)]
        kept["sentences"][doc.doc_id] = (sents, sentence_vectors)
        offset += len(sents)
        if derive:
            kept["chunks"][doc.doc_id] = (chunks, chunk_means(chunks, sents, sentence_vectors))

    tables = {}
    for name, per_doc in kept.items():
        ordered = [per_doc[d.doc_id] for d in corpus.documents if d.doc_id in per_doc]
        units = [u for us, _ in ordered for u in us]
        vecs = np.vstack([v for _, v in ordered]) if ordered else np.zeros((0, embedder.dimension), np.float32)
        kind = None if index_kind == "auto" else index_kind
        if old is not None and not report.touched and old.table(name).kind == (kind or kind_for(len(units))):
            tables[name] = old.table(name)  # nothing changed: no FAISS, BM25 or story work
        else:
            tables[name] = VectorTable(units, vecs.astype(np.float32), kind=kind)
    manifest = Manifest(
        embed_model=index_key(embedder.name, chunk_vectors),
        dimension=embedder.dimension,
        chunking=chunking.to_dict(),
        documents={d.doc_id: DocEntry(d.source, d.sha256, d.title, d.publisher) for d in corpus.documents},
    )
    store = IndexStore(manifest=manifest, chunks=tables["chunks"], sentences=tables["sentences"])
    if report.touched or old is None or any(tables[n] is not old.table(n) for n in tables):
        store.save(index_dir)
    else:
        store = old
    return store, report


def build_milvus(
    corpus: Corpus,
    target: "MilvusTarget",
    embedder: Embedder,
    terms_of: Callable[[str], list[str]],
    chunking: ChunkSettings = ChunkSettings(),
    progress: Progress | None = None,
    embed: EmbedMany | None = None,
    log: Log | None = None,
) -> tuple["MilvusStore", BuildReport]:
    """Bring a Milvus store up to date with `corpus`, upserting and deleting by document sha.

    The same split, analysis and embedding as `build_index`; `terms_of` gives a unit's BM25 terms
    (the retriever's tokenizer, which `index/` may not import). The store must lie outside the
    corpus folder. Before anything is written, the stored rows are checked against the manifest and
    the files: a document whose rows do not match (an interrupted build) is embedded and written
    again (`report.repaired`, told to `log`), and rows of unlisted documents are deleted. See
    index/milvus_store.py for the order of the writes.
    """
    from index.milvus_store import MilvusStore, MilvusWriter, repair_message

    writer = MilvusWriter(target, terms_of, corpus_dir=corpus.root)
    old = writer.existing()
    reason = staleness(old, None, embedder.name, chunking) if old is not None else writer.unusable
    if old is not None and not reason and old.dimension != embedder.dimension:
        reason = f"vector dimension changed ({old.dimension} -> {embedder.dimension})"
    report = BuildReport(full_rebuild_reason=reason)
    current = corpus.by_id
    if old is None or reason:
        writer.reset(embedder.dimension)
        old_docs: dict[str, DocEntry] = {}
        problems: dict[str, str] = {}
        leftovers: set[str] = set()
    else:
        old_docs = old.documents
        audit = writer.audit(current)
        problems = audit.problems
        leftovers = audit.row_docs - set(old_docs) - set(current)
    fresh = []
    for doc in corpus.documents:
        entry = old_docs.get(doc.doc_id)
        if entry is not None and entry.sha256 == doc.sha256:
            if doc.doc_id in problems:
                report.repaired.append(doc.doc_id)
                fresh.append(doc)
            else:
                report.unchanged.append(doc.doc_id)
        else:
            (report.changed if entry is not None else report.added).append(doc.doc_id)
            fresh.append(doc)
    report.removed = sorted(k for k in old_docs if k not in current)
    if report.repaired and log is not None:
        log(repair_message(target, {d: problems[d] for d in report.repaired}))
    for doc_id in report.removed:
        writer.delete_document(doc_id)
    for doc_id in sorted(leftovers):  # units of a document an interrupted build never listed
        writer.delete_rows(doc_id)

    split, analyses = _split(fresh, chunking)
    texts = [u.text for _, chunks, sents in split for u in (*chunks, *sents)]
    pending, vectors = _embed_while_analysing(split, analyses, texts, embedder, progress, embed)
    report.embedded_units = len(texts)
    entries = {d.doc_id: DocEntry(d.source, d.sha256, d.title, d.publisher) for d in corpus.documents}
    ordinals = {d.doc_id: i for i, d in enumerate(corpus.documents)}
    offset = 0
    for doc, chunks, sents in pending:
        tables: dict[str, tuple[Sequence[TextUnit], np.ndarray]] = {}
        for name, units in (("chunks", chunks), ("sentences", sents)):
            tables[name] = (units, vectors[offset : offset + len(units)])
            offset += len(units)
        writer.put_document(doc.doc_id, doc.sha256, tables, entries[doc.doc_id], ordinals[doc.doc_id])
    writer.put_documents(entries, ordinals)  # the others' ordinals, where documents came or went
    manifest = Manifest(
        embed_model=embedder.name, dimension=embedder.dimension, chunking=chunking.to_dict(), documents=entries
    )
    writer.finish(manifest)
    return MilvusStore.load(target, writer.client), report
