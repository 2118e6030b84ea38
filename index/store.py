"""The index on disk: FAISS vectors, the unit tables they point into, and a manifest.

Layout of an index folder (format `rag-index v3`)::

    rag-index.marker     says "this folder is a rag index"; without it a non-empty folder is refused
    write.lock           flock'ed by the one writer at a time (index/lock.py)
    read.lock            shared-locked by readers while they load; old generations wait for them
    CURRENT              the name of the generation folder readers use, replaced atomically
    gen-<16 hex>/        one complete index:
        manifest.json    format, embedding model, dimension, chunking, sha256 of each document,
                         the FAISS index kind of each table, and sha256 of every other file here
        chunks.jsonl     one row per chunk: doc_id, start, end, text
        chunks.npy       the chunk vectors (kept so incremental rebuilds reuse them)
        chunks.faiss     FAISS index over chunks.npy
        sentences.*      the same for sentences; each row also carries its analysis (speakers,
                         actors, figures, lemmas: index/analysis.py) and `flags` when the
                         sentence has any (`index.injection`: it reads as instructions to an AI)
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
every expected file must have one. An index in another format (v2 kept its files directly in the
folder, v1 had no index kinds) is reported as corrupt, which makes `Engine.open` and `rag index`
rebuild it; a v2 folder holding only its own files is adopted and its files removed after the
first v3 save.

The FAISS index kind follows the table's size (`index_kind`): exact `IndexFlatIP` below
`HNSW_MIN_UNITS` units, `IndexHNSWFlat` (inner product) from there on. Exact search over n
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import faiss
import numpy as np

from index.analysis import SentenceAnalysis
from index.chunking import Chunk, Sentence, TextUnit
from index.errors import IndexCorrupt, IndexDirRefused, IndexMissing
from index.lock import LOCK_NAME, READ_LOCK_NAME, index_lock, no_readers, reading

FORMAT = "rag-index v3"
MANIFEST = "manifest.json"
TABLES = {"chunks": Chunk, "sentences": Sentence}
TABLE_FILES = ("jsonl", "npy", "faiss")
EXPECTED_FILES = frozenset(f"{name}.{ext}" for name in TABLES for ext in TABLE_FILES)

MARKER = "rag-index.marker"
MARKER_TEXT = (
    f"This folder is an index written by rag ({FORMAT}).\n"
    "rag replaces the generations inside it on every rebuild; keep no other files here.\n"
)
POINTER = "CURRENT"
GENERATION_PREFIX = "gen-"
TEMP_PREFIX = "tmp-"
_GENERATION = re.compile(r"gen-[0-9a-f]{16}")
LEGACY_FILES = EXPECTED_FILES | {MANIFEST}  # a v2 index kept exactly these directly in the folder
# A reader whose generation vanished (a writer swapped and cleaned up meanwhile) resolves CURRENT
# again; more than one retry only matters if several saves complete during one load.
RESOLVE_ATTEMPTS = 3

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
    faiss_index: faiss.Index = None  # type: ignore[assignment]  # None only until __post_init__ builds it

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
                kinds = {name: self.table(name).kind for name in TABLES}
                manifest = Manifest(**{**vars(self.manifest), "files": files, "index_kinds": kinds})
                _write_bytes(tmp / MANIFEST, json.dumps(manifest.to_dict(), indent=2).encode())
                for path in tmp.iterdir():  # np.save and faiss do not fsync
                    _fsync(path)
                _fsync(tmp)
                generation = index_dir / f"{GENERATION_PREFIX}{secrets.token_hex(8)}"
                os.replace(tmp, generation)
                _point_to(index_dir, generation.name)
                self.manifest = manifest
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
        for name, digest in manifest.files.items():
            path = folder / name
            if _sha256_file(path) != digest:
                raise IndexCorrupt(
                    f"{path} is missing or does not match its manifest checksum; rebuild with 'rag index'"
                )
        tables = {name: _read_table(folder, name, kind, manifest.dimension) for name, kind in TABLES.items()}
        for name, table in tables.items():
            if manifest.index_kinds.get(name) != table.kind:
                raise IndexCorrupt(
                    f"{folder / name}.faiss is a {table.kind} index, its manifest says "
                    f"{manifest.index_kinds.get(name)}; rebuild with 'rag index'"
                )
        return cls(manifest=manifest, **tables)


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
    (once a v3 generation replaces them).

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
    """The file's sha256, or '' if it cannot be read (vanished, unreadable)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


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
