"""Milvus as the store: the same units, vectors and manifest as the FAISS files, in collections.

Chosen with `--store milvus:///path/file.db` (Milvus Lite: the real engine in-process, one file)
or `--store http://host:19530` (Milvus Standalone or Distributed; the same client code), or
`RAG_STORE`. `?prefix=NAME` on either URI names the collections (default `rag`), so one server
can hold several corpora. pymilvus and milvus-lite are the optional `scale` extra; nothing here
is imported by the default FAISS path.

Collections (`<prefix>_chunks`, `<prefix>_sentences`, `<prefix>_manifest`):
  units     one row per unit: doc_id, position (order within its document), start, end, text, the
            document's sha256, `extra` (a sentence's analysis and flags, exactly as the FAISS
            store's JSONL rows carry them), the dense vector and `terms`. The vector index is
            inner product (= cosine on our normalised vectors): FLAT (exact, like the FAISS default
            below 50k units) on Milvus Lite, HNSW with the FAISS store's M, efConstruction and
            efSearch on a server, where archives outgrow exact search
  manifest  one row per document (sha256, source, title, publisher, ordinal in corpus order) and
            one `META_KEY` row (format, embedding model, dimension, chunking)

Lexical search is Milvus' own BM25 function over `terms`, fed our terms rather than the text:
Milvus Lite offers only its `standard` tokenizer (no `whitespace`), which splits "$120" and
"<money>", so every term is written as one opaque alphanumeric code (`term_code`) that the
standard tokenizer keeps whole. BM25 statistics (idf, document lengths) then count exactly our
terms. With k1 and b set to bm25s' defaults, Milvus' scores are bm25s' times (k1 + 1) (measured:
the ratio is 2.5 for every unit and query), so dividing by it gives the FAISS path's numbers and
the same fusion.

Writes are incremental by document sha, and ordered so that an interruption anywhere leaves a
state the next reader or build catches. For each new, changed or repaired document: its manifest
row is deleted first; then its units are deleted by doc_id and inserted again, in batches; then
its manifest row comes back, with its sha256 and its number of units per table. A removed
document loses its manifest row, then its units. The META row is written last on a fresh store
(until then the store counts as never built) and left alone by an incremental build.

Every read checks the rows against the manifest (`row_problems`): each listed document's units
must all carry its sha256, with positions 0..n-1 for the n the manifest records; with the corpus
at hand (`check_fresh`, build start) each unit's text must also be the file's text at its span.
A reader refuses a store that fails (`IndexCorrupt`, one line naming the documents; the engine
then rebuilds); a build re-embeds just those documents and says so. A document whose manifest
row was deleted by an interrupted build is missing from the manifest, so its rows are never read
and the corpus check calls it changed. There is no cross-process write lock here (unlike the
FAISS folder): Milvus Lite lets one process open a store at a time, and a server store should see
one `rag index` at a time.

A Milvus Lite store is a folder (milvus-lite 3): it must not be, or lie inside, the corpus
folder, a path part that is a file is named, and a file or a folder of other things at the path
is refused untouched. Every client failure (server not listening, a store another process holds,
a failed search) becomes one `StoreUnavailable` line naming the store and what to do.

Reading loads every unit and vector once (the retriever's duplicate detection and evidence
scoring use all sentence vectors), and sends dense and lexical searches to Milvus.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from functools import cached_property, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit

import faiss
import numpy as np

from index.aliases import ActorIndex
from index.chunking import Chunk, Sentence, TextUnit
from index.errors import IndexCorrupt, IndexDirRefused, IndexMissing, RagError
from index.search_table import SearchTable
from index.store import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, DocEntry, Manifest, actors_of, build_faiss
from index.stories import StoryGroups, detect
from index.unit_table import row_of, unit_from

if TYPE_CHECKING:
    from index.documents import Corpus, Document

# v2: each document's manifest row records its number of units per table (v1 stores are rebuilt).
FORMAT = "rag-milvus v2"
TABLES = {"chunks": Chunk, "sentences": Sentence}
DEFAULT_PREFIX = "rag"
META_KEY = "\x00meta"  # the manifest row that is not a document (doc ids never start with NUL)
# bm25s' defaults (method "lucene"); Milvus returns (k1 + 1) times bm25s' score with these.
BM25_K1 = 1.5
BM25_B = 0.75
EMPTY_TERM = "\x00"  # what bm25s indexes for a unit without terms; kept so document lengths agree
INSERT_BATCH = 512  # rows per insert call
READ_BATCH = 4096  # rows per page when loading a table
TIE_MARGIN = 16  # extra lexical hits fetched, so ties at the k-th score are broken by row as bm25s does
MAX_VARCHAR = 65_535  # Milvus' longest VARCHAR, in bytes
MAX_DOC_ID = 2048
ITERATOR_LOGGER = "pymilvus.client.iterator.query_iterator"
# Loggers that print a traceback for every failed call, on stderr, before the exception reaches
# us (pymilvus' own handler, Milvus Lite's server): each failure here is one `StoreUnavailable`
# line instead, whose traceback (`rag --debug`) holds the cause.
FAILURE_LOGGERS = ("pymilvus.decorators", "milvus_lite.server_manager", "milvus_lite.adapter.grpc.servicer")
# What a Milvus Lite 3 store folder holds; a folder with neither of the first two is not one.
LITE_ENTRIES = ("collections", "LOCK", "databases", ".database-staging")
INDEX_WAIT_S = 60.0  # longest wait for an empty collection's index to be built
INDEX_POLL_S = 0.005  # between asks for its state
SHOWN_DOCS = 3  # documents named in a mismatch message
SETTING = "--store or RAG_STORE"


class StoreUriError(RagError):
    """A `--store` / `RAG_STORE` value that names no store this version can open."""


class ScaleExtraMissing(RagError):
    """pymilvus (or ray) is not installed."""


class StoreUnavailable(RagError):
    """The Milvus store cannot be opened or reached, or failed an operation."""


@dataclass(frozen=True)
class MilvusTarget:
    """Where a Milvus store lives: a Milvus Lite file or a server URI, and the collection prefix."""

    uri: str  # a local path ending in .db (Milvus Lite) or http(s)://host:port
    prefix: str = DEFAULT_PREFIX

    @property
    def lite(self) -> bool:
        return not self.uri.startswith(("http://", "https://"))

    def collection(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def __str__(self) -> str:
        """The store as a `--store` value names it, for messages."""
        where = f"milvus://{Path(self.uri).absolute()}" if self.lite else self.uri
        return where if self.prefix == DEFAULT_PREFIX else f"{where}?prefix={self.prefix}"


def parse_store(value: str | None) -> MilvusTarget | None:
    """None for the FAISS default ('' or 'faiss'), else the Milvus target the value names."""
    value = (value or "").strip()
    if value in ("", "faiss"):
        return None
    parts = urlsplit(value)
    prefix = parse_qs(parts.query).get("prefix", [DEFAULT_PREFIX])[0]
    if not prefix.replace("_", "").isalnum() or not prefix[0].isalpha():
        raise StoreUriError(f"store prefix {prefix!r} must be letters, digits and '_', starting with a letter")
    if parts.scheme == "milvus":
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not path.endswith(".db"):
            raise StoreUriError(
                f"store {value!r}: a Milvus Lite store is a file ending in .db, e.g. milvus:///tmp/rag.db"
            )
        return MilvusTarget(str(Path(path).expanduser()), prefix)
    if parts.scheme in ("http", "https") and parts.netloc:
        return MilvusTarget(f"{parts.scheme}://{parts.netloc}", prefix)
    raise StoreUriError(
        f"store {value!r} is not one this version opens; use 'faiss' (the default), "
        "milvus:///path/file.db (Milvus Lite) or http://host:19530 (a Milvus server)"
    )


# -- where a Milvus Lite store may live --------------------------------------------------------------


def check_path(target: MilvusTarget, corpus_dir: str | Path | None = None) -> None:
    """Refuse, untouched, a Milvus Lite path that is not a store folder of ours to open or create:
    a path part that is a file (named), the corpus folder or a path inside it (`check_location`),
    a file or a dangling link at the path, or a folder of other things. A server target passes."""
    if not target.lite:
        return
    path = Path(target.uri).expanduser().absolute()
    for part in reversed(path.parents):  # from the root down
        if not part.exists():
            break
        if not part.is_dir():
            raise IndexDirRefused(
                f"store {target}: {part} is a file, not a folder, so the store cannot be made inside it; "
                f"choose another path ({SETTING})"
            )
    if corpus_dir is not None:
        check_location(target, corpus_dir)
    if path.is_symlink() and not path.exists():
        raise IndexDirRefused(f"store {target}: {path} is a link that leads nowhere; choose another path ({SETTING})")
    if path.exists() and not path.is_dir():
        raise IndexDirRefused(
            f"store {target}: {path} is a file, not a Milvus Lite database (Milvus Lite keeps a store in a "
            f"folder of that name); nothing was changed. Choose another path, or move the file away ({SETTING})"
        )
    if path.is_dir():
        try:
            entries = sorted(p.name for p in path.iterdir())
        except OSError as exc:
            raise StoreUnavailable(
                f"store {target}: cannot read the folder {path} ({exc.strerror}); fix its permissions "
                f"or choose another path ({SETTING})"
            ) from exc
        if entries and not set(entries) & set(LITE_ENTRIES[:2]):
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise IndexDirRefused(
                f"store {target}: {path} is a folder that holds other files ({shown}), not a Milvus Lite "
                f"database; nothing was changed. Choose a new path ({SETTING})"
            )


def check_location(target: MilvusTarget, corpus_dir: str | Path) -> None:
    """Refuse a Milvus Lite store that is the corpus folder or lies inside it, as the FAISS index
    folder is refused (`index.store.check_location`): the database would be mixed with the articles."""
    if not target.lite:
        return
    store, corpus = Path(target.uri).expanduser().resolve(), Path(corpus_dir).expanduser().resolve()
    if store == corpus or corpus in store.parents:
        where = "is the corpus folder" if store == corpus else f"is inside the corpus folder {corpus}"
        raise IndexDirRefused(
            f"store {target} {where}; the database would be mixed with the articles. "
            f"Choose a path outside the corpus ({SETTING})"
        )


# -- the client --------------------------------------------------------------------------------------


class Client:
    """A pymilvus `MilvusClient` whose failures become one `StoreUnavailable` line naming the store.

    Every method of the client is reached through this wrapper (`client.search(...)` and so on);
    `guard` covers what runs outside a call, such as a query iterator's pages.
    """

    def __init__(self, client: Any, target: MilvusTarget, errors: tuple[type[BaseException], ...]):
        self.raw = client
        self.target = target
        self._errors = errors

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise StoreUnavailable(_failure(self.target, what, exc)) from exc

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.raw, name)
        if not callable(method):
            return method

        @wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            with self.guard(name):
                return method(*args, **kwargs)

        return call


def _message(exc: BaseException) -> str:
    """The error's own words on one line: pymilvus' `message`, gRPC's `details()`, else str()."""
    details = getattr(exc, "details", None)
    text = getattr(exc, "message", None) or (details() if callable(details) else None) or str(exc)
    return " ".join(str(text).split())[:200]


