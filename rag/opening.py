"""Opening the index for a corpus: load it, check it is fresh, build or refresh it when not, and
pick up a newer generation another process saved. The engine's infrastructure, beside its stages.

A missing, corrupt or stale index is never used: the reason is logged and it is rebuilt. A reader
whose files change under it (a rebuild is under way: an article it had not read yet changed, or
the generation it read went away) reads the newest index again, `REOPEN_ATTEMPTS` times at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

from index import converted
from index.build import BuildReport, EmbedMany, build_index, build_milvus, check_fresh, staleness
from index.documents import Corpus, load_corpus
from index.embedding import Embedder, make_embedder
from index.errors import CorpusChanged, CorpusError, IndexCorrupt, IndexMissing, IndexStale, RagError
from index.milvus_store import parse_store
from index.store import IndexStore, current_dir
from index.terms import unit_terms
from rag.evidence import EvidenceScorer
from rag.forms import disabled_forms
from rag.retrieval import Retriever
from rag.selection import SentenceFacts
from rag.settings import Settings
from rag.tuning import Tuning

if TYPE_CHECKING:
    from index.milvus_store import MilvusStore

# Not a quality knob: how often a reader retries when a concurrent rebuild swaps files under it
# before the error reaches the user. Three covers a rebuild that lands while another is saved.
REOPEN_ATTEMPTS = 3
CHANGED_UNDER_US = (CorpusChanged, IndexCorrupt)
REOPENING = "rag: the corpus or the index changed while it was read; reading the newest index"

Opened = tuple[Corpus, "IndexStore | MilvusStore", BuildReport | None]


@dataclass(frozen=True)
class Parts:
    """What the stages read of one opened index: built once per generation, shared by every question."""

    retriever: Retriever  # hybrid search, and the same-story groups (`stories`)
    scorer: EvidenceScorer  # sentence support, IDF and the corpus' vocabulary
    facts: SentenceFacts  # each sentence's analysis and the actor index
    disabled: frozenset[str]  # the question forms switched off (`rag.forms`)


def parts(settings: Settings, store: IndexStore | MilvusStore, embedder: Embedder, tuning: Tuning) -> Parts:
    disabled = disabled_forms(settings.disabled_forms)
    return Parts(
        Retriever(store, embedder, tuning),
        EvidenceScorer(store, tuning),
        SentenceFacts.of_store(store, disabled),
        disabled,
    )


def opened(
    settings: Settings,
    embedder: Callable[[], Embedder],
    progress: Callable[[int, int], None] | None,
    log: TextIO | None,
) -> Opened:
    """The corpus and the up-to-date store (see `Engine.open`); tried again, a bounded number of
    times, when the files change under it (a rebuild by another process is under way)."""
    for attempt in range(REOPEN_ATTEMPTS + 1):
        try:
            return _open_once(settings, embedder, progress, log)
        except CHANGED_UNDER_US:
            if attempt == REOPEN_ATTEMPTS:
                raise
            if log is not None:
                print(REOPENING, file=log)
    raise AssertionError("unreachable")


def _open_once(
    settings: Settings,
    embedder_of: Callable[[], Embedder],
    progress: Callable[[int, int], None] | None,
    log: TextIO | None,
) -> Opened:
    # The index first: it knows which corpus files were verified unchanged, so only new or
    # touched articles are read and hashed here (`IndexStore.known_documents`).
    store: IndexStore | MilvusStore | None = None
    failure: RagError | None = None
    try:
        store = load_store(settings)
    except (IndexMissing, IndexCorrupt) as exc:
        failure = exc
    known = store.known_documents() if isinstance(store, IndexStore) else None
    corpus = load_corpus(settings.corpus_dir, settings.max_file_bytes, known, converted_dir(settings))
    if not corpus.documents:
        raise CorpusError(f"no usable documents in {settings.corpus_dir}: " + "; ".join(map(str, corpus.problems)))
    embedder = embedder_of()
    report = None
    try:
        if store is None:
            raise failure or IndexMissing("no index")
        check_fresh(store, corpus, embedder.name, settings.chunking)
    except (IndexMissing, IndexStale, IndexCorrupt) as exc:
        if log is not None and not isinstance(exc, IndexMissing):
            print(f"rag: {exc} - rebuilding", file=log)
        elif log is not None:
            print(f"rag: building the index at {store_location(settings)} (first use)", file=log)
        store, report = build_store(
            settings,
            corpus,
            embedder,
            progress=progress,
            log=None if log is None else lambda m: print(f"rag: {m}", file=log),
        )
    if isinstance(store, IndexStore):
        store.remember(corpus)
    return corpus, store, report


def rebuilt(settings: Settings, embedder: Embedder, progress: Callable[[int, int], None] | None = None) -> Opened:
    """Re-read the corpus folder and bring the index up to date (incremental)."""
    corpus = load_corpus(settings.corpus_dir, settings.max_file_bytes, stored=converted_dir(settings))
    store, report = build_store(settings, corpus, embedder, progress=progress)
    return corpus, store, report


def newer_generation(settings: Settings, embedder: Embedder) -> tuple[Path | None, Corpus | None, IndexStore | None]:
    """The generation the index folder names now, with the corpus read against it: `(folder,
    corpus, store)`, where corpus and store are None when it cannot be served (it does not match
    the corpus as it is now: a file changed again meanwhile), and folder None when it could not
    even be loaded."""
    try:
        fresh = IndexStore.load(settings.resolved_index_dir)
    except RagError:
        return None, None, None
    try:
        corpus = load_corpus(
            settings.corpus_dir, settings.max_file_bytes, fresh.known_documents(), converted_dir(settings)
        )
    except RagError:
        return fresh.folder, None, None
    if staleness(fresh.manifest, corpus, embedder.name, settings.chunking):
        return fresh.folder, None, None
    return fresh.folder, corpus, fresh


def behind(settings: Settings, store: IndexStore | MilvusStore, declined: Path | None) -> bool:
    """Whether the index folder names another generation than `store` (and than `declined`, one
    found not to match the corpus). A Milvus store has no generations."""
    if not isinstance(store, IndexStore) or store.folder is None:
        return False
    try:
        now = current_dir(settings.resolved_index_dir)
    except RagError:
        return False
    return now != store.folder and now != declined


def embedder_cache(settings: Settings) -> Path | None:
    """Where an ONNX variant caches its export: the FAISS index folder, which the build claims
    first. A Milvus store has no such folder, so `auto` runs torch there (the same top-5)."""
    return settings.resolved_index_dir if parse_store(settings.store) is None else None


def embedder_for(settings: Settings) -> Embedder:
    """The embedder `settings` ask for (`index.embedding.make_embedder`)."""
    return make_embedder(settings.embed_model, embedder_cache(settings), settings.embed_backend)


def converted_dir(settings: Settings) -> Path | None:
    """Where the index keeps converted articles' text (`index.converted`); a Milvus store keeps
    none, and its pages are converted again when the corpus is read."""
    if parse_store(settings.store) is not None:
        return None
    return settings.resolved_index_dir / converted.FOLDER


def store_location(settings: Settings) -> str:
    """Where the index lives, for messages: the FAISS folder or the Milvus URI."""
    return settings.resolved_index_dir.as_posix() if parse_store(settings.store) is None else settings.store


def load_store(settings: Settings) -> IndexStore | MilvusStore:
    """The store `settings.store` names (FAISS files by default), as last built."""
    target = parse_store(settings.store)
    if target is None:
        return IndexStore.load(settings.resolved_index_dir)
    from index.milvus_store import MilvusStore

    return MilvusStore.load(target, corpus_dir=settings.corpus_dir)  # a store inside the corpus is refused


def build_store(
    settings: Settings,
    corpus: Corpus,
    embedder: Embedder,
    progress: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
    embed: EmbedMany | None = None,
) -> tuple[IndexStore | MilvusStore, BuildReport]:
    """Bring the chosen store up to date with `corpus`; `embed` replaces in-process embedding (Ray)."""
    target = parse_store(settings.store)
    if target is None:
        return build_index(
            corpus,
            settings.resolved_index_dir,
            embedder,
            settings.chunking,
            progress=progress,
            log=log,
            index_kind=settings.index_kind,
            embed=embed,
        )
    return build_milvus(
        corpus, target, embedder, unit_terms, settings.chunking, progress=progress, embed=embed, log=log
    )
