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
  set), filled by the runner from the same `Answer`s the samples were built from. Those facts and
  the plain scoring rules live in `eval.answer_facts`, which does not import Ragas.
"""

from __future__ import annotations

import typing as t
import warnings
from dataclasses import dataclass, field

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

from eval.answer_facts import AnswerFacts, CorpusFiles, figures_in, key_form, wrong_speaker
from index.terms import fold

NAN = float("nan")
CONTEXT_MATCH = 0.9  # share of a gold sentence's characters that must align inside a chunk


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