def _failure(target: MilvusTarget, what: str, exc: BaseException) -> str:
    if target.lite:
        return (
            f"the Milvus store {target} failed ({what}: {_message(exc)}); run the command again, or move the "
            "store folder away and run 'rag index' to build it anew"
        )
    return (
        f"the Milvus server at {target.uri} failed ({what}: {_message(exc)}); check that it is running and "
        f"reachable, then run the command again ({SETTING})"
    )


def _lite_locked(path: Path) -> bool:
    """Whether another process holds this Milvus Lite store open (its LOCK file's flock)."""
    import fcntl

    try:
        fd = os.open(path / "LOCK", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _open_failure(target: MilvusTarget, exc: BaseException) -> str:
    if not target.lite:
        return (
            f"cannot reach the Milvus server at {target.uri} ({_message(exc)}); start it, or fix the address "
            f"({SETTING})"
        )
    path = Path(target.uri).expanduser().absolute()
    if _lite_locked(path):
        why = "another process has it open (Milvus Lite lets one process use a store at a time); wait for it to end"
    elif not os.access(path if path.exists() else path.parent, os.W_OK):
        why = "this user cannot write there; choose a writable path"
    else:
        why = (
            f"{_message(exc)}; move the store folder away and run 'rag index' to build it anew, or choose another path"
        )
    return f"cannot open the Milvus store {target}: {why} ({SETTING})"


def connect(target: MilvusTarget, corpus_dir: str | Path | None = None) -> Client:
    """A client of the store. A Milvus Lite path is checked first (`check_path`, and
    `check_location` when the corpus folder is given), so a refused path is left untouched."""
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError as exc:
        raise ScaleExtraMissing("the Milvus store needs pymilvus and milvus-lite: pip install -e '.[scale]'") from exc
    errors: tuple[type[BaseException], ...] = (MilvusException,)
    with contextlib.suppress(ImportError):  # grpcio, which pymilvus needs; its errors mostly arrive wrapped
        errors += (importlib.import_module("grpc").RpcError,)
    if target.lite:
        check_path(target, corpus_dir)
        folder = Path(target.uri).expanduser().absolute().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the folder {folder} of the Milvus store {target} ({exc.strerror}); "
                f"choose a writable path ({SETTING})"
            ) from exc
    for name in FAILURE_LOGGERS:
        logger = logging.getLogger(name)
        if _drop_failures not in logger.filters:
            logger.addFilter(_drop_failures)
    token = os.environ.get("MILVUS_TOKEN", "")
    try:
        client = MilvusClient(target.uri, token=token) if token else MilvusClient(target.uri)
    except errors as exc:
        raise StoreUnavailable(_open_failure(target, exc)) from exc
    return Client(client, target, errors)


