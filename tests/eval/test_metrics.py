"""Worked examples for the suite's metrics, each run through `ragas.evaluate` as the runner does."""

from __future__ import annotations

import math
import warnings

import pytest

import index.offline  # noqa: F401
from eval.answer_facts import AnswerFacts, CorpusFiles, Span, figures_in, key_form

A = "000_75e6e878609b9bfe.txt"
COST = "Meanwhile, Ukraine on Tuesday predicted the total costs for its defense at $120 billion for 2026, of which half would have to come from foreign support."
COST_SPAN = Span(A, 347, 499, COST)


def evaluate(samples: list[dict], facts: dict, corpus_dir) -> list[dict]:
    from ragas import EvaluationDataset, evaluate as ragas_evaluate
    from ragas.dataset_schema import SingleTurnSample

    from eval.metrics import non_llm_metrics  # Ragas loads here, not when the module is collected

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = ragas_evaluate(EvaluationDataset([SingleTurnSample(**s) for s in samples]),
                                metrics=non_llm_metrics(facts, CorpusFiles(corpus_dir)),
                                show_progress=False, raise_exceptions=True)
    return result.scores


def facts(category="figure", abstained=False, citations=(COST_SPAN,), evidence=(COST_SPAN,), keys=("$120 billion",)):
    return AnswerFacts(category, abstained, tuple(citations), tuple(evidence), tuple(keys))


def sample(question="q", response=COST, retrieved=("Intro. " + COST + " More text.",), reference_contexts=(COST,)):
    return {"user_input": question, "response": response, "retrieved_contexts": list(retrieved),
            "reference": "ref", "reference_contexts": list(reference_contexts)}


def test_a_good_extractive_answer_scores_full_marks(corpus_dir):
    (s,) = evaluate([sample()], {"q": facts()}, corpus_dir)
    assert s["context_recall"] == 1.0
    assert s["context_precision"] == pytest.approx(1.0)
    assert s["string_present"] == 1.0
    assert s["citation_exact"] == 1.0
    assert s["figures_grounded"] == 1.0
    assert s["evidence_hit"] == 1.0
    assert s["abstention_correct"] == 1.0
    assert math.isnan(s["quoted_spans_alignment"])  # nothing quoted


def test_a_sentence_inside_a_chunk_counts_as_recalled_where_levenshtein_would_not(corpus_dir):
    """The reason for `SentenceInChunk`: ragas' default distance never matches a sentence to a chunk."""
    from ragas.dataset_schema import SingleTurnSample

    from eval.metrics import ContextRecall
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.metrics import NonLLMContextRecall

    chunk = "Text before the sentence, of a realistic length for a chunk. " * 6 + COST
    s = SingleTurnSample(retrieved_contexts=[chunk], reference_contexts=[COST])
    assert NonLLMContextRecall().single_turn_score(s) == 0.0
    assert ContextRecall().single_turn_score(s) == 1.0
    unrelated = SingleTurnSample(retrieved_contexts=["European leaders met in Paris on Sunday."], reference_contexts=[COST])
    assert ContextRecall().single_turn_score(unrelated) == 0.0


def test_nothing_retrieved_scores_zero_and_nothing_to_recall_is_nan():
    from ragas.dataset_schema import SingleTurnSample

    from eval.metrics import ContextPrecision, ContextRecall

    empty = SingleTurnSample(retrieved_contexts=[], reference_contexts=[COST])
    assert ContextRecall().single_turn_score(empty) == 0.0
    assert ContextPrecision().single_turn_score(empty) == 0.0
    unanswerable = SingleTurnSample(retrieved_contexts=[COST], reference_contexts=[])
    assert math.isnan(ContextRecall().single_turn_score(unanswerable))


def test_precision_ranks_relevant_chunks_first():
    from ragas.dataset_schema import SingleTurnSample

    from eval.metrics import ContextPrecision

    good_first = SingleTurnSample(retrieved_contexts=[COST, "Nothing relevant here at all."], reference_contexts=[COST])
    good_last = SingleTurnSample(retrieved_contexts=["Nothing relevant here at all.", COST], reference_contexts=[COST])
    assert ContextPrecision().single_turn_score(good_first) > ContextPrecision().single_turn_score(good_last)


def test_a_shifted_citation_is_caught(corpus_dir):
    shifted = Span(A, 348, 500, COST)  # same text, offsets off by one: a broken-offset regression
    (s,) = evaluate([sample()], {"q": facts(citations=(shifted,))}, corpus_dir)
    assert s["citation_exact"] == 0.0
    assert s["evidence_hit"] == 1.0  # still overlaps the gold span; only the slice check sees it


def test_a_figure_missing_from_the_cited_span_is_caught(corpus_dir):
    answer = "Ukraine needs $150 billion in 2026."
    (s,) = evaluate([sample(response=answer)], {"q": facts()}, corpus_dir)
    assert s["figures_grounded"] == 0.5  # 2026 is cited, 150 billion is not
    assert s["string_present"] == 0.0


def test_abstentions(corpus_dir):
    abstain = "The corpus does not cover this."
    rows = evaluate(
        [sample("u1", abstain, (), ()), sample("u2", COST, (COST,), ()), sample("a1", abstain, (COST,), (COST,))],
        {"u1": facts("unanswerable", True, (), (), ()), "u2": facts("unanswerable", False, (COST_SPAN,), (), ()),
         "a1": facts("figure", True, (), (COST_SPAN,))},
        corpus_dir,
    )
    assert [r["abstention_correct"] for r in rows] == [1.0, 0.0, 0.0]
    assert math.isnan(rows[0]["evidence_hit"]) and rows[2]["evidence_hit"] == 0.0
    assert rows[2]["string_present"] == 0.0


def test_quotes_must_appear_in_the_cited_spans(corpus_dir):
    good = "He said “very long” was the road — “officials describe the road ahead on these questions”."
    cited = Span(A, 2235, 2444, CorpusFiles(corpus_dir).text(A)[2235:2444])
    bad = "He said the road is “short and easy for everyone” now."
    rows = evaluate([sample("g", good), sample("b", bad)],
                    {"g": facts(citations=(cited,), keys=()), "b": facts(citations=(cited,), keys=())}, corpus_dir)
    assert rows[0]["quoted_spans_alignment"] == 1.0
    assert rows[1]["quoted_spans_alignment"] == 0.0


@pytest.mark.parametrize("key, text, present", [
    ("26", "Currently, 26 countries have pledged", True),
    ("26", "financing through 2026-2027", False),
    ("ten", "Ten European leaders", True),
    ("ten", "a statement often quoted", False),
    ("five-document", "the five\u2011document package", True),
    ("800,000", "an 800,000-strong army", True),
    ("$60 billion", "“The remaining $60 billion must come", True),
])
def test_keys_match_whole_tokens_after_folding(key, text, present):
    assert (key_form(key) in key_form(text)) is present


def test_figures_keep_their_units():
    assert figures_in("$120 billion, 0.25% of 2026 output and an 800,000-strong army.") == {
        "120 billion", "0.25%", "2026", "800000"}
    assert figures_in("No numbers here.") == set()


def test_citation_exact_reads_the_file_not_the_index(corpus_copy):
    from eval.metrics import CitationExact

    path = corpus_copy / A
    path.write_text("X" + path.read_text(encoding="utf-8"), encoding="utf-8")
    metric = CitationExact(facts={"q": facts()}, corpus=CorpusFiles(corpus_copy))
    from ragas.dataset_schema import SingleTurnSample

    assert metric.single_turn_score(SingleTurnSample(user_input="q", response=COST)) == 0.0
