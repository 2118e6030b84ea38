"""The index on disk: FAISS vectors, the unit tables they point into, and a manifest.

Layout of an index folder (format `rag-index v3`)::

    manifest.json        format, embedding model, dimension, chunking, sha256 of each document,
                         the FAISS index kind of each table, and sha256 of every other file below
    chunks.jsonl         one row per chunk: doc_id, start, end, text
    chunks.npy           the chunk vectors (kept so incremental rebuilds reuse them)
    chunks.faiss         FAISS index over chunks.npy
    sentences.*          the same for sentences; each row also carries its analysis (speakers,
                         actors, figures, lemmas: index/analysis.py) and `flags` when the sentence
                         has any (`index.injection`: it reads as instructions to an AI)

Saving writes a sibling temp folder and renames it into place, so a reader sees either the old
index or the new one, never a half-written mix. Loading verifies every file's checksum. An index
written in another format (v1 had no index kinds, v2 no sentence analysis or flags) is reported
as corrupt, which makes `Engine.open` and `rag index` rebuild it.

The FAISS index kind follows the table's size (`index_kind`): exact `IndexFlatIP` below
`HNSW_MIN_UNITS` units, `IndexHNSWFlat` (inner product) from there on. Exact search over n
vectors costs O(n) per query; HNSW answers in roughly O(log n) at a small loss of recall, and
needs no training, so incremental rebuilds stay simple. `eval/bench_scale.py` measures both kinds
at 10k and 100k units (build time, memory, latency, recall@10 against exact search) and
`eval/reports/latest/scale.md` has the numbers behind the threshold.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import faiss
import numpy as np

from index.analysis import SentenceAnalysis
from index.chunking import Chunk, Sentence, TextUnit
from index.errors import IndexCorrupt, IndexMissing

FORMAT = "rag-index v3"
MANIFEST = "manifest.json"
TABLES = {"chunks": Chunk, "sentences": Sentence}

INDEX_KINDS = ("flat", "hnsw")
# Tables this big or bigger get an HNSW index. Measured (eval/reports/latest/scale.md, 2 cores):
# exact search takes 0.3 ms p50 at 10k units and 11 ms at 100k, growing linearly, so below ~50k it
# stays under the 5-10 ms it takes to embed the question, and exactness costs nothing noticeable;
# HNSW answers in under 0.1 ms at 100k with recall@10 0.95 against exact search, but costs ~30 s
# to build at 100k (on every rebuild) and ~18% more memory.
HNSW_MIN_UNITS = 50_000
HNSW_M = 32  # graph neighbours per vector
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128  # candidates explored per query: the recall/latency knob


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
    def from_dict(cls, data: dict) -> "Manifest":
        return cls(
            embed_model=data["embed_model"],
            dimension=int(data["dimension"]),
            chunking=dict(data["chunking"]),
            documents={k: DocEntry(**v) for k, v in data["documents"].items()},
            files=dict(data.get("files", {})),
            format=data["format"],
            index_kinds=dict(data.get("index_kinds", {})),
        )


def index_kind(size: int) -> str:
    """The FAISS index kind for a table of `size` units."""
    return "hnsw" if size >= HNSW_MIN_UNITS else "flat"


def build_faiss(vectors: np.ndarray, kind: str | None = None) -> faiss.Index:
    """Inner-product search over normalised vectors (scores are cosines); `kind` defaults by size."""
    kind = kind or index_kind(len(vectors))
    if kind == "flat":
        index = faiss.IndexFlatIP(vectors.shape[1])
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        raise ValueError(f"FAISS index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return tuned(index)


def tuned(index: faiss.Index) -> faiss.Index:
    """Set the search-time knobs, which a saved index does not carry reliably."""
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
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
    return "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"


@dataclass
class VectorTable:
    """Units of one kind (chunks or sentences) with their vectors and FAISS index."""

    units: list[TextUnit]
    vectors: np.ndarray
    faiss_index: faiss.Index | None = None

    def __post_init__(self) -> None:
        if len(self.units) != len(self.vectors):
            raise ValueError("one vector per unit")
        if self.faiss_index is None:
            self.faiss_index = build_faiss(self.vectors)

    def __len__(self) -> int:
        return len(self.units)

    @property
    def kind(self) -> str:
        """The FAISS index kind in use: "flat" (exact) or "hnsw" (approximate)."""
        return kind_of(self.faiss_index)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Row numbers and cosine scores of the `k` nearest units, best first."""
        k = min(k, len(self.units))
        if k <= 0:
            return []
        with one_thread():
            scores, rows = self.faiss_index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def rows_of(self, doc_id: str) -> list[int]:
        return [i for i, u in enumerate(self.units) if u.doc_id == doc_id]