def _drop_failures(record: logging.LogRecord) -> bool:
    """A log filter: the failure records of `FAILURE_LOGGERS` go; their warnings stay."""
    return record.levelno < logging.ERROR


def term_code(term: str) -> str:
    """One term as a token Milvus' standard tokenizer keeps whole (letters and hex digits only)."""
    return "t" + hashlib.blake2b(term.encode("utf-8"), digest_size=8).hexdigest()


def coded(terms: Iterable[str]) -> str:
    return " ".join(term_code(t) for t in terms)


def unit_key(doc_id: str, position: int) -> int:
    """A stable 63-bit primary key for a document's n-th unit."""
    digest = hashlib.blake2b(f"{position}\x00{doc_id}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def _doc_filter(doc_id: str) -> str:
    """A Milvus filter for one document's rows (Milvus Lite takes no filter parameters)."""
    return f"doc_id == {json.dumps(doc_id, ensure_ascii=False)}"


SPAN_FIELDS = ("doc_id", "start", "end", "text")


def _extra(unit: TextUnit) -> dict:
    """What a unit carries besides its span and text: the FAISS store's jsonl row without those."""
    return {k: v for k, v in row_of(unit).items() if k not in SPAN_FIELDS}


def _unit_from(kind: type[TextUnit], row: dict) -> TextUnit:
    fields = {"doc_id": row["doc_id"], "start": int(row["start"]), "end": int(row["end"]), "text": row["text"]}
    return unit_from(kind, {**fields, **(row.get("extra") or {})})


def _check_size(what: str, text: str) -> None:
    if len(text.encode("utf-8")) > MAX_VARCHAR:
        raise RagError(
            f"{what} is over Milvus' {MAX_VARCHAR}-byte field limit; split the document or use the FAISS store"
        )


# -- schema ---------------------------------------------------------------------------------------


def _create_units(client: Client, name: str, dimension: int, lite: bool) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=MAX_DOC_ID)
    schema.add_field("sha256", DataType.VARCHAR, max_length=64)
    schema.add_field("position", DataType.INT64)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("extra", DataType.JSON)
    schema.add_field(
        "terms",
        DataType.VARCHAR,
        max_length=MAX_VARCHAR,
        enable_analyzer=True,
        analyzer_params={"tokenizer": "standard"},
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]
        )
    )
    index = client.prepare_index_params()
    if lite:
        index.add_index("vector", index_type="FLAT", metric_type="IP")
    else:  # a server holds archives too big for exact search; the FAISS store's HNSW settings (not run here)
        index.add_index(
            "vector", index_type="HNSW", metric_type="IP", params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION}
        )
    index.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
    )
    _create_collection(client, name, schema, index)


