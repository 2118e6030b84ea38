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

Writes are incremental by document sha: a changed or new document's rows are deleted by doc_id
and inserted again, in batches, then its manifest row is upserted; the META row is written last.
A crash in between leaves a manifest that still names the old sha (or none), so the next build
redoes that document. There is no cross-process write lock here (unlike the FAISS folder): run
one `rag index` at a time against one store.

Reading loads every unit and vector once (the retriever's duplicate detection and evidence
scoring use all sentence vectors), and sends dense and lexical searches to Milvus.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence
from urllib.parse import parse_qs, urlsplit

import faiss
import numpy as np

from index.aliases import ActorIndex
from index.chunking import Chunk, Sentence, TextUnit
from index.errors import IndexCorrupt, IndexMissing, RagError
from index.search_table import SearchTable
from index.store import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, DocEntry, Manifest, actors_of, build_faiss
from index.stories import StoryGroups, detect
from index.unit_table import row_of, unit_from

if TYPE_CHECKING:
    from pymilvus import MilvusClient

FORMAT = "rag-milvus v1"
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


class StoreUriError(RagError):
    """A `--store` / `RAG_STORE` value that names no store this version can open."""


class ScaleExtraMissing(RagError):
    """pymilvus (or ray) is not installed."""


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


def connect(target: MilvusTarget) -> "MilvusClient":
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise ScaleExtraMissing("the Milvus store needs pymilvus and milvus-lite: pip install -e '.[scale]'") from exc
    if target.lite:
        Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
    token = os.environ.get("MILVUS_TOKEN", "")
    return MilvusClient(target.uri, token=token) if token else MilvusClient(target.uri)


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


def _create_units(client: "MilvusClient", name: str, dimension: int, lite: bool) -> None:
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
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


def _create_manifest(client: "MilvusClient", name: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=MAX_DOC_ID)
    schema.add_field("body", DataType.JSON)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


# -- reading ----------------------------------------------------------------------------------------


