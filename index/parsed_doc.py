"""Views of a parsed spaCy `Doc` that the sentence analysis asks for per token, each built once.

`doc.ents`, `doc.text` and a token's entity are rebuilt by spaCy on every access; the analysis asks
for them per token, so each is computed once and kept in `doc.user_data`.
"""

from __future__ import annotations

import bisect
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token


def clean_entity_text(text: str) -> str:
    """An entity's text without a leading article or a trailing possessive."""
    text = re.sub(r"(?:['\u2019]s?)$", "", text.strip())
    return re.sub(r"^(?:the|The)\s+", "", text).strip()


def name_words(name: str) -> list[str]:
    return name.lower().split()


def doc_entities(doc: Doc) -> tuple[Span, ...]:
    """The document's entities, made once: `doc.ents` builds new Span objects on every access,
    and the analysis asks for them per token."""
    cached = doc.user_data.get("rag_ents")
    if cached is None:
        cached = doc.user_data["rag_ents"] = tuple(doc.ents)
    return cached


def doc_text(doc: Doc) -> str:
    """The parsed text, kept once: `doc.text` joins every token again on each access."""
    cached = doc.user_data.get("rag_text")
    if cached is None:
        cached = doc.user_data["rag_text"] = doc.text
    return cached


def entity_of(token: Token) -> Span | None:
    if not token.ent_type_:
        return None
    doc = token.doc
    by_token = doc.user_data.get("rag_ent_of")
    if by_token is None:
        by_token = doc.user_data["rag_ent_of"] = {i: e for e in doc_entities(doc) for i in range(e.start, e.end)}
    return by_token.get(token.i)


def entity_label(token: Token) -> str:
    return token.ent_type_


def tokens_in(doc: Doc, start: int, end: int) -> list[Token]:
    offsets = doc.user_data.get("rag_offsets")
    if offsets is None:
        offsets = doc.user_data["rag_offsets"] = [t.idx for t in doc]
    lo, hi = bisect.bisect_left(offsets, start), bisect.bisect_left(offsets, end)
    return [t for t in doc[lo:hi] if not t.is_space]
