"""The index on disk: FAISS vectors, the unit tables they point into, and a manifest.

Layout of an index folder (format `rag-index v5`)::

    rag-index.marker     says "this folder is a rag index"; without it a non-empty folder is refused
    write.lock           flock'ed by the one writer at a time (index/lock.py)
    read.lock            shared-locked by readers while they load; old generations wait for them
    CURRENT              the name of the generation folder readers use, replaced atomically
    gen-<16 hex>/        one complete index:
        manifest.json    format, embedding model, dimension, chunking, sha256 of each document,
                         the FAISS index kind of each table, and sha256 of every other file here
        chunks.jsonl     one row per chunk: doc_id, start, end, text
        chunks.offsets.npy, .spans.npy, .docs.json, .bydoc.npy
                         where each row starts in the jsonl, and each unit's document, start, end
                         and flag, as arrays: rows are parsed when read, never all at open
                         (index/unit_table.py)
        chunks.npy       the chunk vectors (kept so incremental rebuilds reuse them)
        chunks.faiss     FAISS index over chunks.npy
        chunks.bm25.*    BM25 over the chunks (index/lexical.py: bm25s arrays, vocabulary, each
                         term's best score), built here so opening the index never tokenises
        sentences.*      the same for sentences; each row also carries its analysis (speakers,
                         actors, figures, lemmas: index/analysis.py) and `flags` when the
                         sentence has any (`index.injection`: it reads as instructions to an AI)
        stories.*        same-story articles, their overlaps and sentence twins (index/stories.py)
        actors.json      the people the sentences quote and their actors (index/aliases.py)
        verified.json    not in the manifest: size, mtime, ctime and inode of each file as a
                         reader last verified them, so later readers skip re-hashing (see below)
        corpus-verified.json
                         not in the manifest either: the same record for each corpus file whose
                         sha256 matched this generation's, so opening need not read and hash
                         the whole corpus to know it is fresh (`IndexStore.known_documents`)
    tmp-*/               a generation being written (left behind only by a killed save)

Why generations: the index folder is the user's choice (`--index-dir`), so it is never moved or
deleted wholesale. A save writes and fsyncs a new generation folder, then atomically replaces
`CURRENT` (`os.replace`), then removes older generations. A kill at any step leaves `CURRENT`
naming either the old or the new complete generation; leftovers (temp folders, unreferenced
generations) are removed by the next writer, under the lock. Nothing that is not ours by name
inside a marked folder is ever deleted: foreign files there are left alone.

Readers resolve `CURRENT` once and read that generation, holding a shared lock that keeps
writers from removing it meanwhile (index/lock.py); should a generation still fail and `CURRENT`
have moved on (an index copied without its lock files), they resolve again. Loading verifies every file's checksum, and
every expected file must have one. Hashing gigabytes of vectors on every open would make opening
linear in corpus size, so the first reader that verifies a generation records each file's
(size, mtime, ctime, inode) in `verified.json`, and later readers hash only files whose record
differs. Any write to a file changes its ctime, and a record is only taken once the files are
`STAMP_SETTLE_S` old, so a write in the same clock tick as the record cannot hide (the "racily
clean" problem git's index has). Vectors, BM25 arrays, unit rows and spans are memory-mapped,
not read. An index in another format (v3 parsed every row at open, v2 kept its files directly in
the folder, v1 had no index kinds) is reported as corrupt, which makes `Engine.open` and
`rag index` rebuild it; a v2 folder holding only its own files is adopted and its files removed
after the first save of a generation.

The FAISS index kind follows the table's size (`index_kind`): exact `IndexFlatIP` below
`HNSW_MIN_UNITS` units, `IndexHNSWFlat` (inner product) from there on, and from
`IVFPQ_MIN_UNITS` a compressed `IndexIVFPQ` (48 bytes a vector instead of 1,536 plus graph links),
whose candidates are re-ranked with exact cosines from the memory-mapped vectors. Exact search over n
vectors costs O(n) per query; HNSW answers in roughly O(log n) at a small loss of recall, and
needs no training, so incremental rebuilds stay simple. `eval/bench/scale.py` measures both kinds
at 10k and 100k units (build time, memory, latency, recall@10 against exact search) and
`eval/reports/latest/scale.md` has the numbers behind the threshold.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import faiss
import numpy as np

from index.aliases import ActorIndex
from index.chunking import Chunk, Sentence, TextUnit
from index.documents import Corpus, Known, StoredDocument, default_title
from index.errors import IndexCorrupt, IndexDirRefused, IndexMissing
from index.lexical import Lexical
from index.lexical import file_names as lexical_files
from index.lock import LOCK_NAME, READ_LOCK_NAME, index_lock, no_readers, reading
from index.search_table import SearchTable
from index.stories import StoryGroups, detect
from index.stories import file_names as story_files
from index.unit_table import StoredUnits, UnitSpans
from index.unit_table import file_names as unit_files
from index.unit_table import write as write_units

FORMAT = "rag-index v5"
MANIFEST = "manifest.json"
TABLES = {"chunks": Chunk, "sentences": Sentence}
TABLE_FILES = ("jsonl", "npy", "faiss")
ACTORS = "actors.json"
STAMP = "verified.json"
CORPUS_STAMP = "corpus-verified.json"  # not in the manifest either: the corpus files as last verified
STAMP_SETTLE_S = 2.0  # files younger than this are hashed again next time rather than stamped
EXPECTED_FILES = frozenset(
    [f"{name}.{ext}" for name in TABLES for ext in TABLE_FILES]
    + [f for name in TABLES for f in lexical_files(name)]
    + [f for name in TABLES for f in unit_files(name)]
    + story_files()
    + [ACTORS]
)

MARKER = "rag-index.marker"
MARKER_TEXT = (
    f"This folder is an index written by rag ({FORMAT}).\n"
    "rag replaces the generations inside it on every rebuild; keep no other files here.\n"
)
POINTER = "CURRENT"
GENERATION_PREFIX = "gen-"
TEMP_PREFIX = "tmp-"
_GENERATION = re.compile(r"gen-[0-9a-f]{16}")
LEGACY_FILES = frozenset(f"{name}.{ext}" for name in TABLES for ext in TABLE_FILES) | {
    MANIFEST
}  # what v2 kept in the folder
# A reader whose generation vanished (a writer swapped and cleaned up meanwhile) resolves CURRENT
# again; more than one retry only matters if several saves complete during one load.
RESOLVE_ATTEMPTS = 3
# One thread at a time maps an index's arrays: `np.load` parses each .npy header with
# `ast.literal_eval`, and CPython 3.11 (3.11.7 here) sometimes fails AST work done in several
# threads at once ("SystemError: AST constructor recursion depth mismatch", see
# python/cpython#106905), as two readers polling in threads did. Mapping takes milliseconds, so
# readers in threads lose nothing measurable by waiting.
_MAPPING = threading.Lock()

INDEX_KINDS = ("flat", "hnsw", "ivfpq")
# Tables this big or bigger get an HNSW index. Measured (eval/reports/latest/scale.md, 2 cores):
# exact search takes 0.3 ms p50 at 10k units and 11 ms at 100k, growing linearly, so below ~50k it
# stays under the 5-10 ms it takes to embed the question, and exactness costs nothing noticeable;
# HNSW answers in under 0.1 ms at 100k with recall@10 0.95 against exact search, but costs ~30 s
# to build at 100k (on every rebuild) and ~18% more memory.
HNSW_MIN_UNITS = 50_000
HNSW_M = 32  # graph neighbours per vector
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128  # candidates explored per query: the recall/latency knob
# Tables this big or bigger get a compressed IVF-PQ index: at 1M units an HNSW index holds 1.5 GB
# of vectors and 0.25 GB of links per table, and took longer to build on 2 cores than the whole
# rest of the index; IVF-PQ keeps 48 bytes a vector and trains in about a minute. Recall is
# recovered by re-ranking `IVFPQ_RERANK` x k candidates with exact cosines (measured in scale.md).
IVFPQ_MIN_UNITS = 500_000
IVFPQ_NPROBE = 48  # inverted lists visited per query
IVFPQ_RERANK = 20  # candidates fetched per requested result, re-ranked exactly
IVFPQ_RERANK_MIN = 200
IVFPQ_TRAIN_PER_LIST = 64  # training vectors per inverted list (faiss wants >= 39)
IVFPQ_BITS = 8
MIN_TRAIN_PER_CENTROID = 39  # faiss' k-means wants this many points per centroid
# Lists visited when finding same-story sentences at build time (a pass over every sentence):
# their matches are near-duplicates (cosine >= 0.7), which sit in the closest lists.
STORY_NPROBE = 8


@dataclass(frozen=True)
class DocEntry:
    source: str
    sha256: str
    title: str = ""
    publisher: str = ""


@dataclass(frozen=True)
class Manifest:
    embed_model: str
    dimension: int
    chunking: dict
    documents: dict[str, DocEntry]
    files: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT
    index_kinds: dict[str, str] = field(default_factory=dict)  # table -> "flat" | "hnsw", filled in on save

    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "embed_model": self.embed_model,
            "dimension": self.dimension,
            "chunking": self.chunking,
            "documents": {k: vars(v) for k, v in sorted(self.documents.items())},
            "index_kinds": dict(sorted(self.index_kinds.items())),
            "files": dict(sorted(self.files.items())),
        }

    @classmethod
    def from_dict(cls, data: object) -> "Manifest":
        """Parse a manifest; `ValueError` names the first field of the wrong shape."""
        if not isinstance(data, dict):
            raise ValueError("the manifest is not a JSON object")
        documents = _mapping_of(data, "documents", dict)
        try:
            entries = {k: DocEntry(**v) for k, v in documents.items()}
        except TypeError as exc:
            raise ValueError(f"a 'documents' entry has the wrong fields ({exc})") from exc
        if not all(isinstance(x, str) for e in entries.values() for x in vars(e).values()):
            raise ValueError("a 'documents' entry has a field that is not a string")
        dimension = data.get("dimension")
        if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension <= 0:
            raise ValueError(f"'dimension' must be a positive integer, got {dimension!r}")
        for key in ("embed_model", "format"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"{key!r} must be a string, got {data.get(key)!r}")
        return cls(
            embed_model=data["embed_model"],
            dimension=dimension,
            chunking=_mapping_of(data, "chunking", object),
            documents=entries,
            files=_mapping_of(data, "files", str),
            format=data["format"],
            index_kinds=_mapping_of(data, "index_kinds", str),
        )


def _mapping_of(data: dict, key: str, value_type: type) -> dict:
    value = data.get(key)
    if not isinstance(value, dict) or not all(isinstance(v, value_type) for v in value.values()):
        raise ValueError(f"{key!r} must be an object of {value_type.__name__} values, got {type(value).__name__}")
    return dict(value)


def index_kind(size: int) -> str:
    """The FAISS index kind for a table of `size` units."""
    if size >= IVFPQ_MIN_UNITS:
        return "ivfpq"
    return "hnsw" if size >= HNSW_MIN_UNITS else "flat"


def build_faiss(vectors: np.ndarray, kind: str | None = None) -> faiss.Index:
    """Inner-product search over normalised vectors (scores are cosines); `kind` defaults by size."""
    kind = kind or index_kind(len(vectors))
    index: faiss.Index
    if kind == "flat":
        index = faiss.IndexFlatIP(vectors.shape[1])
    elif kind == "hnsw":
        index = hnsw = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    elif kind == "ivfpq":
        return tuned(_build_ivfpq(vectors))
    else:
        raise ValueError(f"FAISS index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return tuned(index)


def _build_ivfpq(vectors: np.ndarray) -> faiss.Index:
    """IVF-PQ over `vectors`: sqrt(n) lists, 8-dimensional sub-vectors coded in one byte each.

    A table too small to train 256 codes per sub-vector (only when the kind is forced) gets
    fewer code bits; one of under 2 units gets an exact index.
    """
    n, dim = vectors.shape
    if n < 2:
        return faiss.IndexFlatIP(dim) if n == 0 else build_faiss(vectors, "flat")
    nlist = int(min(max(min(np.sqrt(n), n // MIN_TRAIN_PER_CENTROID), 1), 65_536))
    m = max(d for d in range(1, dim + 1) if dim % d == 0 and d <= max(dim // 8, 1))
    bits = int(min(IVFPQ_BITS, max(1, np.floor(np.log2(max(n // MIN_TRAIN_PER_CENTROID, 2))))))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, bits, faiss.METRIC_INNER_PRODUCT)
    if n:
        rng = np.random.default_rng(0)
        sample = min(n, max(nlist * IVFPQ_TRAIN_PER_LIST, 2**bits * 40))
        rows = np.sort(rng.choice(n, sample, replace=False)) if sample < n else np.arange(n)
        index.train(np.ascontiguousarray(vectors[rows], dtype=np.float32))
        for first in range(0, n, 100_000):
            index.add(np.ascontiguousarray(vectors[first : first + 100_000], dtype=np.float32))
    return index


def tuned(index: faiss.Index) -> faiss.Index:
    """Set the search-time knobs, which a saved index does not carry reliably."""
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif isinstance(index, faiss.IndexIVF):
        index.nprobe = IVFPQ_NPROBE
    return index


@contextmanager
def one_thread() -> Iterator[None]:
    """Run FAISS single-threaded for one query.

    FAISS parallelises over queries, so one query gains nothing from OpenMP threads, and on a
    busy 2-core machine their spin-waiting made exact search over 10k vectors 15x slower (6 ms
    instead of 0.4 ms at p50). The setting is per calling thread, so builds elsewhere keep theirs.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def kind_of(index: faiss.Index) -> str:
    if isinstance(index, faiss.IndexIVF):
        return "ivfpq"
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