def _create_manifest(client: Client, name: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=MAX_DOC_ID)
    schema.add_field("body", DataType.JSON)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    _create_collection(client, name, schema, index)


def _create_collection(client: Client, name: str, schema: Any, index: Any) -> None:
    """Create, index and load an empty collection, waiting on the index by polling its state.

    `create_collection(index_params=...)` waits through pymilvus' `wait_for_creating_index`, which
    sleeps half a second before it first asks, for every index; an index on an empty collection is
    finished at once, so a new store (five indexes) took 2.5 s of sleep. Asked every few
    milliseconds instead, the wait ends when the index does.
    """
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, index, sync=False)
    deadline = time.monotonic() + INDEX_WAIT_S
    for index_name in client.list_indexes(name):
        while (state := client.describe_index(name, index_name).get("state")) != "Finished":
            if state == "Failed" or time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"Milvus did not build the {index_name!r} index of {name!r} (state {state}); "
                    f"run the command again ({SETTING})"
                )
            time.sleep(INDEX_POLL_S)
    client.load_collection(name)


# -- reading ----------------------------------------------------------------------------------------


class MilvusTable(SearchTable):
    """One table's units and vectors in memory, searched densely and lexically in Milvus."""

    def __init__(
        self, client: Client, collection: str, units: list[TextUnit], keys: list[int], vectors, dimension: int
    ):
        self._client = client
        self._collection = collection
        self._units = units
        self._keys = keys
        self._row_of = {k: r for r, k in enumerate(keys)}
        self.vectors = np.asarray(vectors, dtype=np.float32).reshape(len(units), dimension)
        self._term_best: dict[str, float] = {}

    @property
    def units(self) -> Sequence[TextUnit]:
        return self._units

    @cached_property
    def faiss_index(self) -> faiss.Index:
        """An exact in-memory index over the loaded vectors, for finding same-story sentences
        (`MilvusStore.story_groups`): every sentence's neighbours, once per process."""
        return build_faiss(self.vectors, "flat")

    def dense(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self._units))
        if k <= 0:
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        found = self._client.search(
            self._collection,
            data=[vector],
            anns_field="vector",
            limit=k,
            output_fields=["pk"],
            search_params={"params": {"ef": max(HNSW_EF_SEARCH, k)}},  # used by HNSW (servers), ignored by FLAT
        )[0]
        return [(self._row_of[hit["pk"]], float(hit["distance"])) for hit in found]

    def cosines(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        return (self.vectors[list(rows)] @ np.asarray(query, dtype=np.float32)).astype(np.float32)

    def _bm25(self, terms: Sequence[str], limit: int, keys: Sequence[int] | None = None) -> list[tuple[int, float]]:
        if not terms or limit <= 0 or not self._units:
            return []
        extra = {"filter": f"pk in [{','.join(str(int(k)) for k in keys)}]"} if keys is not None else {}
        found = self._client.search(
            self._collection,
            data=[coded(terms)],
            anns_field="sparse",
            limit=min(limit, len(self._units)),
            output_fields=["pk"],
            **extra,
        )[0]
        # Milvus Lite reports BM25 as a negative distance, a server as a positive score.
        return [(self._row_of[hit["pk"]], abs(float(hit["distance"])) / (BM25_K1 + 1)) for hit in found]

    def lexical(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        hits = [(r, s) for r, s in self._bm25(terms, k + TIE_MARGIN) if s > 0]
        return sorted(hits, key=lambda h: (-h[1], h[0]))[:k]

    def lexical_scores(self, terms: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        out = np.zeros(len(rows), dtype=np.float32)
        if not len(rows):
            return out
        scores = dict(self._bm25(terms, len(set(rows)), [self._keys[r] for r in set(rows)]))
        for i, r in enumerate(rows):
            out[i] = scores.get(r, 0.0)
        return out

    def lexical_bound(self, terms: Sequence[str]) -> float:
        for term in set(terms) - set(self._term_best):
            best = self._bm25([term], 1)
            self._term_best[term] = best[0][1] if best else 0.0
        return sum(self._term_best[t] for t in terms)


class MilvusStore:
    """The Milvus counterpart of `index.store.IndexStore`: a manifest and two searchable tables."""

    def __init__(self, target: MilvusTarget, client: Client, manifest: Manifest, tables: dict):
        self.target = target
        self.client = client
        self.manifest = manifest
        self.chunks: MilvusTable = tables["chunks"]
        self.sentences: MilvusTable = tables["sentences"]
        self._stories: StoryGroups | None = None
        self._actors: ActorIndex | None = None

    def table(self, name: str) -> MilvusTable:
        return {"chunks": self.chunks, "sentences": self.sentences}[name]

    def story_groups(self) -> StoryGroups:
        """Same-story groups of the sentences, found from the loaded vectors (exact search) on first use."""
        if self._stories is None:
            s = self.sentences
            self._stories = detect(s.units, s.vectors, s.faiss_index.search)
        return self._stories

    def actor_index(self) -> ActorIndex:
        """The people the sentences quote, from the loaded units' analyses on first use."""
        if self._actors is None:
            self._actors = actors_of(self.sentences.units)
        return self._actors

    @classmethod
    def load(
        cls, target: MilvusTarget, client: Client | None = None, corpus_dir: str | Path | None = None
    ) -> "MilvusStore":
        """The store as last built; `IndexCorrupt` (one line naming the documents) when its rows do
        not match its manifest, as an interrupted build leaves them (`row_problems`)."""
        client = client or connect(target, corpus_dir)
        stored = read_manifest(client, target)
        rows = {name: _read_all(client, target.collection(name), LOAD_FIELDS) for name in TABLES}
        problems = row_problems(stored, rows)
        if problems:
            raise IndexCorrupt(mismatch_message(target, problems))
        tables = {
            name: _table_of(client, target.collection(name), kind, rows[name], stored.order, stored.manifest.dimension)
            for name, kind in TABLES.items()
        }
        return cls(target, client, stored.manifest, tables)

    def check_texts(self, corpus: "Corpus") -> None:
        """`IndexCorrupt` unless every unit's text is its file's text at its span (documents whose
        file changed are the staleness check's to report)."""
        docs = corpus.by_id
        spans: dict[str, list[tuple[int, int, str]]] = {}
        for name in TABLES:
            for unit in self.table(name).units:
                spans.setdefault(unit.doc_id, []).append((unit.start, unit.end, unit.text))
        problems = {}
        for doc_id, entry in self.manifest.documents.items():
            doc = docs.get(doc_id)
            if doc is not None and doc.sha256 == entry.sha256:
                problem = _text_problem(doc, spans.get(doc_id, []))
                if problem:
                    problems[doc_id] = problem
        if problems:
            raise IndexCorrupt(mismatch_message(self.target, problems))


# -- reading and checking ----------------------------------------------------------------------------

LOAD_FIELDS = ["pk", "doc_id", "sha256", "position", "start", "end", "text", "extra", "vector"]
CHECK_FIELDS = ["doc_id", "sha256", "position", "start", "end", "text"]


@dataclass
class StoredManifest:
    """The manifest collection as read: the documents and settings, each document's ordinal (corpus
    order) and its number of units per table, and every row's body as stored."""

    manifest: Manifest
    order: dict[str, int]
    counts: dict[str, dict[str, int]]
    bodies: dict[str, dict] = field(default_factory=dict)


def read_manifest(client: Client, target: MilvusTarget) -> StoredManifest:
    """The manifest as stored; `IndexMissing` if this store was never completed."""
    names = [target.collection(n) for n in (*TABLES, "manifest")]
    if not all(client.has_collection(n) for n in names):
        raise IndexMissing(f"no index in the Milvus store {target} ({target.prefix}_*); build one with 'rag index'")
    for name in names:  # a reopened store's collections start released
        client.load_collection(name)
    rows = _read_all(client, target.collection("manifest"), ["key", "body"])
    bodies = {row["key"]: row["body"] for row in rows}
    meta = bodies.get(META_KEY)
    if meta is None:
        raise IndexMissing(f"the Milvus store {target} has no completed build; build one with 'rag index'")
    if meta.get("format") != FORMAT:
        raise IndexCorrupt(
            f"the Milvus store {target} has format {meta.get('format')!r}, this version reads {FORMAT!r}; "
            "rebuild with 'rag index'"
        )
    docs = {key: body for key, body in bodies.items() if key != META_KEY}
    try:
        documents = {
            key: DocEntry(body["source"], body["sha256"], body.get("title", ""), body.get("publisher", ""))
            for key, body in docs.items()
        }
        order = {key: int(body["ordinal"]) for key, body in docs.items()}
        counts = {key: {name: int(body["units"][name]) for name in TABLES} for key, body in docs.items()}
        manifest = Manifest(
            embed_model=meta["embed_model"],
            dimension=int(meta["dimension"]),
            chunking=meta["chunking"],
            documents=documents,
            format=FORMAT,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(
            f"the Milvus store {target} has a manifest of the wrong shape ({exc!r}); rebuild with 'rag index'"
        ) from exc
    return StoredManifest(manifest, order, counts, bodies)


def _text_problem(doc: "Document", spans: Iterable[tuple[int, int, str]]) -> str:
    for start, end, text in spans:
        if doc.text[start:end] != text:
            return f"a unit's text is not the file's text at {start}-{end}"
    return ""


def row_problems(
    stored: StoredManifest, rows: Mapping[str, Sequence[Mapping]], docs: "Mapping[str, Document] | None" = None
) -> dict[str, str]:
    """Why each document of the manifest cannot be read from these rows, by doc_id; {} if all can.

    Each document's rows in each table must all carry the manifest's sha256 and hold positions
    0..n-1 for the n units the manifest records. With `docs` (the corpus, by id), the rows of a
    document whose file still has that sha256 must hold the file's text at their spans.
    """
    by_doc: dict[str, dict[str, list[Mapping]]] = {}
    for name, table in rows.items():
        for row in table:
            by_doc.setdefault(row["doc_id"], {}).setdefault(name, []).append(row)
    problems: dict[str, str] = {}
    for doc_id, entry in stored.manifest.documents.items():
        own = by_doc.get(doc_id, {})
        for name in TABLES:
            table_rows = own.get(name, [])
            other = sorted({r["sha256"] for r in table_rows} - {entry.sha256})
            expected = stored.counts[doc_id][name]
            if other:
                problems[doc_id] = (
                    f"its {name} are of another version of the file (sha256 {other[0][:12]}, "
                    f"the manifest says {entry.sha256[:12]})"
                )
            elif sorted(int(r["position"]) for r in table_rows) != list(range(expected)):
                problems[doc_id] = f"it has {len(table_rows)} {name}, the manifest says {expected}"
            if doc_id in problems:
                break
        doc = docs.get(doc_id) if docs is not None else None
        if doc_id not in problems and doc is not None and doc.sha256 == entry.sha256:
            spans = ((int(r["start"]), int(r["end"]), r["text"]) for t in own.values() for r in t)
            problem = _text_problem(doc, spans)
            if problem:
                problems[doc_id] = problem
    return problems


def _shown(problems: Mapping[str, str]) -> str:
    shown = "; ".join(f"{doc_id}: {why}" for doc_id, why in sorted(problems.items())[:SHOWN_DOCS])
    return shown + (f"; and {len(problems) - SHOWN_DOCS} more" if len(problems) > SHOWN_DOCS else "")


def mismatch_message(target: MilvusTarget, problems: Mapping[str, str]) -> str:
    """One line naming the first documents whose rows do not match, and what to do."""
    return (
        f"the Milvus store {target} does not match its manifest ({_shown(problems)}), as an interrupted "
        "'rag index' leaves it; run 'rag index' to repair it"
    )


def repair_message(target: MilvusTarget, problems: Mapping[str, str]) -> str:
    """What a build tells when it re-embeds documents whose rows did not match."""
    return f"repairing the Milvus store {target}: re-embedding {', '.join(sorted(problems))} ({_shown(problems)})"


def _read_all(client: Client, collection: str, fields: list[str]) -> list[dict]:
    rows: list[dict] = []
    # Milvus Lite has no server timestamp to give the iterator, which warns about it on every call.
    quiet = logging.getLogger(ITERATOR_LOGGER)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with client.guard(f"reading {collection}"):
            iterator = client.raw.query_iterator(collection, batch_size=READ_BATCH, output_fields=fields)
            try:
                while page := iterator.next():
                    rows.extend(page)
            finally:
                iterator.close()
    finally:
        quiet.setLevel(level)
    return rows


def _table_of(
    client: Client, collection: str, kind: type[TextUnit], rows: list[dict], order: dict[str, int], dimension: int
) -> MilvusTable:
    """The rows of the manifest's documents (others are a build's leftovers), in corpus order."""
    rows = [r for r in rows if r["doc_id"] in order]
    rows.sort(key=lambda r: (order[r["doc_id"]], r["doc_id"], r["position"]))
    try:
        units = [_unit_from(kind, r) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"{collection} holds a row of the wrong shape ({exc}); rebuild with 'rag index'") from exc
    vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    if rows and vectors.shape != (len(rows), dimension):
        raise IndexCorrupt(f"{collection} holds vectors of another dimension; rebuild with 'rag index'")
    return MilvusTable(client, collection, units, [int(r["pk"]) for r in rows], vectors, dimension)


# -- writing ----------------------------------------------------------------------------------------


@dataclass
class Audit:
    """What a build found in the store before writing: documents whose rows cannot be used, and
    every doc_id that has rows (a document with rows but no manifest row is a leftover)."""

    problems: dict[str, str]
    row_docs: set[str]


class MilvusWriter:
    """Incremental writes by document: what `index.build` calls for a Milvus store.

    The order of the writes is the store's consistency (see the module docstring): a document's
    manifest row goes before its units are touched and comes back after the last of them.
    """

    def __init__(
        self,
        target: MilvusTarget,
        terms_of: Callable[[str], list[str]],
        client: Client | None = None,
        corpus_dir: str | Path | None = None,
    ):
        self.target = target
        self.terms_of = terms_of
        self.client = client or connect(target, corpus_dir)
        self.stored: StoredManifest | None = None
        self._counts: dict[str, dict[str, int]] = {}  # units per table of what this writer put
        self._bodies: dict[str, dict] = {}  # the manifest rows as they now are in the store
        self._empty = False  # just reset: no rows to delete before writing a document's
        self.unusable = ""  # why the stored manifest could not be used (a full rebuild follows)

    def existing(self) -> Manifest | None:
        """The stored manifest, or None for a store never built or unusable (`unusable` says why)."""
        self.unusable = ""
        try:
            self.stored = read_manifest(self.client, self.target)
        except IndexMissing:
            self.stored = None
        except IndexCorrupt as exc:
            self.stored, self.unusable = None, str(exc)
        self._bodies = dict(self.stored.bodies) if self.stored else {}
        return self.stored.manifest if self.stored else None

    def audit(self, docs: "Mapping[str, Document]") -> Audit:
        """Check the stored rows against the manifest and the corpus files (`row_problems`)."""
        if self.stored is None:
            return Audit({}, set())
        rows = {name: _read_all(self.client, self.target.collection(name), CHECK_FIELDS) for name in TABLES}
        row_docs = {r["doc_id"] for table in rows.values() for r in table}
        return Audit(row_problems(self.stored, rows, docs), row_docs)

    def reset(self, dimension: int) -> None:
        """Drop every collection of this prefix and create them empty (a full rebuild)."""
        for name in (*TABLES, "manifest"):
            if self.client.has_collection(self.target.collection(name)):
                self.client.drop_collection(self.target.collection(name))
        for name in TABLES:
            _create_units(self.client, self.target.collection(name), dimension, self.target.lite)
        _create_manifest(self.client, self.target.collection("manifest"))
        self.stored, self._bodies, self._empty = None, {}, True

    def delete_document(self, doc_id: str) -> None:
        """Its manifest row first, then its units: a kill in between leaves only unlisted rows."""
        self._unlist(doc_id)
        self.delete_rows(doc_id)

    def _unlist(self, doc_id: str) -> None:
        self.client.delete(self.target.collection("manifest"), ids=[doc_id])
        self._bodies.pop(doc_id, None)

    def delete_rows(self, doc_id: str) -> None:
        for name in TABLES:
            self.client.delete(self.target.collection(name), filter=_doc_filter(doc_id))

    def put_document(
        self,
        doc_id: str,
        sha256: str,
        tables: dict[str, tuple[Sequence[TextUnit], np.ndarray]],
        entry: DocEntry | None = None,
        ordinal: int | None = None,
    ) -> None:
        """Replace a document's units (deleted by doc_id, inserted in batches) with these.

        Its manifest row is deleted first; with `entry` and `ordinal` it is written again after the
        last unit (else `put_documents` writes it). A kill anywhere in between leaves the document
        unlisted, so no reader uses its rows and the next build redoes it.
        """
        if len(doc_id.encode("utf-8")) > MAX_DOC_ID:
            raise RagError(f"document id {doc_id[:80]!r}... is over {MAX_DOC_ID} bytes; shorten its path")
        rows_of = {name: self._rows(doc_id, sha256, *tables[name]) for name in TABLES}  # size checks first
        if not self._empty:
            self._unlist(doc_id)
        for name, rows in rows_of.items():
            if not self._empty:
                self.client.delete(self.target.collection(name), filter=_doc_filter(doc_id))
            for i in range(0, len(rows), INSERT_BATCH):
                self.client.insert(self.target.collection(name), rows[i : i + INSERT_BATCH])
        self._counts[doc_id] = {name: len(rows) for name, rows in rows_of.items()}
        if entry is not None and ordinal is not None:
            self.put_documents({doc_id: entry}, {doc_id: ordinal})

    def _rows(self, doc_id: str, sha256: str, units: Sequence[TextUnit], vectors: np.ndarray) -> list[dict]:
        rows = []
        for position, (unit, vector) in enumerate(zip(units, vectors, strict=True)):
            terms = coded(self.terms_of(unit.text) or [EMPTY_TERM])
            _check_size(f"a unit of {doc_id} ({unit.start}:{unit.end})", unit.text)
            _check_size(f"the terms of a unit of {doc_id} ({unit.start}:{unit.end})", terms)
            rows.append(
                {
                    "pk": unit_key(doc_id, position),
                    "doc_id": doc_id,
                    "sha256": sha256,
                    "position": position,
                    "start": unit.start,
                    "end": unit.end,
                    "text": unit.text,
                    "extra": _extra(unit),
                    "terms": terms,
                    "vector": np.asarray(vector, dtype=np.float32).tolist(),
                }
            )
        return rows

    def put_documents(self, entries: dict[str, DocEntry], ordinals: dict[str, int]) -> None:
        """Write the manifest rows that differ from the stored ones (new documents, new ordinals).

        A document's unit counts are those this writer put, else the stored ones.
        """
        known = self.stored.counts if self.stored else {}
        bodies: dict[str, dict] = {}
        for doc_id, entry in entries.items():
            counts = self._counts.get(doc_id) or known.get(doc_id)
            if counts is None:
                raise RagError(f"no units were written for {doc_id}; it cannot be listed in the Milvus store")
            body = dict(vars(entry), ordinal=ordinals[doc_id], units=counts)
            if self._bodies.get(doc_id) != body:
                bodies[doc_id] = body
        keys = list(bodies)
        for i in range(0, len(keys), INSERT_BATCH):
            batch = keys[i : i + INSERT_BATCH]
            rows = [{"key": key, "body": bodies[key], "vector": [0.0, 0.0]} for key in batch]
            self.client.upsert(self.target.collection("manifest"), rows)
            self._bodies.update((key, bodies[key]) for key in batch)

    def finish(self, manifest: Manifest) -> None:
        """Write the META row (last on a fresh store: from then on it counts as built) unless it
        is already the same, then flush."""
        body = {
            "format": FORMAT,
            "embed_model": manifest.embed_model,
            "dimension": manifest.dimension,
            "chunking": manifest.chunking,
        }
        if self._bodies.get(META_KEY) != body:
            self.client.upsert(
                self.target.collection("manifest"), [{"key": META_KEY, "body": body, "vector": [0.0, 0.0]}]
            )
            self._bodies[META_KEY] = body
        for name in (*TABLES, "manifest"):
            self.client.flush(self.target.collection(name))
