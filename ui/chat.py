"""What happens when someone asks, follows up, or selects a citation; no Gradio in here.

Every failure becomes a message in the chat (never a traceback) and the app keeps serving.
A model server's own error text never reaches the user: it is summarised ("answered HTTP 401",
"could not connect") and the details go to the server log. Answers are produced on a worker
thread that holds the engine's read lock and an answer slot (`ui.slots`), so a browser that
goes away mid-answer cannot leave either held; the request itself only awaits, holding no thread.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from rag import Answer, BackendError, CorpusError, IndexCorrupt, IndexMissing, IndexStale, QuestionError, RagError
from rag.conversation import retrieval_query
from rag.markers import without_draft_markers
from ui import render
from ui.endpoints import Endpoint, EndpointError, EndpointPolicy
from ui.shared_engine import SharedEngine
from ui.slots import AnswerSlots

log = logging.getLogger("rag.ui")

MAX_K = 20
MAX_TURNS = 50  # turns whose citations stay clickable; older markers say so
EXAMPLE_QUESTION = "How much must partners pay for Ukraine's defence in 2026?"
_REF = re.compile(r"^(?P<kind>[cp])(?P<turn>\d+)-(?P<num>\d+)(?:-(?P<also>\d+))?$")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# Exception class names (anywhere in the chain of causes, and in each one's bases) that say how a
# call to a model server failed. litellm reports a refused connection as HTTP 500, so these win.
_TIMEOUTS = {"Timeout", "TimeoutError", "APITimeoutError", "TimeoutException"}
_CLOSED = {"RemoteProtocolError", "ReadError", "ConnectionResetError", "BrokenPipeError"}
_CONNECTION = {
    "ConnectError",
    "ConnectionRefusedError",
    "gaierror",
    "APIConnectionError",
    "NetworkError",
    "ConnectionError",
}
_HTTP_HINTS = {
    401: "it refused the API key",
    403: "it refused the API key",
    404: "it does not know that model",
    429: "too many requests",
    413: "the question was too long for it",
}


@dataclass(frozen=True)
class Turn:
    question: str
    query: str  # what was searched: the question, or the previous one plus this follow-up
    answer: Answer


@dataclass
class ChatState:
    """One browser session's answered turns, numbered so markers in old messages still work."""

    turns: dict[int, Turn] = field(default_factory=dict)
    next_turn: int = 1

    def add(self, turn: Turn) -> int:
        number, self.next_turn = self.next_turn, self.next_turn + 1
        self.turns[number] = turn
        while len(self.turns) > MAX_TURNS:
            self.turns.pop(min(self.turns))
        return number

    def questions(self) -> list[str]:
        return [t.question for _, t in sorted(self.turns.items())]


@dataclass(frozen=True)
class ChatUpdate:
    messages: list[dict]
    state: ChatState
    passages: str | None = None  # None: leave the passages panel as it is


def _remote_summary(exc: BaseException) -> str | None:
    """What the model server did, from the exceptions behind `exc`; None when no call failed."""
    chain: list[BaseException] = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None and cause not in chain:
        if not isinstance(cause, RagError):
            chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if not chain:
        return None
    names = {c.__name__ for e in chain for c in type(e).__mro__}
    if names & _TIMEOUTS:
        return "the model server sent no reply in time"
    if names & _CLOSED:
        return "the model server closed the connection without an answer"
    if names & _CONNECTION:
        return "could not connect to the model server"
    status = exc.status if isinstance(exc, BackendError) else None  # set by the backend that called
    if status is not None and 400 <= status < 600:
        hint = _HTTP_HINTS.get(status, "a server error" if status >= 500 else "")
        return f"the model server answered HTTP {status}" + (f" ({hint})" if hint else "")
    return f"the model call failed ({type(chain[0]).__name__})"


def friendly_error(exc: BaseException, backend: str = "") -> str:
    """A message a person can act on, for any failure while answering.

    Text that came from a model server is never shown (it could be anything that server chose
    to send), nor the addresses of the operator's model servers.
    """
    if isinstance(exc, QuestionError):
        return f"That question can't be used: {exc}."
    if isinstance(exc, EndpointError):
        return f"That model can't be used: {exc}."
    if isinstance(exc, BackendError):
        what = _remote_summary(exc) or _URL.sub("the model server", str(exc))
        return (
            f"The {backend or 'answer'} backend failed: {what}. Try again, or pick the extractive backend "
            "(no model needed) under Settings."
        )
    if isinstance(exc, (IndexMissing, IndexStale, IndexCorrupt, CorpusError)):
        return f"The article index is not available: {exc}. Open the Corpus tab and press 'Rebuild index'."
    if isinstance(exc, RagError):
        return f"Could not answer: {exc}"
    return (
        f"Something went wrong while answering ({type(exc).__name__}). The app is still running; "
        "the details are in the server log."
    )


def _assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


def _check_k(k) -> int:
    try:
        value = int(k)
    except (TypeError, ValueError):
        raise QuestionError(f"the number of passages must be a whole number, got {k!r}") from None
    if not 1 <= value <= MAX_K:
        raise QuestionError(f"the number of passages must be between 1 and {MAX_K}, got {value}")
    return value


def backend_of(shared: SharedEngine, backend: str | None) -> str:
    return backend or shared.settings.backend


