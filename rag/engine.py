"""The public entry point: open (or build) the index for a corpus, then ask questions.

    engine = Engine.open()                     # builds the index on first use
    answer = engine.ask("How much must partners pay for Ukraine's defence in 2026?")
    answer.to_dict()                           # exactly what `rag ask --json` prints

The UI, the evaluation suite and the CLI all go through this class.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence, TextIO

from index import converted
from index.analysis import SentenceAnalysis
from index.build import BuildReport, EmbedMany, build_index, build_milvus, check_fresh, staleness
from index.documents import Corpus, Document, load_corpus
from index.embedding import Embedder, make_embedder
from index.errors import CorpusChanged, CorpusError, IndexCorrupt, IndexMissing, IndexStale, QuestionError, RagError
from index.milvus_store import parse_store
from index.store import IndexStore, current_dir
from index.terms import asked_kind, tokenize, unit_terms
from rag import agreement, recency, spans, verify
from rag.answerability import meeting_period, stating_kind, support_threshold, unknown_names
from rag.backends import backend_class
from rag.backends.base import Backend, BackendOptions, Deadline, Draft
from rag.backends.extractive import ExtractiveBackend
from rag.conversation import names_in, retrieval_query
from rag.errors import BackendTimeout
from rag.evidence import EvidenceScorer
from rag.forms import disabled_forms
from rag.markers import has_markers, renumber
from rag.question import Ask, split_asks
from rag.reader import FEATURES, Reader, Reading, Sources
from rag.retrieval import Retriever
from rag.selection import Selection, SentenceFacts
from rag.settings import Settings
from rag.tuning import DEFAULT, Tuning
from rag.types import Answer, Citation, Evidence, Passage

if TYPE_CHECKING:
    from index.milvus_store import MilvusStore

CLOSEST = 3  # passages shown with a refusal ("closest passages, not an answer")
MAX_BACKENDS = 16  # backends kept per engine, one per (name, options); the oldest is closed beyond this
# A reader whose files change under it (a rebuild is under way: an article it had not read yet
# changed, or the generation it read went away) re-opens the newest index and asks again, this
# many times at most, before the error reaches the user.
REOPEN_ATTEMPTS = 3
CHANGED_UNDER_US = (CorpusChanged, IndexCorrupt)
REOPENING = "rag: the corpus or the index changed while it was read; reading the newest index"
ABSTAIN_TEXT = "The corpus does not cover this: no article states an answer to that question."


def _about(evidence: list[Evidence], names: list[str]) -> list[Evidence]:
    """Keep the evidence that mentions one of `names` (a follow-up's new focus), renumbered."""
    focus = {t for name in names for t in tokenize(name)}
    if not focus:
        return evidence
    kept = [e for e in evidence if focus & set(tokenize(e.text))]
    return [replace(e, id=i + 1) for i, e in enumerate(kept)]


class Refusal(str, Enum):
    """Why a question was refused: one code per rule that may refuse."""

    UNKNOWN_NAME = "unknown_name"  # the question names something no article mentions
    STRUCTURE = "structure"  # the structural checks (`rag.selection`) left no sentence for the asked actor/measure
    LOW_SUPPORT = "low_support"  # the reader's choice does not clear the support threshold


@dataclass(frozen=True)
class Decision:
    """What may answer a question: the evidence in answering order, its best support, and the
    refusal text when nothing may (then `evidence` is what came closest)."""

    evidence: list[Evidence]
    support: float
    refusal: str | None = None
    reason: Refusal | None = None
    notice: str | None = None  # "The articles do not quote X on this; Y said: ..."
    readings: tuple[Reading, ...] = ()
    # Evidence no rule let through, with the rule: "structure (wrong_speaker)", "figure_kind", "period".
    dropped: tuple[tuple[Citation, str], ...] = ()

    def trace(self, ask: Ask, disabled: frozenset[str]) -> dict:
        """What `rag ask --json --debug` shows of the decision: the question as read, each candidate
        with its features and probability (most probable first), and what the rules dropped."""
        return {
            "ask": ask.to_dict(),
            "disabled_forms": sorted(disabled),
            "refusal_reason": self.reason.value if self.reason else None,
            "candidates": [
                {
                    "source": r.evidence.citation.source,
                    "start": r.evidence.citation.start,
                    "end": r.evidence.citation.end,
                    "probability": round(r.probability, 4),
                    "features": {name: round(x, 4) for name, x in zip(FEATURES, r.features)},
                }
                for r in self.readings
            ],
            "dropped": [{"source": c.source, "start": c.start, "end": c.end, "by": why} for c, why in self.dropped],
        }


def check_question(question: str, max_chars: int) -> str:
    """The question stripped of surrounding space; raises `QuestionError` if unusable."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError('the question is empty; ask something, e.g. rag ask "Who leads the US delegation?"')
    question = question.strip()
    if len(question) > max_chars:
        raise QuestionError(
            f"the question is {len(question)} characters, over the limit of {max_chars}; "
            "shorten it or raise RAG_MAX_QUESTION_CHARS"
        )
    return question


@dataclass
class Engine:
    settings: Settings
    corpus: Corpus
    store: IndexStore | MilvusStore
    embedder: Embedder
    build_report: BuildReport | None = None
    # What a failed draft is replaced by; the verification step gets it from here.
    fallback: Backend = field(default_factory=ExtractiveBackend, repr=False)
    # Ranking weights and cut-offs (`rag.tuning`); eval sweeps them by passing another.
    tuning: Tuning = field(default=DEFAULT, repr=False)
    _backends: dict[tuple, Backend] = field(default_factory=dict, init=False, repr=False, compare=False)
    _backends_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _follow_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    # A generation `follow` found not to match the corpus: not loaded again for every question.
    _declined: Path | None = field(default=None, init=False, repr=False, compare=False)
    _reopen_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.retriever = Retriever(self.store, self.embedder, self.tuning)
        self.scorer = EvidenceScorer(self.store, self.tuning)
        self.disabled = disabled_forms(self.settings.disabled_forms)
        self.facts = SentenceFacts.of_store(self.store, self.disabled)
        self.reader = Reader()
        if type(self.fallback) is ExtractiveBackend:  # the default: this engine's tuning and forms
            self.fallback = ExtractiveBackend(self.tuning, cut="clause_cut" not in self.disabled)
        self._docs = self.corpus.by_id

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
                loaded.append(embedder_for(settings))
            return loaded[0]

        corpus, store, report = _opened(settings, embedder_of, progress, log)
        return cls(settings, corpus, store, embedder_of(), report)

    def reopen(self, log: TextIO | None = sys.stderr) -> None:
        """Read the newest index and the corpus again (rebuilding if stale, as `open` does)."""
        store = self.store
        if log is not None:
            print(REOPENING, file=log)
        with self._reopen_lock:
            if self.store is not store:
                return  # another thread re-opened meanwhile
            corpus, store, report = _opened(self.settings, lambda: self.embedder, None, log)
            self.corpus, self.store, self.build_report = corpus, store, report or self.build_report
            self.__post_init__()

    def _retrying(self, answer: Callable[[], Iterator[str | Answer]]) -> Iterator[str | Answer]:
        """`answer()`'s pieces; if the files change under it before it yields, re-open and try again."""
        for attempt in range(REOPEN_ATTEMPTS + 1):
            started = False
            try:
                for piece in answer():
                    started = True
                    yield piece
                return
            except CHANGED_UNDER_US:
                if started or attempt == REOPEN_ATTEMPTS:
                    raise
            self.reopen()

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> BuildReport:
        """Re-read the corpus folder and bring the index up to date (incremental)."""
        corpus = load_corpus(
            self.settings.corpus_dir, self.settings.max_file_bytes, stored=converted_dir(self.settings)
        )
        store, report = build_store(self.settings, corpus, self.embedder, progress=progress)
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
        index_dir = self.settings.resolved_index_dir
        with self._follow_lock:
            if not self.behind():  # another question switched meanwhile
                return False
            try:
                fresh = IndexStore.load(index_dir)
                self._declined = fresh.folder
                corpus = load_corpus(
                    self.settings.corpus_dir,
                    self.settings.max_file_bytes,
                    fresh.known_documents(),
                    converted_dir(self.settings),
                )
            except RagError:
                return False
            if staleness(fresh.manifest, corpus, self.embedder.name, self.settings.chunking):
                return False
            self.corpus, self.store, self._declined = corpus, fresh, None
            self.__post_init__()
            return True

    def behind(self) -> bool:
        """Whether the index folder names another generation than the one this engine serves."""
        store = self.store
        if not isinstance(store, IndexStore) or store.folder is None:
            return False
        try:
            now = current_dir(self.settings.resolved_index_dir)
        except RagError:
            return False
        return now != store.folder and now != self._declined

    # -- reading -----------------------------------------------------------------------------

    @property
    def documents(self) -> tuple[Document, ...]:
        return self.corpus.documents

    def document(self, doc_id: str) -> Document:
        return self._docs[doc_id]

    def _citation(self, unit) -> Citation:
        return self.scorer.flagged(spans.cite(self._docs[unit.doc_id], unit.start, unit.end))

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> list[Passage]:
        """The top-`k` chunks for a question with their scores."""
        question = check_question(question, self.settings.max_question_chars)
        self.follow()
        hits = self.retriever.search(question, self._k(k), "chunks", mode or self.settings.retrieval)
        return [self._passage(h, i + 1) for i, h in enumerate(hits)]

    def _passage(self, hit, rank: int) -> Passage:
        """A retrieved chunk, with the same-story chunks folded into it listed as corroboration."""
        citation = replace(self._citation(hit.unit), corroborated_by=tuple(map(self._citation, hit.corroborated_by)))
        return Passage(citation, hit.score, hit.dense, hit.bm25, rank=rank)

    def _k(self, k: int | None) -> int:
        k = self.settings.top_k if k is None else k
        if k < 0:
            raise QuestionError(f"k must be 0 or more, got {k}")
        return k

    def evidence(
        self, question: str, k: int | None = None, mode: str | None = None, ask: Ask | None = None
    ) -> tuple[list[Passage], list[Evidence]]:
        """Retrieved passages, and the numbered, scored sentences inside them, best first. With the
        question's `ask`, a sentence its asked actor speaks meets the words naming that actor."""
        question = check_question(question, self.settings.max_question_chars)
        k, mode = self._k(k), mode or self.settings.retrieval
        qv = self.retriever.embed_question(question)
        chunk_hits = self.retriever.search(question, k, "chunks", mode, query_vector=qv)
        passages = [self._passage(h, i + 1) for i, h in enumerate(chunk_hits)]
        units = [s for h in chunk_hits for s in self.scorer.sentences_in(h.unit)]
        if k > 0:
            units += [
                h.unit
                for h in self.retriever.search(question, self.tuning.sentence_hits, "sentences", mode, query_vector=qv)
            ]
        # Best support first; a sentence restating a better one from a same-story article is folded in.
        kept = [
            s
            for s, _ in self.retriever.stories.collapse(
                self.scorer.score(question, qv, units, self.facts.speaker_terms(ask) if ask else None),
                unit_of=lambda s: s.unit,
            )
        ]
        evidence = [
            Evidence(
                i + 1,
                self.facts.with_speaker(self.retriever.stories.with_twins(self._citation(s.unit), self._docs)),
                s.score,
                s.dense,
                s.lexical,
            )
            for i, s in enumerate(kept[: self.tuning.max_evidence])
        ]
        return passages, evidence

    # -- backends ----------------------------------------------------------------------------

    @property
    def backend_options(self) -> BackendOptions:
        """The options a question gets when it passes none: from this engine's settings."""
        return BackendOptions.from_settings(self.settings)

    def backend(self, name: str | None = None, options: BackendOptions | None = None) -> Backend:
        """The backend `name` with `options`, created on first use and kept for this engine.

        One backend serves every question with the same name and options (what the backend
        depends on of them, `options_key`); a model switch is another backend, never another index.
        """
        name = name or self.settings.backend
        cls = backend_class(name)
        if cls is type(self.fallback):
            return self.fallback
        key = (name, cls, cls.options_key(options or self.backend_options))
        with self._backends_lock:
            chosen = self._backends.get(key)
            if chosen is None:
                chosen = self._backends[key] = cls.create(key[2])
                evicted = list(self._backends)[:-MAX_BACKENDS]
                for old in evicted:
                    self._backends.pop(old).close()
            return chosen

    def close(self) -> None:
        """Close every backend this engine opened (stops a local model server)."""
        with self._backends_lock:
            backends, self._backends = list(self._backends.values()), {}
        for chosen in (*backends, self.fallback):
            chosen.close()

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
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        question = check_question(question, self.settings.max_question_chars)
        parts = split_asks(question)
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
        query = retrieval_query(question, history)
        ask = self.facts.ask(question)
        passages, evidence = self.evidence(query, k, ask=ask)
        if query != question:
            evidence = _about(evidence, names_in(question))
        timings["retrieve_s"] = time.perf_counter() - t0
        decision = self.decide(question, ask, evidence)
        trace = decision.trace(ask, self.disabled)
        closest = tuple(e.citation for e in evidence[:CLOSEST])  # shown with a refusal
        evidence, support, notice = decision.evidence, decision.support, decision.notice
        if decision.refusal is not None:
            timings["total_s"] = time.perf_counter() - t0
            answer = Answer(question, decision.refusal, (), True, name, timings, tuple(passages), support)
            answer = replace(answer, closest=closest, refusal_reason=trace["refusal_reason"], trace=trace)
            if stream:
                yield answer.text
            yield answer
            return
        chosen.open()  # a local server starts here, before the question's clock
        deadline = Deadline(options.timeout)
        streaming = stream and chosen.can_stream
        t1 = time.perf_counter()
        draft: Draft | None = None
        late: BackendTimeout | None = None
        try:
            if streaming:
                for piece in chosen.draft_stream(query, evidence, deadline=deadline):
                    if isinstance(piece, Draft):
                        draft = piece
                    else:
                        timings.setdefault("first_token_s", time.perf_counter() - t1)
                        yield piece
            else:
                draft = chosen.draft(query, evidence, deadline=deadline)
        except BackendTimeout as exc:
            late = exc
        timings["generate_s"] = time.perf_counter() - t1
        if draft is None:
            reason = str(late) if late is not None else f"the {name} backend's stream ended without a draft"
            answer = self._checked_fallback(question, name, query, evidence, timings, reason)
        else:
            answer = self._checked(question, name, chosen, query, evidence, draft, timings, deadline)
        if notice and not answer.abstained:
            answer = replace(answer, text=f"{notice} {answer.text}")
        answer = recency.dated(question, answer)
        timings["total_s"] = time.perf_counter() - t0
        answer = replace(answer, timings=timings, passages=tuple(passages), support=support, trace=trace)
        if not answer.abstained:  # the answer card: other independent sources, and where they differ
            statements, conflicts = agreement.card(
                answer.citations, evidence, self.facts, self.retriever.stories, self._docs
            )
            answer = replace(answer, statements=statements, conflicts=conflicts)
        if stream and not streaming:
            yield answer.text
        yield answer

    def decide(self, question: str, ask: Ask, evidence: list[Evidence]) -> Decision:
        """Which evidence may answer, in the order to answer from, or why none may.

        The enabled question-form rules (`rag.forms`: the structural checks of `rag.selection`,
        the figure-kind filter, unknown names) keep the candidates; the reader (`rag.reader`)
        orders them by the fitted probability that they hold the answer; the chosen one answers
        when its support clears the threshold for the question (`support_threshold`)."""
        selection = self.facts.select(ask, evidence)
        kind = asked_kind(question) if "figure_kind" not in self.disabled else None
        relevant = stating_kind(evidence, kind)  # before the structural check, to tell why it refused
        of_kind = stating_kind(selection.evidence, kind)
        candidates = meeting_period(of_kind, question, self._before) if "period" not in self.disabled else of_kind
        dropped = _dropped(evidence, selection, of_kind, candidates)
        readings = self._read(question, candidates, kind, selection)
        ranked = [replace(r.evidence, id=i + 1) for i, r in enumerate(readings)]
        support = ranked[0].score if ranked else 0.0
        answers = self.reader.answers(readings)
        notice = None
        if not answers and selection.other:
            # The asked actor's own sentences do not answer; someone else's does: say whose it is.
            others = self._read(question, selection.other, kind, selection)
            if self.reader.answers(others):
                ranked, support, notice, answers = selection.other, selection.other[0].score, selection.notice, True
        if answers and notice is None:  # "latest ...": the newest dated candidate that answers leads
            ranked = recency.newest_first(question, ranked, support_threshold(self.settings, kind))
            ranked = recency.of_asked_day(question, ranked)  # "... on 3 December": that day's article
        missing = unknown_names(question, self.scorer.vocabulary) if "unknown_name" not in self.disabled else []
        refusal, reason = None, None
        if missing:
            refusal = f"The corpus does not cover this: no article mentions {', '.join(missing)}."
            reason = Refusal.UNKNOWN_NAME
        elif selection.refusal:
            threshold = support_threshold(self.settings, kind)
            refusal = selection.refusal if relevant and relevant[0].score >= threshold else ABSTAIN_TEXT
            reason = Refusal.STRUCTURE
        elif not answers:
            refusal, reason = ABSTAIN_TEXT, Refusal.LOW_SUPPORT
        return Decision(ranked, support, refusal, reason, notice, tuple(readings), dropped)

    def _read(self, question: str, candidates: list[Evidence], kind: str | None, selection: Selection) -> list[Reading]:
        def threshold_of(e: Evidence) -> float:
            return support_threshold(self.settings, kind, e.citation in selection.confirmed)

        return self.reader.read(
            question, candidates, Sources(self._analysis, self._before, threshold_of, self.scorer.idf)
        )

    def _analysis(self, e: Evidence) -> SentenceAnalysis:
        return self.facts.analysis(e.citation.doc_id, e.citation.start, e.citation.end)

    def _before(self, e: Evidence) -> str:
        """The sentence before an evidence sentence in its article, where news sets the scene."""
        return self.scorer.sentence_before(e.citation.doc_id, e.citation.start, e.citation.end)

    def _checked(
        self,
        question: str,
        name: str,
        chosen: Backend,
        query: str,
        evidence: list[Evidence],
        draft: Draft,
        timings: dict[str, float],
        deadline: Deadline,
    ) -> Answer:
        """Verify a draft; on failure one repair (if the backend offers it), then the fallback answer."""
        t = time.perf_counter()
        check = self._checker(query)
        asked: list[str] = []

        def attempt(d: Draft) -> verify.Attempt:
            return verify.Attempt(d.text, self._resolve(d, evidence))

        def repair(problems) -> verify.Attempt:
            asked.extend(problems)
            t_repair = time.perf_counter()
            try:
                return attempt(chosen.repair(query, evidence, draft, problems, deadline=deadline))
            finally:
                timings["repair_s"] = time.perf_counter() - t_repair

        try:
            outcome = verify.settle(
                attempt(draft),
                check,
                backend=name,
                repair=repair if chosen.can_repair else None,
                fallback=None if chosen is self.fallback else lambda: attempt(self.fallback.draft(query, evidence)),
            )
        except BackendTimeout as exc:  # the repair ran out of the question's time
            failed = verify.Verdict((), tuple(asked)).reason
            return self._checked_fallback(
                question,
                name,
                query,
                evidence,
                timings,
                f"the {name} answer failed verification ({failed}); its repair: {exc}",
            )
        return self._settled(question, name, query, outcome, timings, t)

    def _checker(self, query: str) -> Callable[[verify.Attempt], verify.Verdict]:
        speakers = self._speakers()
        return lambda a: verify.check(a.text, a.cited, self._docs, query, speakers)

    def _speakers(self) -> verify.Speakers:
        """Who speaks in each sentence and which people the corpus knows, for checking who said what."""
        return verify.Speakers(self.facts.actors, self.facts.analysis)

    def _checked_fallback(
        self, question: str, name: str, query: str, evidence: list[Evidence], timings: dict[str, float], reason: str
    ) -> Answer:
        """The fallback's answer, verified, in place of a backend that gave none in time."""
        t = time.perf_counter()
        d = self.fallback.draft(query, evidence)
        plain = verify.Attempt(d.text, self._resolve(d, evidence))
        verdict = self._checker(query)(plain)
        outcome = verify.Outcome(
            plain, verdict, verify.FALLBACK, f"{reason}; showing the {self.fallback.name} answer instead", (verdict,)
        )
        return self._settled(question, name, query, outcome, timings, t)

    def _settled(
        self, question: str, name: str, query: str, outcome: verify.Outcome, timings: dict[str, float], t: float
    ) -> Answer:
        """The answer users see for a settled outcome: renumbered, checked once more as published."""
        text, citations = self._publish(outcome.attempt)
        final = verify.check(text, dict(enumerate(citations, 1)), self._docs, query, self._speakers())
        timings["verify_s"] = time.perf_counter() - t - timings.get("repair_s", 0.0)
        if not citations or not text.strip():
            return Answer(question, ABSTAIN_TEXT, (), True, name, fallback_reason=outcome.reason)
        return Answer(
            question,
            text,
            citations,
            False,
            name,
            verified=outcome.status in (verify.VERIFIED, verify.REPAIRED),
            fallback_reason=outcome.reason,
            claims=tuple(c.to_dict() for c in final.claims),
            verification=outcome.status,
        )

    def _resolve(self, draft: Draft, evidence: list[Evidence]) -> dict[int, Citation]:
        """Map a draft's evidence ids (and sub-spans) to checked citations; unknown ids are dropped."""
        by_id = {e.id: e for e in evidence}
        narrowed = {i: (s, e) for i, s, e in draft.spans}
        out: dict[int, Citation] = {}
        for i in dict.fromkeys(draft.evidence_ids):
            ev = by_id.get(i)
            if ev is None:
                continue
            start, end = ev.citation.start, ev.citation.end
            if i in narrowed and start <= narrowed[i][0] < narrowed[i][1] <= end:
                start, end = narrowed[i]
            doc = self._docs[ev.citation.doc_id]
            out[i] = self.facts.with_speaker(self.scorer.flagged(spans.cite(doc, *spans.trim(doc, start, end))))
        return out

    def _publish(self, attempt: verify.Attempt) -> tuple[str, tuple[Citation, ...]]:
        """The answer as users see it: citations numbered 1.. in order of use, markers renumbered."""
        # Same-story twins become corroboration, never a second, "independent" citation.
        citations = self.retriever.stories.corroborate(list(attempt.cited.values()), self._docs)

        def number(c: Citation) -> int:
            return next(
                n
                for n, final in enumerate(citations, 1)
                if any(spans.overlaps(y, c) for y in (final, *final.corroborated_by))
            )

        mapping = {i: number(c) for i, c in attempt.cited.items()}
        return renumber(attempt.text, mapping, quoted=[c.text for c in attempt.cited.values()]), citations


def joined(question: str, parts: Sequence[str], answers: Sequence[Answer], seconds: float) -> Answer:
    """One answer for a question with several asks: each part's answer in turn, citations renumbered
    in one sequence, and a part the corpus does not cover named as such rather than dropped."""
    texts: list[str] = []
    citations: list[Citation] = []
    for part, answer in zip(parts, answers):
        if answer.abstained:
            texts.append(f"On “{part}”: {answer.text}")
            continue
        offset = len(citations)
        if has_markers(answer.text, quoted=[c.text for c in answer.citations]):
            text = renumber(
                answer.text,
                {n: n + offset for n in range(1, len(answer.citations) + 1)},
                quoted=[c.text for c in answer.citations],
            )
        else:  # an extractive answer cites all its citations at its end
            text = answer.text + " " + "".join(f"[{offset + n}]" for n in range(1, len(answer.citations) + 1))
        texts.append(text)
        citations.extend(answer.citations)
    answered = [a for a in answers if not a.abstained]
    verified = None if not answered else all(a.verified for a in answered)
    statuses = [a.verification for a in answered]
    return Answer(
        question,
        "\n".join(texts),
        tuple(citations),
        not answered,
        answers[0].backend,
        timings={"total_s": seconds},
        passages=tuple(p for a in answers for p in a.passages),
        support=min((a.support for a in answered), default=0.0),
        verified=verified,
        fallback_reason="; ".join(a.fallback_reason for a in answers if a.fallback_reason),
        claims=tuple(c for a in answers for c in a.claims),
        verification=next(
            (s for s in (verify.FAILED, verify.FALLBACK, verify.REPAIRED) if s in statuses),
            verify.VERIFIED if answered else "",
        ),
    )


def _opened(
    settings: Settings,
    embedder: Callable[[], Embedder],
    progress: Callable[[int, int], None] | None,
    log: TextIO | None,
) -> tuple[Corpus, IndexStore | MilvusStore, BuildReport | None]:
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
) -> tuple[Corpus, IndexStore | MilvusStore, BuildReport | None]:
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


def _dropped(
    evidence: list[Evidence], selection: Selection, of_kind: list[Evidence], candidates: list[Evidence]
) -> tuple[tuple[Citation, str], ...]:
    """Each evidence sentence a rule kept from the candidates, with the rule that did."""
    verdicts = dict(zip((e.citation for e in evidence), selection.verdicts))
    kept = {e.citation for e in selection.evidence}
    stating = {e.citation for e in of_kind}
    meeting = {e.citation for e in candidates}
    out = []
    for e in evidence:
        c = e.citation
        if c not in kept:
            out.append((c, f"structure ({verdicts[c].verdict})" if c in verdicts else "structure"))
        elif c not in stating:
            out.append((c, "figure_kind"))
        elif c not in meeting:
            out.append((c, "period"))
    return tuple(out)


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


def open_engine(corpus_dir: str | Path | None = None, index_dir: str | Path | None = None, **settings) -> Engine:
    """Shorthand for `Engine.open(Settings.from_env(corpus_dir=..., index_dir=..., ...))`."""
    return Engine.open(Settings.from_env(corpus_dir=corpus_dir, index_dir=index_dir, **settings))
