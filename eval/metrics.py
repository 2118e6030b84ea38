"""Ragas metrics for the suite: ragas' own non-LLM metrics, configured for our data, and our
span-grounding metrics written as Ragas `SingleTurnMetric`s so one `ragas.evaluate` runs them all.

Two decisions worth knowing:

* Retrieved contexts are ~700-character chunks; gold contexts are single sentences. Ragas'
  default Levenshtein similarity compares whole strings, so a sentence that sits verbatim inside
  a chunk scores ~0.3 and would never count as recalled. `SentenceInChunk` scores the best
  alignment of the shorter string inside the longer (rapidfuzz `partial_ratio`), and the context
  metrics use it with a high threshold: a gold sentence counts as retrieved when it is
  (near-)verbatim inside a retrieved chunk.
* Citations carry offsets, which a `SingleTurnSample` has no field for. The span metrics read
  them from `facts`, a table keyed by the sample's `user_input` (questions are unique in the gold
  set), filled by the runner from the same `Answer`s the samples were built from.
"""

from __future__ import annotations

import math
import re
import typing as t
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import index.offline  # noqa: F401  (RAGAS_DO_NOT_TRACK and friends before ragas loads)

# isort: split
from ragas.dataset_schema import SingleTurnSample
from ragas.metrics.base import MetricType, SingleTurnMetric
from ragas.run_config import RunConfig

with warnings.catch_warnings():
    # ragas 0.4 flags every import from ragas.metrics as deprecated "use ragas.metrics.collections",
    # but the collections have no non-LLM context metrics yet; these are the current ones.
    warnings.simplefilter("ignore", DeprecationWarning)
    from ragas.metrics import NonLLMContextPrecisionWithReference, NonLLMContextRecall, StringPresence

from eval.gold import ABSTAIN, ANSWERABLE_ALL
from rag.spans import fold, overlaps

NAN = float("nan")
CONTEXT_MATCH = 0.9  # share of a gold sentence's characters that must align inside a chunk


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


# -- ragas metrics -----------------------------------------------------------------------------


@dataclass
class SentenceInChunk(SingleTurnMetric):
    """Similarity of the shorter string's best alignment inside the longer one, 0..1."""

    name: str = "sentence_in_chunk"
    _required_columns: t.Dict[MetricType, t.Set[str]] = field(
        default_factory=lambda: {MetricType.SINGLE_TURN: {"reference", "response"}}
    )

    def init(self, run_config: RunConfig) -> None:
        pass

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        from rapidfuzz import fuzz

        return fuzz.partial_ratio(fold(sample.reference or ""), fold(sample.response or "")) / 100.0


@dataclass
class ContextRecall(NonLLMContextRecall):
    """Ragas' NonLLMContextRecall with `SentenceInChunk`; nothing retrieved scores 0, not an error."""

    name: str = "context_recall"
    threshold: float = CONTEXT_MATCH
    _distance_measure: SingleTurnMetric = field(default_factory=SentenceInChunk)

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        if not sample.reference_contexts:
            return NAN  # unanswerable: there is nothing to recall
        if not sample.retrieved_contexts:
            return 0.0
        return await super()._single_turn_ascore(sample, callbacks)


@dataclass
class ContextPrecision(NonLLMContextPrecisionWithReference):
    """Ragas' NonLLMContextPrecisionWithReference (average precision) with `SentenceInChunk`."""

    name: str = "context_precision"
    threshold: float = CONTEXT_MATCH
    distance_measure: SingleTurnMetric = field(default_factory=SentenceInChunk)

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        if not sample.reference_contexts:
            return NAN
        if not sample.retrieved_contexts:
            return 0.0
        return float(await super()._single_turn_ascore(sample, callbacks))


@dataclass
class _FactsMetric(SingleTurnMetric):
    """A metric that looks up the sample's `AnswerFacts` by its question."""

    facts: t.Mapping[str, AnswerFacts] = field(default_factory=dict, repr=False)
    _required_columns: t.Dict[MetricType, t.Set[str]] = field(
        default_factory=lambda: {MetricType.SINGLE_TURN: {"user_input", "response"}}
    )

    def init(self, run_config: RunConfig) -> None:
        pass

    def _facts(self, sample: SingleTurnSample) -> AnswerFacts:
        try:
            return self.facts[sample.user_input or ""]
        except KeyError:
            raise KeyError(f"no AnswerFacts for question {sample.user_input!r}; build them with the samples") from None


@dataclass
class FigureKeyPresence(_FactsMetric):
    """Ragas StringPresence of the item's figure keys in the answer: 1 if any key is present.

    Both sides go through `key_form`, so curly quotes, non-breaking hyphens and case do not
    matter and a key only matches whole tokens. NaN for items without keys.
    """

    name: str = "string_present"
    _presence: StringPresence = field(default_factory=StringPresence, repr=False)

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        facts = self._facts(sample)
        if not facts.keys:
            return NAN
        response = key_form(sample.response or "")
        scores = [
            await self._presence.single_turn_ascore(SingleTurnSample(reference=key_form(k), response=response))
            for k in facts.keys
        ]
        return max(scores)