async def in_background(
    shared: SharedEngine, slots: AnswerSlots | None, backend: str, endpoint: Endpoint | None, work: Callable[..., None]
) -> AsyncIterator[object]:
    """Run `work(engine, options, put)` on a worker thread holding the read lock and a slot; yield what it puts.

    The slot is awaited (no thread waits), then given back by the worker thread when it ends,
    so an abandoned request still frees it only once the model call is really over.
    """
    pool = slots.for_backend(backend) if slots is not None else None
    if pool is not None:
        await pool.acquire()
    loop = asyncio.get_running_loop()
    items: asyncio.Queue = asyncio.Queue()
    done = object()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(items.put_nowait, item)
        except RuntimeError:  # the request's event loop is gone (app stopped); nobody is reading
            pass

    def run() -> None:
        try:
            model, api_base = (endpoint.model, endpoint.api_base) if endpoint else (None, None)
            with shared.use() as engine:
                work(engine, shared.options(model, api_base), put)
        except BaseException as exc:  # handed to the request, which reports it
            put(exc)
        finally:
            if pool is not None:
                pool.release()
            put(done)

    try:
        threading.Thread(target=run, name="rag-answer", daemon=True).start()
    except BaseException:
        if pool is not None:
            pool.release()
        raise
    while (item := await items.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def _stream_answer(question: str, k: int, backend: str, history: list[str]) -> Callable[..., None]:
    def work(engine, options, put) -> None:
        titles = {d.doc_id: d.title for d in engine.documents}
        for item in engine.ask_stream(question, k=k, backend=backend, history=history, options=options):
            put(item)
        put(titles)

    return work


async def respond(
    shared: SharedEngine,
    question: str,
    messages: list[dict] | None,
    state: ChatState | None,
    backend: str = "extractive",
    model: str = "",
    api_base: str = "",
    k=5,
    *,
    endpoints: EndpointPolicy | None = None,
    slots: AnswerSlots | None = None,
) -> AsyncIterator[ChatUpdate]:
    """Answer one chat message, streaming text as it comes, then the checked answer with markers.

    `model` / `api_base` are checked against `endpoints` (by default: only the server's own
    settings); `slots` keeps extractive answers apart from model calls.
    """
    messages = list(messages or [])
    state = state if state is not None else ChatState()
    question = (question or "").strip()
    if not question:
        messages.append(
            _assistant(render.notice_html(f"Type a question first, for example: {EXAMPLE_QUESTION}", "hint"))
        )
        yield ChatUpdate(list(messages), state)
        return
    messages.append({"role": "user", "content": render.user_html(question)})
    messages.append(_assistant(render.notice_html("Searching the articles…", "pending")))
    yield ChatUpdate(list(messages), state)
    history = state.questions()
    answer: Answer | None = None
    titles: dict[str, str] = {}
    text = ""
    name = backend_of(shared, backend)
    try:
        k = _check_k(k)
        endpoint = (endpoints or EndpointPolicy()).resolve(model, api_base)
        async for item in in_background(shared, slots, name, endpoint, _stream_answer(question, k, name, history)):
            if isinstance(item, str):
                text += item
                messages[-1] = _assistant(render.notice_html(without_draft_markers(text) + " …", "streaming"))
                yield ChatUpdate(list(messages), state)
            elif isinstance(item, Answer):
                answer = item
            elif isinstance(item, dict):
                titles = item
        if answer is None:
            raise RuntimeError("the answer stream ended without an answer")
    except Exception as exc:  # every failure becomes a chat message; the app keeps serving
        if isinstance(exc, BackendError):
            log.warning("answering %r with %s failed: %s", question, name, exc)
        elif not isinstance(exc, RagError):
            log.exception("answering %r failed", question)
        messages[-1] = _assistant(render.notice_html(friendly_error(exc, name)))
        yield ChatUpdate(list(messages), state)
        return
    turn = state.add(Turn(question, retrieval_query(question, history), answer))
    messages[-1] = _assistant(render.answer_html(answer, turn, titles))
    yield ChatUpdate(list(messages), state, render.passages_html(answer, turn, titles, state.turns[turn].query))


def show_reference(shared: SharedEngine, ref: str, state: ChatState | None) -> str:
    """The article behind a clicked `[n]` marker or passage, its span highlighted."""
    m = _REF.match(ref or "")
    turn = state.turns.get(int(m["turn"])) if (m and state is not None) else None
    if m is None or turn is None:
        return render.placeholder_html("That reference belongs to an earlier conversation; ask the question again.")
    kind, num = m["kind"], int(m["num"])
    answer = turn.answer
    if kind == "c" and 1 <= num <= len(answer.references):  # the citations, then the other sources' statements
        citation = answer.references[num - 1]
        also = int(m["also"] or 0)
        if 1 <= also <= len(citation.corroborated_by):
            citation, label = citation.corroborated_by[also - 1], f"[{num}] also reported in"
        else:
            label = f"[{num}]"
        what = "cited span"
    elif kind == "p" and (passage := next((p for p in answer.passages if p.rank == num), None)):
        citation, label, what = passage.citation, f"Passage #{passage.rank}", f"passage, score {passage.score:.3f}"
    else:
        return render.placeholder_html("That reference does not exist in this answer.")
    try:
        with shared.use() as engine:
            doc = engine.document(citation.doc_id)
    except KeyError:
        doc = None
    except RagError as exc:
        return render.notice_html(friendly_error(exc))
    if doc is None or doc.text[citation.start : citation.end] != citation.text:
        return render.notice_html(
            "This article changed after the answer was given (the index was rebuilt); "
            "ask the question again to get current citations.",
            "hint",
        )
    detail = " · ".join(
        x for x in (doc.publisher, doc.source, f"characters {citation.start}–{citation.end}", what) if x
    )
    return render.source_html(
        doc.text, citation.start, citation.end, heading=f"{label} {doc.title or doc.source}", detail=detail, ref=ref
    )