class VectorTable(SearchTable):
    """Units of one kind (chunks or sentences) with their vectors, FAISS index and BM25 index.

    The BM25 index (`lexical`) is built on first use when the table was made in memory, and
    read from the index folder when it was loaded.
    """

    def __init__(
        self,
        units: Sequence[TextUnit],
        vectors: np.ndarray,
        faiss_index: faiss.Index | None = None,
        lexical: Lexical | None = None,
        kind: str | None = None,
        spans: UnitSpans | None = None,
    ):
        if len(units) != len(vectors):
            raise ValueError("one vector per unit")
        self._units = units
        self._spans = spans
        self.vectors = vectors
        self.faiss_index = faiss_index if faiss_index is not None else build_faiss(vectors, kind)
        self._lexical = lexical
        self._last_scores: tuple[tuple[str, ...], np.ndarray] | None = None

    @property
    def units(self) -> Sequence[TextUnit]:
        return self._units

    def __len__(self) -> int:
        return len(self._units)

    @property
    def kind(self) -> str:
        """The FAISS index kind in use: "flat" (exact), "hnsw" or "ivfpq" (approximate)."""
        return kind_of(self.faiss_index)

    @property
    def spans(self) -> UnitSpans:
        """Where each unit lies (mapped when loaded, found from the units when made in memory)."""
        if self._spans is None:
            self._spans = UnitSpans.of(self._units)
        return self._spans

    @property
    def bm25(self) -> Lexical:
        """The BM25 index over the units (built now if this table was made in memory)."""
        if self._lexical is None:
            self._lexical = Lexical.build(u.text for u in self._units)
        return self._lexical

    def document_frequencies(self) -> dict[str, int]:
        return self.bm25.document_frequencies()

    # -- dense -------------------------------------------------------------------------------

    def dense(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Row numbers and cosine scores of the `k` nearest units, best first."""
        k = min(k, len(self._units))
        if k <= 0:
            return []
        with one_thread():
            scores, rows = self.neighbours(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    search = dense  # the name older callers use

    def neighbours(self, queries: np.ndarray, k: int, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(cosines, rows) of each query's `k` nearest units, like `faiss.Index.search`.

        A compressed (IVF-PQ) index only proposes candidates; they are re-ranked here with exact
        cosines, so its scores are true cosines like the other kinds'. `nprobe` overrides how
        many of its lists are visited (near-duplicate detection needs only the closest few).
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.kind != "ivfpq":
            return self.faiss_index.search(queries, k)
        depth = min(max(k * IVFPQ_RERANK, IVFPQ_RERANK_MIN), len(self._units))
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe or IVFPQ_NPROBE
        _, candidates = self.faiss_index.search(queries, depth, params=params)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        for q, found in enumerate(candidates):
            found = np.sort(found[found >= 0])
            exact = np.asarray(self.vectors[found], dtype=np.float32) @ queries[q]
            best = np.argsort(-exact, kind="stable")[:k]
            scores[q, : len(best)], rows[q, : len(best)] = exact[best], found[best]
        return scores, rows

    def cosines(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Exact cosine of the query with each given row's vector (float32, same order)."""
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.vectors[list(rows)] @ np.asarray(query, dtype=np.float32), dtype=np.float32)

    # -- lexical -----------------------------------------------------------------------------

    def _bm25_scores(self, terms: Sequence[str]) -> np.ndarray:
        """Every row's BM25 score; the last question's are kept, since search asks twice."""
        key, last = tuple(terms), self._last_scores
        if last is not None and last[0] == key:
            return last[1]
        scores = self.bm25.scores(key)
        self._last_scores = (key, scores)
        return scores

    def lexical(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Up to k (row, BM25 score) pairs with score > 0, best first (ties by row)."""
        scores = self._bm25_scores(terms)
        return [(int(r), float(scores[r])) for r in top_rows(scores, min(k, len(scores))) if scores[r] > 0]

    def lexical_scores(self, terms: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        """BM25 score of each given row for these terms (0 where nothing matches)."""
        return self._bm25_scores(terms)[list(rows)] if len(rows) else np.zeros(0, dtype=np.float32)

    def lexical_bound(self, terms: Sequence[str]) -> float:
        return self.bm25.bound(terms)

    def rows_of(self, doc_id: str) -> list[int]:
        return sorted(int(r) for r in self.spans.rows_of(doc_id))


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest scores, best first (ties by index), without a full sort."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    kth = scores[np.argpartition(-scores, n - 1)[n - 1]]  # the n-th best score
    above = np.flatnonzero(scores > kth)
    rows = np.concatenate([above, np.flatnonzero(scores == kth)[: n - len(above)]])
    return rows[np.lexsort((rows, -scores[rows]))]


@dataclass
class IndexStore:
    manifest: Manifest
    chunks: VectorTable
    sentences: VectorTable
    # Same-story groups of the sentences; found at save when the store was made in memory.
    stories: StoryGroups | None = None
    # The people the sentences quote (`index.aliases.ActorIndex`); found at save likewise.
    actors: ActorIndex | None = None
    # The generation folder this store was read from or saved to (None: only in memory).
    folder: Path | None = None

    def table(self, name: str) -> VectorTable:
        return {"chunks": self.chunks, "sentences": self.sentences}[name]

    def story_groups(self) -> StoryGroups:
        """The same-story groups (found now if this store was made in memory and never saved)."""
        if self.stories is None:
            s = self.sentences
            self.stories = detect(s.units, s.vectors, lambda q, k: s.neighbours(q, k, STORY_NPROBE))
        return self.stories

    def actor_index(self) -> ActorIndex:
        """The people the sentences quote and their actors (found now if made in memory and never saved)."""
        if self.actors is None:
            self.actors = actors_of(self.sentences.units)
        return self.actors

    def known_documents(self) -> dict[str, Known]:
        """The corpus files as last verified against this generation (source -> `Known`), for
        `load_corpus`: a file whose stat is unchanged need not be read to know its sha256."""
        if self.folder is None:
            return {}
        try:
            data = json.loads((self.folder / CORPUS_STAMP).read_text(encoding="utf-8"))
            return {src: Known(tuple(r[:4]), r[4], r[5]) for src, r in data.items()}
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            return {}

    def remember(self, corpus: Corpus) -> None:
        """Record the corpus files read in full whose sha256 matches this generation's, so later
        opens skip reading them; only files older than `STAMP_SETTLE_S` (best effort, like `verified.json`)."""
        if self.folder is None:
            return
        stamp = self.folder / CORPUS_STAMP
        if not corpus.read_stats and stamp.exists():
            return  # every article was known unchanged, and this generation has their record
        settled = time.time_ns() - int(STAMP_SETTLE_S * 1e9)
        records = {}
        for doc in corpus.documents:
            entry = self.manifest.documents.get(doc.doc_id)
            if entry is None or doc.sha256 != entry.sha256:
                continue
            if isinstance(doc, StoredDocument):  # known unchanged: its record carries over
                records[doc.source] = [*doc.known.stat, doc.known.sha256, doc.known.title]
            elif (stat := corpus.read_stats.get(doc.source)) is not None and stat[2] <= settled:
                records[doc.source] = [*stat, entry.sha256, default_title(doc.text)]
        if records == {s: [*k.stat, k.sha256, k.title] for s, k in self.known_documents().items()}:
            return
        tmp = self.folder / f"{CORPUS_STAMP}.{TEMP_PREFIX}{os.getpid()}-{threading.get_ident()}"
        try:
            tmp.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, stamp)
        except OSError:
            _discard(tmp)

    # -- writing -----------------------------------------------------------------------------

    def save(self, index_dir: str | Path) -> None:
        """Write a new generation and point `CURRENT` at it; see the module docstring for why."""
        index_dir = Path(index_dir)
        claim(index_dir)
        with index_lock(index_dir):
            clean(index_dir)
            tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=index_dir))
            try:
                files = {}
                for name in TABLES:
                    files.update(_write_table(tmp, name, self.table(name)))
                for file in self.story_groups().save(tmp, len(self.sentences)):
                    files[file] = _sha256_file(tmp / file)
                files[ACTORS] = _write_bytes(tmp / ACTORS, self.actor_index().to_json())
                kinds = {name: self.table(name).kind for name in TABLES}
                manifest = Manifest(**{**vars(self.manifest), "files": files, "index_kinds": kinds})
                _write_bytes(tmp / MANIFEST, json.dumps(manifest.to_dict(), indent=2).encode())
                for path in tmp.iterdir():  # np.save and faiss do not fsync
                    _fsync(path)
                _fsync(tmp)
                generation = index_dir / f"{GENERATION_PREFIX}{secrets.token_hex(8)}"
                os.replace(tmp, generation)
                _point_to(index_dir, generation.name)
                self.manifest, self.folder = manifest, generation
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            clean(index_dir)

    # -- reading -----------------------------------------------------------------------------

    @classmethod
    def load(cls, index_dir: str | Path) -> "IndexStore":
        """The index `CURRENT` names; resolved again if that generation vanishes mid-read."""
        index_dir = Path(index_dir)
        for attempt in range(RESOLVE_ATTEMPTS):
            with reading(index_dir):
                folder = current_dir(index_dir)
                try:
                    return cls._load_generation(folder)
                except IndexCorrupt:
                    if attempt + 1 == RESOLVE_ATTEMPTS or not _pointer_moved(index_dir, folder):
                        raise
        raise AssertionError("unreachable")

    @classmethod
    def _load_generation(cls, folder: Path) -> "IndexStore":
        manifest_path = folder / MANIFEST
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"{manifest_path} is unreadable ({exc}); rebuild with 'rag index'") from exc
        found = data.get("format") if isinstance(data, dict) else None
        if found != FORMAT:
            raise IndexCorrupt(
                f"{folder} has format {found!r}, this version reads {FORMAT!r}; rebuild with 'rag index'"
            )
        try:
            manifest = Manifest.from_dict(data)
        except ValueError as exc:
            raise IndexCorrupt(f"{manifest_path} has the wrong shape ({exc}); rebuild with 'rag index'") from exc
        if set(manifest.files) != EXPECTED_FILES:
            missing = sorted(EXPECTED_FILES - set(manifest.files)) or sorted(set(manifest.files) - EXPECTED_FILES)
            raise IndexCorrupt(
                f"{manifest_path} lists checksums for other files than the index has "
                f"({', '.join(missing)}); rebuild with 'rag index'"
            )
        stamp = _read_stamp(folder)
        for name, digest in manifest.files.items():
            path = folder / name
            stat = _stat_of(path)  # a missing file is caught here, also one read only when used
            if stat is None or (stamp.get(name) != stat and _sha256_file(path) != digest):
                raise IndexCorrupt(
                    f"{path} is missing or does not match its manifest checksum; rebuild with 'rag index'"
                )
        _write_stamp(folder, manifest.files, stamp)
        with _MAPPING:
            tables = {name: _read_table(folder, name, kind, manifest.dimension) for name, kind in TABLES.items()}
            try:
                stories = StoryGroups.load(folder, len(tables["sentences"]))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                raise IndexCorrupt(f"{folder}/stories.* are unreadable ({exc}); rebuild with 'rag index'") from exc
        try:
            actors = ActorIndex.from_json((folder / ACTORS).read_bytes())
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise IndexCorrupt(f"{folder / ACTORS} is unreadable ({exc}); rebuild with 'rag index'") from exc
        for name, table in tables.items():
            if manifest.index_kinds.get(name) != table.kind:
                raise IndexCorrupt(
                    f"{folder / name}.faiss is a {table.kind} index, its manifest says "
                    f"{manifest.index_kinds.get(name)}; rebuild with 'rag index'"
                )
        return cls(manifest=manifest, **tables, stories=stories, actors=actors, folder=folder)


# -- the index folder: ours or refused, one current generation, leftovers cleaned --------------


def check_location(index_dir: str | Path, corpus_dir: str | Path) -> None:
    """Refuse an index folder that is the corpus folder or lies inside it."""
    index_path, corpus_path = Path(index_dir).expanduser().resolve(), Path(corpus_dir).expanduser().resolve()
    if index_path == corpus_path or corpus_path in index_path.parents:
        where = "is the corpus folder" if index_path == corpus_path else f"is inside the corpus folder {corpus_path}"
        raise IndexDirRefused(
            f"index folder {index_dir} {where}; the index would be mixed with the articles. "
            "Choose a folder outside the corpus (--index-dir or RAG_INDEX_DIR)"
        )


def claim(index_dir: str | Path) -> None:
    """Make `index_dir` an index folder, or refuse it untouched if it holds anything else.

    A missing or empty folder gets the marker; a folder with the marker is already ours; a v2
    index (only its own files) is adopted. Anything else may be someone's documents.
    """
    index_dir = Path(index_dir)
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexDirRefused(f"index folder {index_dir} is a file; choose a folder (--index-dir or RAG_INDEX_DIR)")
    if (index_dir / MARKER).is_file():
        return
    index_dir.mkdir(parents=True, exist_ok=True)
    entries = sorted(p.name for p in index_dir.iterdir())
    if entries and not _legacy_format(index_dir):
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise IndexDirRefused(
            f"index folder {index_dir} is not empty ({shown}) and is not a rag index (it has no {MARKER}); "
            "nothing was changed. Choose a new or empty folder (--index-dir or RAG_INDEX_DIR)"
        )
    try:  # O_EXCL: two first builds racing both succeed, and no one sees a half-made temp name
        with open(index_dir / MARKER, "x", encoding="utf-8") as fh:
            fh.write(MARKER_TEXT)
    except FileExistsError:
        pass


def current_dir(index_dir: str | Path) -> Path:
    """The generation folder `CURRENT` names."""
    index_dir = Path(index_dir)
    try:
        if not (index_dir / MARKER).is_file():
            raise FileNotFoundError(index_dir / MARKER)
        name = (index_dir / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        legacy = _legacy_format(index_dir)
        if legacy:
            raise IndexCorrupt(
                f"{index_dir} has format {legacy!r}, this version reads {FORMAT!r}; rebuild with 'rag index'"
            ) from exc
        raise IndexMissing(f"no index at {index_dir}; build one with 'rag index'") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{index_dir / POINTER} is unreadable ({exc}); rebuild with 'rag index'") from exc
    if not _GENERATION.fullmatch(name):
        raise IndexCorrupt(f"{index_dir / POINTER} names {name!r}, not a generation folder; rebuild with 'rag index'")
    return index_dir / name


def clean(index_dir: str | Path) -> list[str]:
    """Remove what a killed or finished save left: temp folders, old generations, v2 files
    (once a v3 generation replaces them), and the temp folders of ONNX exports whose process died.

    Only names of ours inside a marked folder, and never the current generation; call it with
    the write lock held, since a temp folder may be another writer's work in progress.
    Returns the names removed.
    """
    index_dir = Path(index_dir)
    if not (index_dir / MARKER).is_file():
        return []
    try:
        keep = current_dir(index_dir).name
    except (IndexMissing, IndexCorrupt):
        keep = None
    removed = []
    with no_readers(index_dir) as unread:
        for path in index_dir.iterdir():
            name = path.name
            if path.is_symlink() or name in (MARKER, POINTER, LOCK_NAME, READ_LOCK_NAME, keep):
                continue
            if _remove_ours(path, old_generations=unread and keep is not None):
                removed.append(name)
    from index.onnx_embedding import CACHE_FOLDER, remove_dead_exports  # the embedder cache is ours too

    cache = index_dir / CACHE_FOLDER
    if cache.is_dir() and not cache.is_symlink():  # exports of killed processes (kill -9 mid-export)
        removed += [f"{CACHE_FOLDER}/{name}" for name in remove_dead_exports(cache)]
    return sorted(removed)


def _remove_ours(path: Path, old_generations: bool) -> bool:
    """Remove `path` if it is a leftover of ours; False if it is someone else's (or still read)."""
    name = path.name
    if path.is_dir() and (name.startswith(TEMP_PREFIX) or (old_generations and _GENERATION.fullmatch(name))):
        shutil.rmtree(path, ignore_errors=True)
    elif path.is_file() and (name.startswith(f"{POINTER}.{TEMP_PREFIX}") or (old_generations and name in LEGACY_FILES)):
        path.unlink(missing_ok=True)
    else:
        return False  # not ours, or a generation a reader may be loading: left alone
    return True


def _legacy_format(index_dir: Path) -> str:
    """The format of a v2-style index kept directly in `index_dir` (only its files), or ''."""
    try:
        entries = {p.name for p in index_dir.iterdir()} - {
            MARKER,
            LOCK_NAME,
            READ_LOCK_NAME,
        }  # adopted, not yet replaced
        if MANIFEST not in entries or not entries <= LEGACY_FILES:
            return ""
        data = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    found = data.get("format") if isinstance(data, dict) else None
    return found if isinstance(found, str) and found.startswith("rag-index") else ""


def _pointer_moved(index_dir: Path, folder: Path) -> bool:
    try:
        return current_dir(index_dir) != folder
    except (IndexMissing, IndexCorrupt):
        return False


def _point_to(index_dir: Path, generation: str) -> None:
    """Atomically make `generation` the current one."""
    tmp = index_dir / f"{POINTER}.{TEMP_PREFIX}{os.getpid()}"
    _write_bytes(tmp, f"{generation}\n".encode())
    os.replace(tmp, index_dir / POINTER)
    _fsync(index_dir)


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_bytes(path: Path, data: bytes) -> str:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    """The file's sha256, or '' if it cannot be read (vanished, unreadable); read in blocks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 22):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def _stat_of(path: Path) -> list[int] | None:
    """What a verified file's record must still match: size, mtime, ctime, inode."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_stamp(folder: Path) -> dict[str, list[int]]:
    try:
        data = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_stamp(folder: Path, files: dict[str, str], old: dict[str, list[int]]) -> None:
    """Record the just-verified files so the next reader need not hash them again.

    Only when every file is older than `STAMP_SETTLE_S` (a write in the same timestamp tick as
    the record would otherwise go unseen); best effort, since readers may lack write access.
    """
    stats = {name: _stat_of(folder / name) for name in files}
    if stats == old or any(s is None for s in stats.values()):
        return
    settled = time.time_ns() - int(STAMP_SETTLE_S * 1e9)
    if any(s[2] > settled for s in stats.values() if s is not None):
        return
    tmp = folder / f"{STAMP}.{TEMP_PREFIX}{os.getpid()}-{threading.get_ident()}"
    try:
        tmp.write_text(json.dumps(stats), encoding="utf-8")
        os.replace(tmp, folder / STAMP)
    except OSError:
        _discard(tmp)


def _discard(path: Path) -> None:
    """Remove a temp file of a best-effort write; on a read-only index there is none to remove."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def actors_of(sentences: Iterable[TextUnit]) -> ActorIndex:
    """The people a table of sentences quotes, from their analyses."""
    return ActorIndex.from_analyses(u.analysis for u in sentences if isinstance(u, Sentence) and u.analysis is not None)


def _write_table(folder: Path, name: str, table: VectorTable) -> dict[str, str]:
    out = {f: _sha256_file(folder / f) for f in write_units(folder, name, table.units, table.spans)}
    np.save(folder / f"{name}.npy", np.asarray(table.vectors, dtype=np.float32))
    out[f"{name}.npy"] = _sha256_file(folder / f"{name}.npy")
    faiss.write_index(table.faiss_index, str(folder / f"{name}.faiss"))
    out[f"{name}.faiss"] = _sha256_file(folder / f"{name}.faiss")
    for file in table.bm25.save(folder, name):
        out[file] = _sha256_file(folder / file)
    return out


def _read_table(folder: Path, name: str, kind: type[TextUnit], dimension: int) -> VectorTable:
    """The table as mapped files: rows are parsed when read (`index.unit_table`), vectors paged in."""
    try:
        units = StoredUnits.load(folder, name, kind)
        spans = UnitSpans.load(folder, name, len(units))
        vectors = np.load(folder / f"{name}.npy", mmap_mode="r")  # pages come in as rows are read
        index = tuned(faiss.read_index(str(folder / f"{name}.faiss")))
        lexical = Lexical.load(folder, name, len(units))
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexCorrupt(f"{folder / name}.* is unreadable ({exc}); rebuild with 'rag index'") from exc
    if vectors.shape != (len(units), dimension) or index.ntotal != len(units):
        raise IndexCorrupt(f"{folder / name}.* disagree in size; rebuild with 'rag index'")
    return VectorTable(units, vectors, index, lexical, spans=spans)
