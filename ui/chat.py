"""What happens when someone asks, follows up, or selects a citation; no Gradio in here.

Every failure becomes a message in the chat (never a traceback) and the app keeps serving.
Answers are produced on a worker thread that holds the engine's read lock, so a browser that
goes away mid-answer cannot leave the lock held and block a rebuild.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from dataclasses import dataclass, field
from typing import Iterator

from rag import Answer, BackendError, CorpusError, IndexCorrupt, IndexMissing, IndexStale, QuestionError, RagError
from rag.conversation import retrieval_query
from ui import render
from ui.markers import without_draft_markers
from ui.shared_engine import SharedEngine

log = logging.getLogger("rag.ui")

MAX_K = 20
MAX_TURNS = 50  # turns whose citations stay clickable; older markers say so
EXAMPLE_QUESTION = "How much must partners pay for Ukraine's defence in 2026?"
_REF = re.compile(r"^(?P<kind>[cp])(?P<turn>\d+)-(?P<num>\d+)(?:-(?P<also>\d+))?$")


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


def friendly_error(exc: BaseException, backend: str = "") -> str:
    """A message a person can act on, for any failure while answering."""
    if isinstance(exc, QuestionError):
        return f"That question can't be used: {exc}."
    if isinstance(exc, BackendError):
        return (f"The {backend or 'answer'} backend failed: {exc}. Try again, or pick the extractive backend "
                "(no model needed) under Settings.")
    if isinstance(exc, (IndexMissing, IndexStale, IndexCorrupt, CorpusError)):
        return f"The article index is not available: {exc}. Open the Corpus tab and press 'Rebuild index'."
    if isinstance(exc, RagError):
        return f"Could not answer: {exc}"
    return (f"Something went wrong while answering ({type(exc).__name__}). The app is still running; "
            "the details are in the server log.")


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


def _answer_in_background(shared: SharedEngine, question: str, k: int, backend: str | None,
                          history: list[str], model: str | None, api_base: str | None) -> Iterator[object]:
    """`ask_stream`'s items, produced on a thread that owns the read lock; errors are re-raised here."""
    items: queue.Queue = queue.Queue()
    done = object()

    def work() -> None:
        try:
            with shared.use() as engine:
                titles = {d.doc_id: d.title for d in engine.documents}
                options = shared.options(model, api_base)
                for item in engine.ask_stream(question, k=k, backend=backend, history=history, options=options):
                    items.put(item)
                items.put(titles)
        except BaseException as exc:  # handed to the request thread, which reports it
            items.put(exc)
        finally:
            items.put(done)

    threading.Thread(target=work, name="rag-answer", daemon=True).start()
    while (item := items.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def respond(shared: SharedEngine, question: str, messages: list[dict] | None, state: ChatState | None,
            backend: str = "extractive", model: str = "", api_base: str = "", k=5) -> Iterator[ChatUpdate]:
    """Answer one chat message, streaming text as it comes, then the checked answer with markers."""
    messages = list(messages or [])
    state = state if state is not None else ChatState()
    question = (question or "").strip()
    if not question:
        messages.append(_assistant(render.notice_html(f"Type a question first, for example: {EXAMPLE_QUESTION}", "hint")))
        yield ChatUpdate(list(messages), state)
        return
    messages.append({"role": "user", "content": render.user_html(question)})
    messages.append(_assistant(render.notice_html("Searching the articles…", "pending")))
    yield ChatUpdate(list(messages), state)
    history = state.questions()
    answer, titles, text = None, {}, ""
    try:
        k = _check_k(k)
        for item in _answer_in_background(shared, question, k, backend or None, history, model or None, api_base or None):
            if isinstance(item, str):
                text += item
                messages[-1] = _assistant(render.notice_html(without_draft_markers(text) + " …", "streaming"))
                yield ChatUpdate(list(messages), state)
            elif isinstance(item, Answer):
                answer = item
            else:
                titles = item
    except Exception as exc:  # every failure becomes a chat message; the app keeps serving
        if not isinstance(exc, RagError):
            log.exception("answering %r failed", question)
        messages[-1] = _assistant(render.notice_html(friendly_error(exc, backend)))
        yield ChatUpdate(list(messages), state)
        return
    turn = state.add(Turn(question, retrieval_query(question, history), answer))
    messages[-1] = _assistant(render.answer_html(answer, turn, titles))
    yield ChatUpdate(list(messages), state, render.passages_html(answer, turn, titles, state.turns[turn].query))


def show_reference(shared: SharedEngine, ref: str, state: ChatState | None) -> str:
    """The article behind a clicked `[n]` marker or passage, its span highlighted."""
    m = _REF.match(ref or "")
    turn = state.turns.get(int(m["turn"])) if (m and state is not None) else None
    if turn is None:
        return render.placeholder_html("That reference belongs to an earlier conversation; ask the question again.")
    kind, num = m["kind"], int(m["num"])
    answer = turn.answer
    if kind == "c" and 1 <= num <= len(answer.citations):
        citation = answer.citations[num - 1]
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
    if doc is None or doc.text[citation.start:citation.end] != citation.text:
        return render.notice_html("This article changed after the answer was given (the index was rebuilt); "
                                  "ask the question again to get current citations.", "hint")
    detail = " · ".join(x for x in (doc.publisher, doc.source, f"characters {citation.start}–{citation.end}", what) if x)
    return render.source_html(doc.text, citation.start, citation.end,
                              heading=f"{label} {doc.title or doc.source}", detail=detail, ref=ref)
