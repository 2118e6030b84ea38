"""The general reader: which candidate sentence holds the answer, and whether any does.

Hand-written rules, one per question form, fit the forms they were written for and miss a user's
own phrasing. The reader instead describes every candidate sentence by a few general features and
lets a small fitted model weigh them:

- match: the fused support, the dense cosine and the lexical overlap (`rag.evidence`), and the
  candidate's place in that order;
- coverage: the share of the question's content words, and of its names and numbers, that the
  sentence (or the sentence before it, where news sets the scene) holds; a question fixing "2025"
  or another owner is not met by a sentence about 2026 or someone else;
- answer type: what kind of filler the question asks for (a person or body, a place, a date, a
  count, an amount, a share: read from its question word and, for "what/which N", from the kind of
  thing WordNet says N is), and whether the sentence holds one that the question does not already
  name (`index.analysis` keeps each sentence's named entities, so nothing is parsed here).

`P(holds the answer) = sigmoid(w . x + b)`, with `w` and `b` read from `reader_weights.json`, which
`eval/fit_reader.py` fits on dev plus an external dev set by logistic regression, with
cross-validation (its report: `eval/reports/latest/reader_fit.md`). The engine answers with the
most probable candidate when that candidate's support clears the question's threshold
(`rag.answerability.support_threshold`, the `clears_support` feature). A threshold on the fitted
probability itself was measured as the refusal rule and lost: it separated unanswerable questions
no better than support does, and refused more answerable ones (the sweep in the report).
Nothing here names anything of a corpus.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from index.analysis import SentenceAnalysis
from index.language.words import QUESTION_AUXILIARIES, SHARE_ASKING_NOUNS, WH_WORDS
from index.terms import stopwords, tokenize
from rag.thesaurus import wordnet
from rag.types import Evidence

WEIGHTS_PATH = Path(__file__).resolve().parent / "reader_weights.json"

# What a question word asks for, as spaCy entity labels. "how" takes the word after it.
_WH_LABELS: dict[str, tuple[str, ...]] = {
    "who": ("PERSON", "ORG", "NORP", "GPE"),
    "whom": ("PERSON", "ORG", "NORP", "GPE"),
    "whose": ("PERSON", "ORG", "NORP", "GPE"),
    "when": ("DATE", "TIME"),
    "where": ("GPE", "LOC", "FAC"),
}
_HOW_LABELS: dict[str, tuple[str, ...]] = {
    "many": ("CARDINAL", "QUANTITY", "MONEY", "PERCENT"),
    "much": ("MONEY", "QUANTITY", "CARDINAL", "PERCENT"),
    "long": ("DATE", "TIME", "QUANTITY", "CARDINAL"),
    "old": ("DATE", "CARDINAL"),
    "often": ("DATE", "TIME", "CARDINAL"),
    "far": ("QUANTITY", "CARDINAL"),
    "large": ("QUANTITY", "CARDINAL", "MONEY", "PERCENT"),
    "big": ("QUANTITY", "CARDINAL", "MONEY", "PERCENT"),
}
# "What/which N": the kind of thing N is (WordNet's lexicographer file of its first sense) says
# which names fill it: noun.group 14, noun.location 15, noun.person 18, noun.possession 21,
# noun.quantity 23, noun.time 28.
_LEXFILE_LABELS: dict[int, tuple[str, ...]] = {
    14: ("ORG", "NORP", "GPE"),
    15: ("GPE", "LOC", "FAC"),
    18: ("PERSON", "NORP", "ORG"),
    21: ("MONEY", "CARDINAL"),
    23: ("CARDINAL", "QUANTITY", "MONEY", "PERCENT"),
    28: ("DATE", "TIME"),
}
_WORD = re.compile(r"[A-Za-z]+|\d[\d.,]*")
_ASKING = WH_WORDS - {"why"}  # "why" asks for a reason, which no typed filler fills
# Features, in the order the weights are stored.
FEATURES = (
    "support",
    "dense",
    "lexical",
    "first",
    "coverage",
    "names_met",
    "type_asked",
    "type_found",
    "clears_support",
    "pairs_met",
    "rarest_missing",
)

_CLEARS = FEATURES.index("clears_support")


@dataclass(frozen=True)
class Expected:
    """What kind of filler a question asks for: entity labels, or () for a reason or description."""

    labels: tuple[str, ...] = ()

    @property
    def typed(self) -> bool:
        return bool(self.labels)


@lru_cache(maxsize=4096)
def expected_filler(question: str) -> Expected:
    """The answer type of a question, from its first question word and, for "what/which N" or
    "how many N", the kind of thing N is (WordNet), so "which leader" wants a person and "what
    century" a date without a list of nouns."""
    words = [w.lower() for w in _WORD.findall(question)]
    at = next((i for i, w in enumerate(words) if w in _ASKING), None)
    if at is None:
        return Expected()
    wh, rest = words[at], words[at + 1 : at + 5]
    if wh in _WH_LABELS:
        return Expected(_WH_LABELS[wh])
    if wh == "how":
        return Expected(_HOW_LABELS.get(rest[0], ())) if rest else Expected()
    # what / which: the first noun within the next few words, before the verb.
    for w in rest:
        if w in stopwords() and w not in ("year", "date"):
            if w in QUESTION_AUXILIARIES:
                break
            continue
        if w in SHARE_ASKING_NOUNS:
            return Expected(("PERCENT",))
        lexfile = wordnet().noun_lexfile(w)
        if lexfile is not None:
            return Expected(_LEXFILE_LABELS.get(lexfile, ()))
    return Expected()


