"""The one place that turns offsets into citations, and checks them against the article.

Everything else receives `Citation`s from here, so an unverified span cannot reach a user.
Normalisation (quotes, dashes, spaces) is for *matching* only; cited text is always a slice.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from index.documents import Document
from rag.types import Citation


class Located(Protocol):
    """Anything naming a character range of one article: a `Citation`, an eval span."""

    @property
    def source(self) -> str: ...

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


class Range(NamedTuple):
    """A bare `(source, start, end)`, for spans read from data files (gold evidence)."""

    source: str
    start: int
    end: int


def overlaps(a: Located, b: Located) -> bool:
    """Whether two spans share at least one character of the same article."""
    return a.source == b.source and a.start < b.end and b.start < a.end


def cite(doc: Document, start: int, end: int) -> Citation:
    """A citation of `doc.text[start:end]`; raises if the span is out of range or empty."""
    if not (0 <= start < end <= len(doc.text)):
        raise ValueError(f"span {start}-{end} is outside {doc.source} (length {len(doc.text)})")
    return Citation(doc.doc_id, doc.source, start, end, doc.text[start:end], published=doc.published)


def verify(citation: Citation, doc: Document) -> bool:
    """True when the citation is still an exact slice of the article as it is now."""
    return (
        citation.doc_id == doc.doc_id
        and 0 <= citation.start < citation.end <= len(doc.text)
        and doc.text[citation.start : citation.end] == citation.text
    )


def trim(doc: Document, start: int, end: int) -> tuple[int, int]:
    """Shrink a span past white space and trailing commas/semicolons, keeping it a slice."""
    text = doc.text
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:"):
        end -= 1
    return start, end
