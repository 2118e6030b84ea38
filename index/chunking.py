"""Splitting documents into sentences and chunks that keep `(start, end)` into the text.

Sentence boundaries come from NLTK's trained English Punkt model, which llama-index-core ships
(so nothing is downloaded); its `span_tokenize` reports offsets rather than rewritten strings, so every unit is a slice of the original text:
`doc.text[unit.start:unit.end] == unit.text` holds by construction and is checked again here.
Line breaks always end a sentence (headlines, bullet lists and bylines have no full stop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from index.analysis import ANALYSIS_VERSION, SentenceAnalysis
from index.documents import Document
from index.injection import paragraph_flags

_LINE = re.compile(r"[^\n]+")
_BULLET = re.compile(r"^[\-\u2022*\s]+")


@dataclass(frozen=True)
class TextUnit:
    """A slice of one document: a sentence or a chunk."""

    doc_id: str
    start: int
    end: int
    text: str

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"bad span {self.start}:{self.end} in {self.doc_id}")
        if len(self.text) != self.end - self.start:
            raise ValueError(f"text length does not match span {self.start}:{self.end} in {self.doc_id}")


@dataclass(frozen=True)
class Sentence(TextUnit):
    # Who speaks, who acts, what each figure measures: filled in by index/sentence_analysis.py at build time.
    analysis: SentenceAnalysis | None = None
    # Why the sentence is suspect as evidence (`index.injection`: it addresses an AI, or carries
    # chat-template tokens); computed when the sentence is made, stored with it in the index.
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "flags", tuple(self.flags))  # a list when read back from JSON


class Chunk(TextUnit):
    pass


@dataclass(frozen=True)
class ChunkSettings:
    """What decides the chunk boundaries; part of the index key, so a change forces a rebuild."""

    max_chars: int = 700
    overlap_sentences: int = 1

    def to_dict(self) -> dict:
        # The analysis rules decide what a unit carries as much as the boundaries do.
        return {"max_chars": self.max_chars, "overlap_sentences": self.overlap_sentences, "analysis": ANALYSIS_VERSION}


# Where llama-index-core keeps NLTK's data (punkt_tab, stopwords), inside its package folder.
NLTK_DATA_FOLDER = ("_static", "nltk_cache")


@lru_cache(maxsize=1)
def _punkt():
    """NLTK's trained English Punkt model, from the data folder llama-index-core ships.

    The folder is found without importing `llama_index.core` (1.7 s idle, once per `rag index`
    process; index/terms.py reads the stopwords the same way). The trained English model knows
    abbreviations such as "U.S." that the untrained one splits.
    """
    import importlib.util

    import nltk.data
    from nltk.tokenize import PunktTokenizer

    spec = importlib.util.find_spec("llama_index.core")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        data = Path(folder).joinpath(*NLTK_DATA_FOLDER)
        if (data / "tokenizers" / "punkt_tab").is_dir():
            if str(data) not in nltk.data.path:
                nltk.data.path.append(str(data))
            return PunktTokenizer("english")
    # Another layout: let the package find (or fetch) its data.
    from llama_index.core.utils import globals_helper

    globals_helper.wait_for_nltk_check()
    return PunktTokenizer("english")


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink `[start, end)` past surrounding white space and list bullets."""
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    bullet = _BULLET.match(piece[lead:])
    if bullet and piece[lead:].startswith(("- ", "\u2022 ", "* ")):
        lead += bullet.end()
    trail = len(piece) - len(piece.rstrip())
    return start + lead, end - trail


def split_sentences(doc: Document) -> list[Sentence]:
    """Every sentence of `doc`, in order, as exact slices, flagged where they read as
    instructions to an AI (`index.injection`; each line is a paragraph)."""
    tokenizer = _punkt()
    paragraphs: list[list[tuple[int, int]]] = []
    for line in _LINE.finditer(doc.text):
        spans = []
        for rel_start, rel_end in tokenizer.span_tokenize(line.group()):
            start, end = _trimmed(doc.text, line.start() + rel_start, line.start() + rel_end)
            if end > start:
                spans.append((start, end))
        if spans:
            paragraphs.append(spans)
    flags = paragraph_flags([[doc.text[s:e] for s, e in para] for para in paragraphs])
    return [
        Sentence(doc.doc_id, s, e, doc.text[s:e], flags=f)
        for para, para_flags in zip(paragraphs, flags)
        for (s, e), f in zip(para, para_flags)
    ]


def _windows(sentences: list[Sentence], settings: ChunkSettings) -> Iterator[tuple[int, int]]:
    """Index ranges `[i, j)` of consecutive sentences that fit in `max_chars`."""
    i = 0
    n = len(sentences)
    while i < n:
        j = i + 1
        while j < n and sentences[j].end - sentences[i].start <= settings.max_chars:
            j += 1
        yield i, j
        if j >= n:
            return
        i = max(i + 1, j - settings.overlap_sentences)


def make_chunks(doc: Document, sentences: Iterable[Sentence], settings: ChunkSettings) -> list[Chunk]:
    """Group sentences into overlapping chunks; a chunk spans from its first to last sentence."""
    sentences = list(sentences)
    return [
        Chunk(doc.doc_id, sentences[i].start, sentences[j - 1].end, doc.text[sentences[i].start : sentences[j - 1].end])
        for i, j in _windows(sentences, settings)
    ]
