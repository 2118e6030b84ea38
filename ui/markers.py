"""Where each citation's `[n]` marker goes in an answer's text.

An extractive answer quotes its citation word for word, so the marker goes right after the
quote. A model's answer paraphrases, so the marker goes at the end of the sentence that shares
the most words with the cited span. Bracketed numbers a model wrote itself (`[3]`) refer to its
prompt's evidence ids, which mean nothing to a reader; they are removed and replaced by ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from rag import Citation

_MODEL_REFS = re.compile(r"\s?\[\d+(?:\s*[,;]\s*\d+)*\]")
_SENTENCE_END = re.compile(r"(?<=[.!?\u201d\"])\s+")
_WORD = re.compile(r"\w{3,}")


@dataclass(frozen=True)
class Placed:
    """The display text and, for each insertion point, the 1-based citation numbers there."""

    text: str
    markers: tuple[tuple[int, tuple[int, ...]], ...]


def strip_model_refs(text: str) -> str:
    return _MODEL_REFS.sub("", text)


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


def place_markers(text: str, citations: Sequence[Citation]) -> Placed:
    """Decide where `[1]`, `[2]`, ... go; every citation gets exactly one marker."""
    verbatim = [text.find(c.text) for c in citations]
    if citations and not all(pos >= 0 for pos in verbatim):
        text = strip_model_refs(text)
        verbatim = [text.find(c.text) for c in citations]
    at: dict[int, list[int]] = {}
    for number, (citation, pos) in enumerate(zip(citations, verbatim), start=1):
        point = pos + len(citation.text) if pos >= 0 else _best_sentence_end(text, citation.text)
        at.setdefault(point, []).append(number)
    return Placed(text, tuple((point, tuple(nums)) for point, nums in sorted(at.items())))