@dataclass
class IndexStore:
    manifest: Manifest
    chunks: VectorTable
    sentences: VectorTable

    def table(self, name: str) -> VectorTable:
        return {"chunks": self.chunks, "sentences": self.sentences}[name]

    # -- writing -----------------------------------------------------------------------------

    def save(self, index_dir: str | Path) -> None:
        """Write atomically: build in a temp sibling folder, then swap it into place."""
        index_dir = Path(index_dir)
        index_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.tmp-", dir=index_dir.parent))
        try:
            files = {}
            for name in TABLES:
                files.update(_write_table(tmp, name, self.table(name)))
            kinds = {name: self.table(name).kind for name in TABLES}
            manifest = Manifest(**{**vars(self.manifest), "files": files, "index_kinds": kinds})
            _write_bytes(tmp / MANIFEST, json.dumps(manifest.to_dict(), indent=2).encode())
            _swap_into_place(tmp, index_dir)
            self.manifest = manifest
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- reading -----------------------------------------------------------------------------

    @classmethod
    def load(cls, index_dir: str | Path) -> "IndexStore":
        index_dir = Path(index_dir)
        manifest_path = index_dir / MANIFEST
        if not manifest_path.exists():
            raise IndexMissing(f"no index at {index_dir}; build one with 'rag index'")
        try:
            manifest = Manifest.from_dict(json.loads(manifest_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorrupt(f"{manifest_path} is unreadable ({exc}); rebuild with 'rag index'") from exc
        if manifest.format != FORMAT:
            raise IndexCorrupt(
                f"{index_dir} has format {manifest.format!r}, this version reads {FORMAT!r}; rebuild with 'rag index'"
            )
        for name, digest in manifest.files.items():
            path = index_dir / name
            if not path.exists() or _sha256_file(path) != digest:
                raise IndexCorrupt(f"{path} is missing or does not match its manifest checksum; rebuild with 'rag index'")
        tables = {name: _read_table(index_dir, name, kind, manifest.dimension) for name, kind in TABLES.items()}
        for name, table in tables.items():
            if manifest.index_kinds.get(name, table.kind) != table.kind:
                raise IndexCorrupt(f"{index_dir / name}.faiss is a {table.kind} index, its manifest says "
                                   f"{manifest.index_kinds[name]}; rebuild with 'rag index'")
        return cls(manifest=manifest, **tables)


def _write_bytes(path: Path, data: bytes) -> str:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_table(folder: Path, name: str, table: VectorTable) -> dict[str, str]:
    rows = "".join(json.dumps(_row(u), ensure_ascii=False) + "\n" for u in table.units)
    out = {f"{name}.jsonl": _write_bytes(folder / f"{name}.jsonl", rows.encode("utf-8"))}
    np.save(folder / f"{name}.npy", np.asarray(table.vectors, dtype=np.float32))
    out[f"{name}.npy"] = _sha256_file(folder / f"{name}.npy")
    faiss.write_index(table.faiss_index, str(folder / f"{name}.faiss"))
    out[f"{name}.faiss"] = _sha256_file(folder / f"{name}.faiss")
    return out


def _row(unit: TextUnit) -> dict:
    row = {"doc_id": unit.doc_id, "start": unit.start, "end": unit.end, "text": unit.text}
    if isinstance(unit, Sentence) and unit.analysis is not None:
        row["analysis"] = unit.analysis.to_dict()
    if isinstance(unit, Sentence) and unit.flags:
        row["flags"] = list(unit.flags)
    return row


def _fields(row: dict) -> dict:
    if row.get("analysis") is not None:
        row["analysis"] = SentenceAnalysis.from_dict(row["analysis"])
    return row


def _read_table(folder: Path, name: str, kind: type[TextUnit], dimension: int) -> VectorTable:
    try:
        with open(folder / f"{name}.jsonl", encoding="utf-8") as fh:
            units = [kind(**_fields(json.loads(line))) for line in fh if line.strip()]
        vectors = np.load(folder / f"{name}.npy")
        index = tuned(faiss.read_index(str(folder / f"{name}.faiss")))
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise IndexCorrupt(f"{folder / name}.* is unreadable ({exc}); rebuild with 'rag index'") from exc
    if vectors.shape != (len(units), dimension) or index.ntotal != len(units):
        raise IndexCorrupt(f"{folder / name}.* disagree in size; rebuild with 'rag index'")
    return VectorTable(units, vectors, index)


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target`; an existing `target` is moved aside first, then removed."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

