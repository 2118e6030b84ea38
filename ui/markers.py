"""Where each citation's `[n]` marker goes in an answer's text.

An extractive answer quotes its citations word for word, so each marker goes right after its
quote. An LLM answer carries its own markers, which the engine has renumbered so that `[n]`
names `answer.citations[n-1]`; those become the clickable markers, where the model put them.
A marker that names no citation is dropped (it could not be checked). A citation that no
marker names goes at the end of the sentence sharing the most words with the cited span.
A bracketed number inside a quoted citation ("... 45 million euros [2] ...", as an article may
write it) is the article's text, never a marker: it is neither parsed nor removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from rag import Citation
from rag.markers import PUBLISHED_MARKER

_SENTENCE_END = re.compile(r"(?<=[.!?\u201d\"])\s+")
_WORD = re.compile(r"\w{3,}")


@dataclass(frozen=True)
class Placed:
    """The display text and, for each insertion point, the 1-based citation numbers there."""

    text: str
    markers: tuple[tuple[int, tuple[int, ...]], ...]


__all__ = ["Placed", "place_markers"]


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, trailing space excluded."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text.rstrip())))
    return [(s, e) for s, e in spans if e > s]


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _best_sentence_end(text: str, cited: str) -> int:
    cited_words = _words(cited)
    best_end, best_overlap = len(text.rstrip()), 0
    for start, end in _sentences(text):
        overlap = len(cited_words & _words(text[start:end]))
        if overlap > best_overlap:
            best_end, best_overlap = end, overlap
    return best_end


def _quoted(text: str, quotes: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) of every occurrence of a quoted citation text in `text`."""
    out = []
    for q in {q for q in quotes if q}:
        at = text.find(q)
        while at >= 0:
            out.append((at, at + len(q)))
            at = text.find(q, at + 1)
    return out


def _take_markers(text: str, count: int, quotes: Sequence[str] = ()) -> tuple[str, list[tuple[int, int]]]:
    """The text without `[k]` markers, and (position, k) for each one naming a citation; brackets
    inside a quoted citation text stay where they are."""
    kept, found, cursor, removed = [], [], 0, False
    quoted = _quoted(text, quotes)
    for m in PUBLISHED_MARKER.finditer(text):
        if any(s <= m.start() and m.end() <= e for s, e in quoted):
            continue
        kept.append(text[cursor : m.start()])
        number = int(m.group(1))
        if 1 <= number <= count:
            found.append((sum(map(len, kept)), number))
        cursor = m.end()
        removed = True
    kept.append(text[cursor:])
    cleaned = "".join(kept)
    if removed and not found:  # only dropped markers: "systems [7]." reads "systems."
        cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    return cleaned, found


def place_markers(text: str, citations: Sequence[Citation]) -> Placed:
    """Decide where `[1]`, `[2]`, ... go; every citation gets at least one marker.

    A citation quoted in the text and named by no marker (the extractive answer) gets its marker
    right after the quote."""
    at: dict[int, list[int]] = {}
    text, found = _take_markers(text, len(citations), [c.text for c in citations])
    for point, number in found:
        if number not in at.get(point, []):
            at.setdefault(point, []).append(number)
    named = {number for _, number in found}
    for number, c in enumerate(citations, start=1):
        if number not in named:
            point = text.find(c.text) + len(c.text) if c.text in text else _best_sentence_end(text, c.text)
            at.setdefault(point, []).append(number)
    return Placed(text, tuple((point, tuple(numbers)) for point, numbers in sorted(at.items())))
