"""Stage 0, read: the question is read once, here, and every later stage receives what was read.

`check_question` refuses an unusable question before anything loads; `read` gives the `Question`:
its grammar (`rag.question.Ask`, whose `kind` is the figure kind it asks for), the
names it holds (`rag.conversation.names_in`), and the `Query` retrieval searches with, which for
a follow-up is the question joined to the previous one (`rag.conversation.retrieval_query`) and
is read the same way. No later stage reads the text again for these; a backend is handed the
query's text, as its contract says (a model needs the words), and the extractive one reads the
figure kind there itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from index.errors import QuestionError
from index.terms import asked_kind
from rag.conversation import names_in, retrieval_query
from rag.question import Ask, split_asks
from rag.recency import Day, asked_day, asks_latest
from rag.retrieval import search_terms

if TYPE_CHECKING:
    from rag.selection import SentenceFacts


@dataclass(frozen=True)
class Query:
    """What retrieval searches with, read once: the text, its BM25 terms, the figure kind it asks
    for, the names in it, and (when read) the question's grammar, whose asked actor's words a
    sentence that actor speaks meets (`SentenceFacts.speaker_terms`)."""

    text: str
    terms: tuple[str, ...]
    kind: str | None
    names: tuple[str, ...]
    ask: Ask | None = None


@dataclass(frozen=True)
class Question:
    """One ask as read: what every stage after `read` receives instead of the text."""

    text: str
    ask: Ask
    kind: str | None  # the figure kind asked for, before the figure_kind form is switched off or on
    names: tuple[str, ...]
    query: Query
    latest: bool = False  # asks for the latest state of things ("latest", "current", "now": `rag.recency`)
    day: Day | None = None  # the day it names ("as of 3 December"), its articles leading

    @property
    def follow_up(self) -> bool:
        """Whether retrieval searches with more than the question (a follow-up joined to the last)."""
        return self.query.text != self.text


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


def check_k(k: int) -> int:
    """How many passages to retrieve, refused when negative."""
    if k < 0:
        raise QuestionError(f"k must be 0 or more, got {k}")
    return k


def asks(question: str) -> list[str]:
    """The asks of a checked question: one, or each part of "How many ..., and what did X call ...?"."""
    return split_asks(question)


def query_of(text: str, ask: Ask | None = None) -> Query:
    """`text` read as a search: what `Retriever.search` and `EvidenceScorer.score` take. The figure
    kind is the ask's when `text` is the question it read, else the wording's cue (a follow-up
    joined to the question before it: "and France?" asks what that one asked)."""
    kind = ask.kind if ask is not None and ask.text == text else asked_kind(text)
    return Query(text, tuple(search_terms(text, kind)), kind, tuple(names_in(text)), ask)


def read(question: str, history: Sequence[str], facts: SentenceFacts) -> Question:
    """One checked ask read once, with the query it is searched by (`history`: earlier questions)."""
    ask = facts.ask(question)
    query = retrieval_query(question, history)
    searched = query_of(query, ask)
    names = searched.names if query == question else names_in(question)
    return Question(question, ask, ask.kind, tuple(names), searched, asks_latest(question), asked_day(question))