class MilvusTable(SearchTable):
    """One table's units and vectors in memory, searched densely and lexically in Milvus."""

    def __init__(
        self, client: "MilvusClient", collection: str, units: list[TextUnit], keys: list[int], vectors, dimension: int
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

    def __init__(self, target: MilvusTarget, client: "MilvusClient", manifest: Manifest, tables: dict):
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
    def load(cls, target: MilvusTarget, client: "MilvusClient | None" = None) -> "MilvusStore":
        client = client or connect(target)
        manifest, order = read_manifest(client, target)
        tables = {
            name: _load_table(client, target.collection(name), kind, order, manifest.dimension)
            for name, kind in TABLES.items()
        }
        return cls(target, client, manifest, tables)


def read_manifest(client: "MilvusClient", target: MilvusTarget) -> tuple[Manifest, dict[str, int]]:
    """The manifest and each document's ordinal; `IndexMissing` if this store was never completed."""
    names = [target.collection(n) for n in (*TABLES, "manifest")]
    if not all(client.has_collection(n) for n in names):
        raise IndexMissing(f"no index in the Milvus store {target.uri} ({target.prefix}_*); build one with 'rag index'")
    for name in names:  # a reopened store's collections start released
        client.load_collection(name)
    rows = _read_all(client, target.collection("manifest"), ["key", "body"])
    bodies = {row["key"]: row["body"] for row in rows}
    meta = bodies.pop(META_KEY, None)
    if meta is None:
        raise IndexMissing(f"the Milvus store {target.uri} has no completed build; build one with 'rag index'")
    if meta.get("format") != FORMAT:
        raise IndexCorrupt(
            f"the Milvus store {target.uri} has format {meta.get('format')!r}, this version reads {FORMAT!r}"
        )
    try:
        documents = {
            key: DocEntry(body["source"], body["sha256"], body.get("title", ""), body.get("publisher", ""))
            for key, body in bodies.items()
        }
        order = {key: int(body["ordinal"]) for key, body in bodies.items()}
        manifest = Manifest(
            embed_model=meta["embed_model"],
            dimension=int(meta["dimension"]),
            chunking=meta["chunking"],
            documents=documents,
            format=FORMAT,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(
            f"the Milvus store's manifest has the wrong shape ({exc}); rebuild with 'rag index'"
        ) from exc
    return manifest, order


def _read_all(client: "MilvusClient", collection: str, fields: list[str]) -> list[dict]:
    rows: list[dict] = []
    # Milvus Lite has no server timestamp to give the iterator, which warns about it on every call.
    quiet = logging.getLogger(ITERATOR_LOGGER)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        iterator = client.query_iterator(collection, batch_size=READ_BATCH, output_fields=fields)
        try:
            while page := iterator.next():
                rows.extend(page)
        finally:
            iterator.close()
    finally:
        quiet.setLevel(level)
    return rows


def _load_table(
    client: "MilvusClient", collection: str, kind: type[TextUnit], order: dict[str, int], dimension: int
) -> MilvusTable:
    fields = ["pk", "doc_id", "position", "start", "end", "text", "extra", "vector"]
    rows = [r for r in _read_all(client, collection, fields) if r["doc_id"] in order]
    rows.sort(key=lambda r: (order[r["doc_id"]], r["position"]))
    try:
        units = [_unit_from(kind, r) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"{collection} holds a row of the wrong shape ({exc}); rebuild with 'rag index'") from exc
    vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)
    if rows and vectors.shape != (len(rows), dimension):
        raise IndexCorrupt(f"{collection} holds vectors of another dimension; rebuild with 'rag index'")
    return MilvusTable(client, collection, units, [int(r["pk"]) for r in rows], vectors, dimension)


# -- writing ----------------------------------------------------------------------------------------


class MilvusWriter:
    """Incremental writes by document: what `index.build` calls for a Milvus store."""

    def __init__(
        self, target: MilvusTarget, terms_of: Callable[[str], list[str]], client: "MilvusClient | None" = None
    ):
        self.target = target
        self.terms_of = terms_of
        self.client = client or connect(target)

    def existing(self) -> Manifest | None:
        try:
            return read_manifest(self.client, self.target)[0]
        except (IndexMissing, IndexCorrupt):
            return None

    def reset(self, dimension: int) -> None:
        """Drop every collection of this prefix and create them empty (a full rebuild)."""
        for name in (*TABLES, "manifest"):
            if self.client.has_collection(self.target.collection(name)):
                self.client.drop_collection(self.target.collection(name))
        for name in TABLES:
            _create_units(self.client, self.target.collection(name), dimension, self.target.lite)
        _create_manifest(self.client, self.target.collection("manifest"))

    def delete_document(self, doc_id: str) -> None:
        for name in TABLES:
            self.client.delete(self.target.collection(name), filter=_doc_filter(doc_id))
        self.client.delete(self.target.collection("manifest"), ids=[doc_id])

    def put_document(self, doc_id: str, sha256: str, tables: dict[str, tuple[Sequence[TextUnit], np.ndarray]]) -> None:
        """Replace a document's units (deleted by doc_id, inserted in batches) with these."""
        if len(doc_id.encode("utf-8")) > MAX_DOC_ID:
            raise RagError(f"document id {doc_id[:80]!r}... is over {MAX_DOC_ID} bytes; shorten its path")
        for name in TABLES:
            self.client.delete(self.target.collection(name), filter=_doc_filter(doc_id))
            units, vectors = tables[name]
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
            for i in range(0, len(rows), INSERT_BATCH):
                self.client.insert(self.target.collection(name), rows[i : i + INSERT_BATCH])

    def put_documents(self, entries: dict[str, DocEntry], ordinals: dict[str, int]) -> None:
        rows = [
            {"key": doc_id, "body": dict(vars(entry), ordinal=ordinals[doc_id]), "vector": [0.0, 0.0]}
            for doc_id, entry in entries.items()
        ]
        for i in range(0, len(rows), INSERT_BATCH):
            self.client.upsert(self.target.collection("manifest"), rows[i : i + INSERT_BATCH])

    def finish(self, manifest: Manifest) -> None:
        """Write the META row last: from here on the store counts as built."""
        body = {
            "format": FORMAT,
            "embed_model": manifest.embed_model,
            "dimension": manifest.dimension,
            "chunking": manifest.chunking,
        }
        self.client.upsert(self.target.collection("manifest"), [{"key": META_KEY, "body": body, "vector": [0.0, 0.0]}])
        for name in (*TABLES, "manifest"):
            self.client.flush(self.target.collection(name))
