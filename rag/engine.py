"""The public entry point: open (or build) the index for a corpus, then ask questions.

    engine = Engine.open()                     # builds the index on first use
    answer = engine.ask("How much must partners pay for Ukraine's defence in 2026?")
    answer.to_dict()                           # exactly what `rag ask --json` prints

The UI, the evaluation suite and the CLI all go through this class. It only wires the stages of
`rag.stages`, one module each, with a typed input and output:

    read -> retrieve -> select -> decide -> draft -> check -> publish

and `rag.opening`, which opens the index they read. Only `decide` refuses.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TextIO

from rag import opening
from rag.settings import Settings
from rag.stages import draft
from rag.stages.check import Check
from rag.stages.decide import Decide, Decision
from rag.stages.draft import Backends, Drafted, extractive_fallback
from rag.stages.publish import Publish, joined
from rag.stages.read import Question, asks, check_k, check_question, query_of, read
from rag.stages.retrieve import Retrieve
from rag.stages.select import Select
from rag.tuning import DEFAULT, Tuning
from rag.types import Answer, Evidence, Passage

if TYPE_CHECKING:
    from index.build import BuildReport
    from index.documents import Corpus, Document
    from index.embedding import Embedder
    from index.milvus_store import MilvusStore
    from index.store import IndexStore
    from rag.backends.base import Backend, BackendOptions
    from rag.question import Ask

__all__ = ["Engine", "open_engine"]


@dataclass
class Engine:
    settings: Settings
    corpus: Corpus
    store: IndexStore | MilvusStore
    embedder: Embedder
    build_report: BuildReport | None = None
    # What a failed draft is replaced by (None: the extractive backend with this engine's tuning
    # and forms); the check stage gets it from here.
    fallback: Backend | None = field(default=None, repr=False)
    # Ranking weights and cut-offs (`rag.tuning`); eval sweeps them by passing another.
    tuning: Tuning = field(default=DEFAULT, repr=False)
    # The backends this engine opened, kept across re-opens: a model switch is never an index switch.
    backends: Backends = field(default_factory=Backends, init=False, repr=False, compare=False)
    _follow_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    # A generation `follow` found not to match the corpus: not loaded again for every question.
    _declined: Path | None = field(default=None, init=False, repr=False, compare=False)
    _reopen_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Wire the stages to this index generation (again after a re-open or a rebuild)."""
        parts = opening.parts(self.settings, self.store, self.embedder, self.tuning)
        self.retriever, self.scorer, self.facts = parts.retriever, parts.scorer, parts.facts
        self.disabled = parts.disabled
        fallback = extractive_fallback(self.fallback)
        self.fallback = self.backends.fallback = fallback
        docs = self.corpus.by_id
        self._docs = docs
        self._retrieve = Retrieve(self.retriever, self.scorer, self.facts, docs, self.tuning)
        self._select = Select(self.facts, self.scorer, self.disabled)
        self._decide = Decide(self.settings, self.facts, self.scorer, self.disabled, self.tuning)
        self._check = Check(self.facts, self.scorer, docs, fallback, self.tuning)
        self._publish = Publish(self.facts, self.retriever.stories, docs, self.tuning)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        progress: Callable[[int, int], None] | None = None,
        log: TextIO | None = sys.stderr,
    ) -> "Engine":
        """Load the index for `settings.corpus_dir`, building or refreshing it when needed.

        A missing, corrupt or stale index is never used: the reason is logged and it is rebuilt.
        """
        settings = settings or Settings.from_env()
        # The model loads only once the store opened: a store that cannot be used fails first.
        loaded: list[Embedder] = [embedder] if embedder is not None else []

        def embedder_of() -> Embedder:
            if not loaded:
                loaded.append(opening.embedder_for(settings))
            return loaded[0]

        corpus, store, report = opening.opened(settings, embedder_of, progress, log)
        return cls(settings, corpus, store, embedder_of(), report)

    def reopen(self, log: TextIO | None = sys.stderr) -> None:
        """Read the newest index and the corpus again (rebuilding if stale, as `open` does)."""
        store = self.store
        if log is not None:
            print(opening.REOPENING, file=log)
        with self._reopen_lock:
            if self.store is not store:
                return  # another thread re-opened meanwhile
            corpus, store, report = opening.opened(self.settings, lambda: self.embedder, None, log)
            self.corpus, self.store, self.build_report = corpus, store, report or self.build_report
            self.__post_init__()

    def _retrying(self, answer: Callable[[], Iterator[str | Answer]]) -> Iterator[str | Answer]:
        """`answer()`'s pieces; if the files change under it before it yields, re-open and try again."""
        for attempt in range(opening.REOPEN_ATTEMPTS + 1):
            started = False
            try:
                for piece in answer():
                    started = True
                    yield piece
                return
            except opening.CHANGED_UNDER_US:
                if started or attempt == opening.REOPEN_ATTEMPTS:
                    raise
            self.reopen()

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> BuildReport:
        """Re-read the corpus folder and bring the index up to date (incremental)."""
        corpus, store, report = opening.rebuilt(self.settings, self.embedder, progress)
        assert report is not None, "a rebuild reports what it did"
        self.corpus, self.store, self.build_report = corpus, store, report
        self.__post_init__()
        return report

    def follow(self) -> bool:
        """Serve the generation the index folder names now, if another process (`rag watch`,
        `rag index`) saved a newer one since this engine loaded; True when it switched.

        Called before each question, so a running app answers from the new articles without a
        restart. Costs one read of `CURRENT`. A new generation that does not match the corpus as it
        is now (a file changed again meanwhile) is not taken: this engine keeps serving its own
        until the next build catches up.
        """
        if not self.behind():
            return False
        with self._follow_lock:
            if not self.behind():  # another question switched meanwhile
                return False
            folder, corpus, fresh = opening.newer_generation(self.settings, self.embedder)
            if folder is not None:
                self._declined = folder
            if corpus is None or fresh is None:
                return False
            self.corpus, self.store, self._declined = corpus, fresh, None
            self.__post_init__()
            return True

    def behind(self) -> bool:
        """Whether the index folder names another generation than the one this engine serves."""
        return opening.behind(self.settings, self.store, self._declined)

    # -- reading -----------------------------------------------------------------------------

    @property
    def documents(self) -> tuple[Document, ...]:
        return self.corpus.documents

    def document(self, doc_id: str) -> Document:
        return self._docs[doc_id]

    def read(self, question: str, history: Sequence[str] = ()) -> Question:
        """One ask read once (`rag.stages.read`): what every later stage receives."""
        return read(check_question(question, self.settings.max_question_chars), history, self.facts)

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> list[Passage]:
        """The top-`k` chunks for a question with their scores."""
        question = check_question(question, self.settings.max_question_chars)
        self.follow()
        return self._retrieve.chunks(query_of(question), self._k(k), mode or self.settings.retrieval)

    def _k(self, k: int | None) -> int:
        return check_k(self.settings.top_k if k is None else k)

    def evidence(
        self, question: str, k: int | None = None, mode: str | None = None, ask: Ask | None = None
    ) -> tuple[list[Passage], list[Evidence]]:
        """Retrieved passages, and the numbered, scored sentences inside them, best first. With the
        question's `ask`, a sentence its asked actor speaks meets the words naming that actor."""
        question = check_question(question, self.settings.max_question_chars)
        found = self._retrieve.search(query_of(question, ask), self._k(k), mode or self.settings.retrieval)
        return list(found.passages), list(found.evidence)

    def decide(self, question: Question, evidence: Sequence[Evidence]) -> Decision:
        """Which evidence may answer, in the order to answer from, or why none may: the select and
        decide stages (`rag.stages.select`, `rag.stages.decide`)."""
        return self._decide.run(question, self._select.run(question, tuple(evidence)))

    # -- backends ----------------------------------------------------------------------------

    @property
    def backend_options(self) -> BackendOptions:
        """The options a question gets when it passes none: from this engine's settings."""
        return draft.options_of(self.settings)

    def backend(self, name: str | None = None, options: BackendOptions | None = None) -> Backend:
        """The backend `name` with `options`, created on first use and kept for this engine.

        One backend serves every question with the same name and options (what the backend
        depends on of them, `options_key`); a model switch is another backend, never another index.
        """
        return self.backends.get(name or self.settings.backend, options or self.backend_options)

    def close(self) -> None:
        """Close every backend this engine opened (stops a local model server)."""
        self.backends.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- answering ---------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        k: int | None = None,
        backend: str | None = None,
        history: Sequence[str] = (),
        options: BackendOptions | None = None,
    ) -> Answer:
        """Answer from the corpus with exact citations, or abstain when the evidence is weak.

        `history` holds the user's earlier questions, oldest first; a follow-up such as
        "and what about Germany?" is searched together with the previous one. Every answer is
        verified (`rag.verify`): a failing one is repaired once, then replaced by the extractive
        answer with `verified=False` and the reason. `options` (model, API base, time budget)
        apply to this question only; by default they come from the engine's settings. A backend
        that runs out of its time budget (`options.timeout`) is replaced the same way. When the
        index or an article changes under the engine (a rebuild by another process), it re-opens
        the newest index and asks again, `REOPEN_ATTEMPTS` times at most.
        """
        self.follow()
        *_, answer = self._retrying(lambda: self._answer(question, k, backend, history, options, stream=False))
        assert isinstance(answer, Answer), "the answer stream ends with the Answer"
        return answer

    def ask_stream(
        self,
        question: str,
        k: int | None = None,
        backend: str | None = None,
        history: Sequence[str] = (),
        options: BackendOptions | None = None,
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is produced, then the final checked `Answer` last.

        An LLM backend's pieces are its raw draft, as the model writes it; verification runs on
        the finished text, and the final `Answer` (renumbered markers, or the extractive fallback)
        is what to show once it arrives. Other backends yield their whole text as one piece.
        """
        self.follow()
        yield from self._retrying(lambda: self._answer(question, k, backend, history, options, stream=True))

    def _answer(
        self,
        question: str,
        k: int | None,
        backend: str | None,
        history: Sequence[str],
        options: BackendOptions | None,
        stream: bool,
    ) -> Iterator[str | Answer]:
        """The stages in turn, each timed for the trace: read, retrieve, select, decide, then (unless
        decide refused) draft, check and publish."""
        t0 = time.perf_counter()
        question = check_question(question, self.settings.max_question_chars)
        parts = asks(question)
        if len(parts) > 1:
            # "How many ..., and what did X call ...?": each ask answered with its own citations.
            answers = [self.ask(part, k, backend, history, options) for part in parts]
            answer = joined(question, parts, answers, time.perf_counter() - t0)
            if stream:
                yield answer.text
            yield answer
            return
        name = backend or self.settings.backend
        options = options or self.backend_options
        chosen = self.backend(name, options)
        clock = _Clock()
        with clock("read"):
            asked = read(question, history, self.facts)
        with clock("retrieve") as note:
            retrieved = self._retrieve.run(asked, self._k(k), self.settings.retrieval)
            note(passages=len(retrieved.passages), evidence=len(retrieved.evidence))
        timings: dict[str, float] = {"retrieve_s": time.perf_counter() - t0}
        with clock("select") as note:
            selected = self._select.run(asked, retrieved.evidence)
            note(candidates=len(selected.candidates), dropped=len(selected.dropped))
        with clock("decide") as note:
            decision = self._decide.run(asked, selected)
            note(refusal=decision.reason.value if decision.reason else None, support=round(decision.support, 4))
        trace = decision.trace(asked, self.disabled)
        if decision.refusal is not None:
            with clock("publish"):
                answer = self._publish.refused(asked, name, decision, retrieved)
            timings["total_s"] = time.perf_counter() - t0
            answer = replace(answer, timings=timings, trace={**trace, "stages": clock.stages})
            if stream:
                yield answer.text
            yield answer
            return
        drafted: Drafted | None = None
        with clock("draft") as note:
            for piece in draft.run(asked, decision.evidence, name, chosen, options, stream):
                if isinstance(piece, Drafted):
                    drafted = piece
                else:
                    yield piece
            assert drafted is not None, "the draft stage ends with what it drafted"
            note(backend=name, failure=drafted.failure)
        if drafted.first_token_s is not None:
            timings["first_token_s"] = drafted.first_token_s
        timings["generate_s"] = drafted.seconds
        with clock("check") as note:
            checked = self._check.run(asked, decision.evidence, drafted)
            note(verification=checked.outcome.status, reason=checked.outcome.reason)
        if checked.repair_s is not None:
            timings["repair_s"] = checked.repair_s
        timings["verify_s"] = checked.seconds
        with clock("publish") as note:
            answer = self._publish.run(asked, name, decision, retrieved, checked)
            note(citations=len(answer.citations), statements=len(answer.statements), conflicts=len(answer.conflicts))
        timings["total_s"] = time.perf_counter() - t0
        answer = replace(answer, timings=timings, trace={**trace, "stages": clock.stages})
        if stream and not drafted.streamed:
            yield answer.text
        yield answer


class _Clock:
    """Each stage's time and what it decided, in order, for `rag ask --json --debug` (`trace.stages`)."""

    def __init__(self) -> None:
        self.stages: list[dict] = []

    @contextmanager
    def __call__(self, stage: str) -> Iterator[Callable[..., None]]:
        """Time the block as `stage`; the block notes what the stage decided with the callable given."""
        entry: dict = {"stage": stage}
        t = time.perf_counter()
        try:
            yield entry.update
        finally:
            entry["s"] = round(time.perf_counter() - t, 4)
            self.stages.append(entry)


def open_engine(corpus_dir: str | Path | None = None, index_dir: str | Path | None = None, **settings) -> Engine:
    """Shorthand for `Engine.open(Settings.from_env(corpus_dir=..., index_dir=..., ...))`."""
    return Engine.open(Settings.from_env(corpus_dir=corpus_dir, index_dir=index_dir, **settings))