def _content(text: str) -> set[str]:
    return set(tokenize(text))


def _pairs(terms: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(terms, terms[1:]))


def _names(question: str) -> set[str]:
    """The question's names and numbers: capitalised words after the first, and digits."""
    words = _WORD.findall(question)
    picked = [w for i, w in enumerate(words) if w[0].isdigit() or (i > 0 and w[0].isupper())]
    return {t for w in picked for t in tokenize(w)}


@dataclass(frozen=True)
class Reading:
    """One candidate as the reader sees it: its features and the probability it answers."""

    evidence: Evidence
    features: tuple[float, ...]
    probability: float


@dataclass(frozen=True)
class ReaderModel:
    """The fitted weights (`reader_weights.json`)."""

    weights: tuple[float, ...]
    bias: float

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> "ReaderModel":
        data = json.loads(path.read_text(encoding="utf-8"))
        if list(data["features"]) != list(FEATURES):
            raise ValueError(f"{path} was fitted on features {data['features']}, not {list(FEATURES)}; refit it")
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]))

    def probability(self, features: Sequence[float]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class Sources:
    """What the reader looks up about a candidate: its stored analysis, the sentence before it,
    the support threshold it would have to clear (`rag.answerability.support_threshold`) and how
    rare a search term is."""

    analysis_of: Callable[[Evidence], SentenceAnalysis]
    context_of: Callable[[Evidence], str]
    threshold_of: Callable[[Evidence], float]
    idf: Callable[[str], float] = lambda term: 1.0


def features(question: str, candidates: Sequence[Evidence], sources: Sources) -> list[tuple[float, ...]]:
    """The feature row of every candidate, in `FEATURES` order."""
    asked = _content(question)
    pairs = _pairs(tokenize(question))
    names = _names(question)
    weight = {t: sources.idf(t) for t in asked}
    expected = expected_filler(question)
    folded_question = question.lower()
    rows: list[tuple[float, ...]] = []
    for rank, e in enumerate(candidates):
        held = _content(e.text) | _content(sources.context_of(e))
        coverage = len(asked & held) / len(asked) if asked else 1.0
        names_met = len(names & held) / len(names) if names else 1.0
        # Word pairs of the question met side by side ("Chilean general" is not "Peruvian general"),
        # and the rarest question word the sentence and its setting lack, against the rarest asked.
        pairs_met = len(pairs & _pairs(tokenize(e.text))) / len(pairs) if pairs else 1.0
        missing = [weight[t] for t in asked - held]
        rarest_missing = max(missing) / max(weight.values()) if missing else 0.0
        found = 0.0
        if expected.typed:
            found = float(
                any(
                    label in expected.labels and text.lower() not in folded_question
                    for label, text in sources.analysis_of(e).entities
                )
            )
        rows.append(
            (
                e.score,
                e.dense,
                e.lexical,
                float(rank == 0),
                coverage,
                names_met,
                float(expected.typed),
                found,
                float(e.score >= sources.threshold_of(e)),
                pairs_met,
                rarest_missing,
            )
        )
    return rows


class Reader:
    """Ranks candidates by the fitted probability that they answer, and says whether the chosen one may."""

    def __init__(self, model: ReaderModel | None = None):
        self.model = model or ReaderModel.load()

    def read(self, question: str, candidates: Sequence[Evidence], sources: Sources) -> list[Reading]:
        """Every candidate with its probability, most probable first (ties keep the given order)."""
        rows = features(question, candidates, sources)
        readings = [Reading(e, x, self.model.probability(x)) for e, x in zip(candidates, rows)]
        return sorted(readings, key=lambda r: -r.probability)

    def answers(self, readings: Sequence[Reading]) -> bool:
        """Whether the most probable candidate clears its support threshold."""
        return bool(readings) and readings[0].features[_CLEARS] > 0
