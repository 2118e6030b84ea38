"""Follow-up questions: "and what about Germany?" only makes sense with the previous turn.

The retrieval query for a follow-up is the previous question with the follow-up appended, so
both the earlier topic and the new focus take part in search. The answer still has to be
supported by what is retrieved; nothing from the earlier answer is taken on trust.
"""

from __future__ import annotations

import re
from typing import Sequence

_FOLLOW_UP = re.compile(
    r"^(?:and|but|also|what about|how about|and what about|what of|same for|then)\b"
    r"|\b(?:they|them|their|he|she|his|her|it|its|that|those|these|this one)\b",
    re.IGNORECASE,
)
MAX_FOLLOW_UP_WORDS = 8


def is_follow_up(question: str) -> bool:
    words = question.split()
    return len(words) <= MAX_FOLLOW_UP_WORDS and bool(_FOLLOW_UP.search(question.strip()))


def retrieval_query(question: str, history: Sequence[str] = ()) -> str:
    """The text to search with: the question itself, or previous question + follow-up."""
    previous = [h for h in history if h and h.strip()]
    if not previous or not is_follow_up(question):
        return question
    return f"{previous[-1].strip()} {question.strip()}"
