"""Follow-up questions: "and what about Germany?" only makes sense with the previous turn.

A follow-up is searched together with the previous question, or, when it points at a person by
pronoun, with that question's subject: "and what did he say about Estrava?" after a question about
Tomas Brell becomes "Tomas Brell and what did he say about Estrava?". The answer still has to be supported by what is retrieved; nothing from
the earlier answer is taken on trust.
"""

from __future__ import annotations

import re
from typing import Sequence

from index.language.words import WH_WORDS, YES_NO_STARTS

_FOLLOW_UP = re.compile(
    r"^(?:and|but|also|what about|how about|and what about|what of|same for|then)\b"
    r"|\b(?:they|them|their|he|she|his|her|it|its|that|those|these|this one)\b",
    re.IGNORECASE,
)
MAX_FOLLOW_UP_WORDS = 8
_NAME_RUN = re.compile(r"(?<![\w’'])(?:[A-Z][\w’'\-.]*)(?:\s+[A-Z][\w’'\-.]*)*")
_PERSON_PRONOUN = re.compile(r"\b(?:he|she|his|her|him)\b", re.IGNORECASE)
# Capitalised words that start a question, not a name: the question words, yes/no openers, "And".
_NOT_NAMES = {w.title() for w in (WH_WORDS - {"whose"}) | YES_NO_STARTS} | {"And", "But", "The"}


def is_follow_up(question: str) -> bool:
    words = question.split()
    return len(words) <= MAX_FOLLOW_UP_WORDS and bool(_FOLLOW_UP.search(question.strip()))


def names_in(text: str) -> list[str]:
    """Runs of capitalised words, minus question words: "Tomas Brell", "UK", "France"."""
    names = []
    for m in _NAME_RUN.finditer(text):
        words = [w for w in m.group().split() if w.strip(".") not in _NOT_NAMES]
        if words:
            names.append(" ".join(words).rstrip("?.!,").removesuffix("’s").removesuffix("'s"))
    return names


def retrieval_query(question: str, history: Sequence[str] = ()) -> str:
    """The text to search with: the question itself, or the follow-up joined to the last question.

    "and what about Germany?" keeps the whole earlier question (its topic is what is being asked
    about again); a follow-up that points at a person by pronoun ("what did he say about Estrava?")
    keeps only the earlier question's first name, its likely subject, so the old topic does not
    drown the new one.
    """
    previous = [h.strip() for h in history if h and h.strip()]
    if not previous or not is_follow_up(question):
        return question
    names = names_in(previous[-1])
    if _PERSON_PRONOUN.search(question) and names:
        return f"{names[0]} {question.strip()}"
    return f"{previous[-1]} {question.strip()}"