@dataclass
class QuotedSpans(_FactsMetric):
    """Ragas' QuotedSpansAlignment against the spans the answer cites.

    The answer's quoted passages must appear verbatim in what it claims as its sources. Unlike
    ragas (which scores 1.0 when nothing is quoted) this returns NaN then, so the average is over
    answers that actually quote.
    """

    name: str = "quoted_spans_alignment"

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        from ragas.metrics.collections import QuotedSpansAlignment
        from ragas.metrics.collections.quoted_spans.util import extract_quoted_spans

        facts = self._facts(sample)
        response = sample.response or ""
        if facts.abstained or not extract_quoted_spans(response, min_len=3):
            return NAN
        result = await QuotedSpansAlignment().ascore(
            response=response, retrieved_contexts=[c.text for c in facts.citations]
        )
        return float(result.value)


# -- span grounding: our own metric, in four parts ----------------------------------------------


@dataclass
class CitationExact(_FactsMetric):
    """Share of the answer's citations whose offsets slice exactly to their text in the article file."""

    name: str = "citation_exact"
    corpus: CorpusFiles | None = field(default=None, repr=False)

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        facts = self._facts(sample)
        if not facts.citations:
            return NAN
        if self.corpus is None:
            raise ValueError("CitationExact needs corpus=CorpusFiles(corpus_dir)")
        return sum(self.corpus.slices_exactly(c) for c in facts.citations) / len(facts.citations)


@dataclass
class FiguresInCitations(_FactsMetric):
    """Share of the figures in the answer text that appear in the spans it cites (NaN if none)."""

    name: str = "figures_grounded"

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        facts = self._facts(sample)
        figures = figures_in(sample.response or "")
        if facts.abstained or not figures:
            return NAN
        cited = set().union(*(figures_in(c.text) for c in facts.citations)) if facts.citations else set()
        return len(figures & cited) / len(figures)


@dataclass
class EvidenceHit(_FactsMetric):
    """1 when a citation overlaps a gold evidence span; 0 when none does or the engine abstained.

    Misattribution items with a true speaker count only when the answer does not abstain (then
    it should cite the true speaker's sentence); NaN for items without evidence."""

    name: str = "evidence_hit"

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        facts = self._facts(sample)
        if facts.category == "misattribution":
            if facts.abstained or not facts.evidence:
                return NAN
        elif not facts.answerable:
            return NAN
        return float(any(c.overlaps(e) for c in facts.citations for e in facts.evidence))


@dataclass
class AbstentionCorrect(_FactsMetric):
    """1 when the engine abstained exactly on the items it should (unanswerable, offtopic) and
    answered the rest; NaN on misattribution items, where both are right."""

    name: str = "abstention_correct"

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        facts = self._facts(sample)
        if facts.category == "misattribution":
            return NAN
        return float(facts.abstained == facts.should_abstain)


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
    r"\b(?:said|says|say|saying|told|tells|stated|states|stating|described|describes|called|calls|"
    r"noted|notes|argued|argues|warned|warns|stressed|stresses|emphasi[sz]ed|added|revealed|"
    r"highlighted|remarked|insisted|declared|announced|asserted|explained|urged|reaffirmed|"
    r"signall?ed|indicated|expressed|predicted|claimed|believes?|thinks?|according\s+to|in\s+\w+'s\s+words)\b",
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


@dataclass
class WrongSpeaker(_FactsMetric):
    """Misattribution items: 1 when the answer presents the asked speaker as the source (see
    `wrong_speaker`); NaN on every other category. Lower is better; gated as a maximum."""

    name: str = "wrong_speaker"

    async def _single_turn_ascore(self, sample: SingleTurnSample, callbacks) -> float:
        facts = self._facts(sample)
        if facts.category != "misattribution" or not facts.asked_speaker:
            return NAN
        return wrong_speaker(
            sample.response or "", facts.abstained, facts.asked_speaker, facts.true_speaker, facts.speakers
        )


def non_llm_metrics(facts: t.Mapping[str, AnswerFacts], corpus: CorpusFiles) -> list[SingleTurnMetric]:
    """Every metric that runs without a model: ragas' context and string metrics, and ours."""
    return [
        ContextRecall(),
        ContextPrecision(),
        FigureKeyPresence(facts=facts),
        QuotedSpans(facts=facts),
        CitationExact(facts=facts, corpus=corpus),
        FiguresInCitations(facts=facts),
        EvidenceHit(facts=facts),
        AbstentionCorrect(facts=facts),
        WrongSpeaker(facts=facts),
    ]


def is_nan(value: t.Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
