"""What the evaluation knows about each answer beyond a Ragas sample, and the plain rules it scores
with: the cited spans with their offsets, the gold item's, figure keys, the wrong-speaker rule.

Apart from `eval.metrics` because none of it needs Ragas: the runner, the LlamaIndex comparison and
their tests use these without paying for the Ragas import (about 3 CPU seconds) until they score.
"""

from __future__ import annotations

import math
import re
import typing as t
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from eval.gold import ABSTAIN, ANSWERABLE_ALL
from index.language.words import ATTRIBUTING_FORMS
from index.terms import fold
from rag.spans import overlaps

# -- what the span metrics know about each answer --------------------------------------------


@dataclass(frozen=True)
class Span:
    source: str
    start: int
    end: int
    text: str

    def overlaps(self, other: "Span") -> bool:
        return overlaps(self, other)


@dataclass(frozen=True)
class AnswerFacts:
    """What a sample cannot hold: the answer's citations with offsets, and the gold item's."""

    category: str
    abstained: bool
    citations: tuple[Span, ...]
    evidence: tuple[Span, ...]
    keys: tuple[str, ...]
    asked_speaker: str | None = None  # misattribution: the speaker the question names
    true_speaker: str | None = None  # misattribution: who did say it (None: nobody)
    speakers: tuple[str, ...] = ()  # structured speakers the answer names, if its JSON has any

    @property
    def answerable(self) -> bool:
        """The right behaviour is to answer (figure, position, multi_source, attribution)."""
        return self.category in ANSWERABLE_ALL

    @property
    def should_abstain(self) -> bool:
        return self.category in ABSTAIN


class CorpusFiles:
    """The article files read straight from disk: an oracle independent of the engine's index."""

    def __init__(self, corpus_dir: str | Path):
        self.root = Path(corpus_dir)
        self._texts: dict[str, str | None] = {}

    def text(self, source: str) -> str | None:
        if source not in self._texts:
            path = self.root / source
            self._texts[source] = path.read_bytes().decode("utf-8") if path.is_file() else None
        return self._texts[source]

    def slices_exactly(self, span: Span) -> bool:
        text = self.text(span.source)
        return text is not None and 0 <= span.start < span.end <= len(text) and text[span.start : span.end] == span.text


# -- normalising strings for figure matching ----------------------------------------------------

_NON_TOKEN = re.compile(r"[^\w$€£%]+")


def key_form(text: str) -> str:
    """Quotes, dashes and punctuation folded to single spaces, padded so a key must match whole
    tokens: key "26" is found in "26 countries" but not in "2026", "ten" not in "often"."""
    return " " + _NON_TOKEN.sub(" ", fold(text).lower()).strip() + " "


_FIGURE = re.compile(r"(?<![\w.])[$€£]?\d[\d,]*(?:\.\d+)?(?:\s?%|\s(?:billion|million|trillion|thousand)\b)?", re.I)


def figures_in(text: str) -> set[str]:
    """Numbers with their unit ("$120 billion" -> "120 billion", "0.25%" -> "0.25%")."""
    out = set()
    for m in _FIGURE.finditer(fold(text)):
        value = m.group().lower().lstrip("$€£").replace(",", "").replace(" %", "%")
        out.add(value.rstrip("."))
    return out


# -- wrong_speaker: presenting the asked speaker as the source on a misattribution item --------

# A sentence that says the asked speaker did NOT say it ("the articles do not quote Merz",
# "Merz did not say this", "no statement by Merz", "attributed to Sánchez rather than Merz").
_DENIAL = re.compile(
    r"\b(?:do|does|did)\s+not\s+(?:quote|say|state|attribute|mention|report|contain)"
    r"|n't\s+(?:quote|say|state|attribute|mention|report|contain)"
    r"|\bnot\s+(?:quoted|said|stated|attributed|mentioned|reported)\b"
    r"|\bnever\s+(?:quoted|said|says|stated)\b"
    r"|\bno\s+(?:quotes?|quotations?|statements?|record|remarks?)\b"
    r"|\brather\s+than\b|\bmisattribut|\bnot\s+(?:by|from)\b",
    re.IGNORECASE,
)
# A sentence that presents someone as the source: a reporting verb or "according to".
_ATTRIBUTES = re.compile(
    r"\b(?:" + "|".join(ATTRIBUTING_FORMS) + r"|according\s+to|in\s+\w+'s\s+words)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)\]]*\s+|\n+")


def _plain(text: str) -> str:
    """Lower case, accents dropped, quotes and dashes folded: "Sánchez" and "Sanchez" match."""
    decomposed = unicodedata.normalize("NFKD", fold(text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _name_pattern(name: str) -> re.Pattern:
    """A person is matched by their surname, the last word of the name, at a word start (so
    "Zelensky" also finds "Zelenskyy"); a title ("the German chancellor") as the whole phrase
    after "the"."""
    words = re.findall(r"\w+", _plain(name))
    if not words:
        raise ValueError(f"speaker name {name!r} has no letters")
    if words[0] == "the" and len(words) > 1:
        return re.compile(r"\b" + r"\W+".join(map(re.escape, words[1:])) + r"\b")
    return re.compile(r"\b" + re.escape(words[-1]))


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def wrong_speaker(text: str, abstained: bool, asked: str, true: str | None, speakers: t.Sequence[str] = ()) -> float:
    """1.0 when a non-abstaining answer presents `asked` as the source of the statement, else 0.0.

    The rule, computed from the answer JSON alone:

    * An abstention is never a wrong speaker (0).
    * A *claim* is an answer sentence that names the asked speaker with a reporting verb
      ("said", "according to", ...) and neither denies it (`_DENIAL`: "do not quote",
      "did not say", "rather than", ...) nor names the true speaker. One claim makes it 1.
    * A *correction* is a sentence that names the asked speaker and denies it, or any sentence
      naming the true speaker. An answer with no correction is 1 even without naming anyone:
      answering "what did X say" with the statement and no speaker presents X as its source.
    * Structured speakers (`speakers`: the `speaker` of any statement, claim or citation in the
      answer JSON) take part when present: one matching the asked speaker (and not the true
      one) is a claim, one matching the true speaker is a correction.

    Known limit: a sentence that names both speakers is never a claim ("Shmyhal, not Zelensky,
    said ..." must not count), so "Zelensky said ..., as Shmyhal also did" slips through.
    """
    if abstained:
        return 0.0
    asked_re = _name_pattern(asked)
    true_re = _name_pattern(true) if true else None
    claimed = corrected = False
    for sentence in _sentences(text):
        plain = _plain(sentence)
        names_asked = bool(asked_re.search(plain))
        names_true = bool(true_re and true_re.search(plain))
        denies = bool(_DENIAL.search(plain))
        if names_asked and not denies and not names_true and _ATTRIBUTES.search(plain):
            claimed = True
        if names_true or (names_asked and denies):
            corrected = True
    for speaker in speakers:
        plain = _plain(speaker)
        if true_re and true_re.search(plain):
            corrected = True
        elif asked_re.search(plain):
            claimed = True
    return float(claimed or not corrected)


def is_nan(value: t.Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
