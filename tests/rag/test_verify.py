"""Verification outside the backends: exact slices, figures stated in what each sentence cites.

Worked examples on real article sentences, a planted-figure sweep over the whole corpus (every
figure in every sentence, altered, must be rejected), and the repair/fallback policy.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from index.chunking import split_sentences
from eval.bench.llm import plant
from index.documents import load_corpus
from rag import spans
from rag.verify import FAILED, FALLBACK, REPAIRED, VERIFIED, Attempt, check, settle


@pytest.fixture(scope="module")
def corpus(corpus_dir):
    return load_corpus(corpus_dir)


@pytest.fixture(scope="module")
def docs(corpus):
    return corpus.by_id


def find(corpus, phrase: str):
    """A citation of the sentence containing `phrase`."""
    for doc in corpus.documents:
        for s in split_sentences(doc):
            if phrase in s.text:
                return spans.cite(doc, s.start, s.end)
    raise AssertionError(f"no sentence contains {phrase!r}")


@pytest.fixture(scope="module")
def remaining(corpus):
    return find(corpus, "The remaining $60 billion must come from our partners")


def test_a_paraphrase_with_the_cited_figures_verifies(remaining, docs):
    verdict = check("Kyiv wants its partners to pay the remaining $60 billion [1].", {1: remaining}, docs)
    assert verdict.ok, verdict.problems
    (claim,) = verdict.claims
    assert claim.citations == (1,) and [f.figure.text for f in claim.figures] == ["$60 billion"]
    assert all(f.cited_in == 1 for f in claim.figures)


def test_normalised_forms_are_accepted(remaining, docs):
    text = "Shmyhal said partners must provide 60 billion dollars, at least 0.25 percent of their 2026 economic power [1]."
    assert check(text, {1: remaining}, docs).ok


def test_the_measured_smollm2_invention_is_rejected(remaining, docs):
    # What SmolLM2 actually wrote, given this evidence: "2.5%" is nowhere in it.
    text = "Countries should allocate 0.25% of their economic power, which is 2.5% of the total economic output [1]."
    verdict = check(text, {1: remaining}, docs)
    assert not verdict.ok
    assert any('"2.5%"' in p for p in verdict.problems)
    figs = {f.figure.text: f.supported for f in verdict.claims[0].figures}
    assert figs == {"0.25%": True, "2.5%": False}


def test_a_figure_must_be_in_the_span_its_own_sentence_cites(corpus, remaining, docs):
    army = find(corpus, "peacetime level of 800,000")
    text = "Ukraine's army should stay at 800,000 [2].\nPartners must give $60 billion [2]."
    verdict = check(text, {1: remaining, 2: army}, docs)
    assert not verdict.ok and any('"$60 billion" in sentence 2' in p for p in verdict.problems)
    assert check("Ukraine's army should stay at 800,000 [2].\nPartners must give $60 billion [1].",
                 {1: remaining, 2: army}, docs).ok


def test_a_wrong_currency_is_rejected(remaining, docs):
    assert not check("Partners must give the remaining 60 billion euros [1].", {1: remaining}, docs).ok


def test_a_sentence_without_citation_is_flagged(remaining, docs):
    verdict = check("Partners must give the remaining $60 billion [1].\nThat is a lot of money for partners.",
                    {1: remaining}, docs)
    assert not verdict.ok
    assert verdict.claims[1].citations == () and not verdict.claims[1].supported
    assert any("sentence 2" in p and "cites no evidence" in p for p in verdict.problems)


def test_an_answer_citing_nothing_is_rejected(docs):
    verdict = check("Ukraine needs $60 billion.", {}, docs)
    assert not verdict.ok and "the answer cites no evidence" in verdict.problems


def test_a_marker_without_a_citation_is_rejected(remaining, docs):
    verdict = check("Partners must give the remaining $60 billion [1][4].", {1: remaining}, docs)
    assert "marker [4] names no evidence" in verdict.problems


def test_a_citation_that_no_longer_slices_is_rejected(remaining, docs):
    moved = replace(remaining, start=remaining.start + 1, end=remaining.end + 1)
    verdict = check("Partners must give the remaining $60 billion [1].", {1: moved}, docs)
    assert any("not an exact slice" in p for p in verdict.problems)


def test_a_sentence_unrelated_to_its_citation_is_rejected(remaining, docs):
    verdict = check("The evidence number is given above in the list [1].", {1: remaining}, docs)
    assert any("too few words" in p for p in verdict.problems)


def test_text_without_markers_is_one_claim_citing_everything(remaining, docs):
    verdict = check(remaining.text, {1: remaining}, docs)
    assert verdict.ok and len(verdict.claims) == 1 and verdict.claims[0].citations == (1,)


# -- planted figures: every figure of every sentence in the corpus, altered ------------------
# The alterations are eval.bench.llm's (`plant`), the same ones its report counts.


def test_every_planted_wrong_figure_is_rejected(corpus, docs):
    planted, escaped = 0, []
    for doc in corpus.documents:
        for s in split_sentences(doc):
            cited = {1: spans.cite(doc, s.start, s.end)}
            assert check(s.text + " [1].", cited, docs).ok  # the true sentence passes
            result = plant(s.text + " [1].", cited, docs)
            planted += result["planted"]
            escaped += result["escaped"]
    assert planted >= 80  # every figure the corpus states, most in two ways
    assert escaped == []


def test_planted_figures_in_paraphrases_are_rejected(remaining, docs):
    for wrong in ["$70 billion", "$6 billion", "60 million dollars", "€60 billion", "0.5%", "25%", "2027", "a fifth"]:
        text = f"Shmyhal said partners must cover {wrong} of the costs [1]."
        assert not check(text, {1: remaining}, docs).ok, wrong


# -- the policy -------------------------------------------------------------------------------


def _policy(corpus, docs, first: str, repaired: str | None):
    remaining = find(corpus, "The remaining $60 billion must come from our partners")
    calls = []

    def repair(problems):
        calls.append(list(problems))
        return Attempt(repaired, {1: remaining})

    return settle(Attempt(first, {1: remaining}), lambda a: check(a.text, a.cited, docs), backend="test",
                  repair=repair if repaired is not None else None,
                  fallback=lambda: Attempt(remaining.text, {1: remaining})), calls


def test_policy_passes_a_good_answer_without_repair(corpus, docs):
    outcome, calls = _policy(corpus, docs, "Partners must pay $60 billion [1].", "unused")
    assert outcome.status == VERIFIED and calls == [] and outcome.reason == ""


def test_policy_repairs_once_with_the_problems(corpus, docs):
    outcome, calls = _policy(corpus, docs, "Partners must pay $70 billion [1].", "Partners must pay $60 billion [1].")
    assert outcome.status == REPAIRED and outcome.attempt.text == "Partners must pay $60 billion [1]."
    assert len(calls) == 1 and any('"$70 billion"' in p for p in calls[0])


def test_policy_falls_back_after_a_failed_repair_and_says_why(corpus, docs):
    outcome, calls = _policy(corpus, docs, "Partners must pay $70 billion [1].", "Partners must pay $80 billion [1].")
    assert outcome.status == FALLBACK and len(calls) == 1
    assert outcome.verdict.ok  # the extractive fallback itself verifies
    assert '"$70 billion"' in outcome.reason and '"$80 billion"' in outcome.reason and "extractive" in outcome.reason


def test_policy_without_repair_goes_straight_to_the_fallback(corpus, docs):
    outcome, _ = _policy(corpus, docs, "Partners must pay $70 billion [1].", None)
    assert outcome.status == FALLBACK and len(outcome.history) == 2


def test_policy_without_fallback_reports_the_failure(docs):
    outcome = settle(Attempt("Ukraine needs $70 billion.", {}), lambda a: check(a.text, a.cited, docs), backend="x")
    assert outcome.status == FAILED and "cites no evidence" in outcome.reason


def test_a_citation_standing_where_the_answer_should_be_is_rejected(remaining, docs):
    for text in ["The amount partners must pay is [1].", "The evidence is [1].", "Partners must give the following: [1]",
                 "Shmyhal said partners must give “ [1].", "Partners must give money to the U [1]."]:
        verdict = check(text, {1: remaining}, docs)
        assert any("unfinished" in p for p in verdict.problems), (text, verdict.problems)


def test_a_quoted_clause_without_markers_is_not_judged_as_unfinished(remaining, docs):
    clause = spans.cite(docs[remaining.doc_id], remaining.start, remaining.start + 20)  # opens a quotation
    assert clause.text.startswith("\u201c") and check(clause.text, {1: clause}, docs).ok


def test_an_answer_that_only_repeats_the_question_is_rejected(remaining, docs):
    question = "How much must come from the partners?"
    verdict = check("It must come from the partners [1].", {1: remaining}, docs, question)
    assert "the answer only repeats the question: it states nothing from its evidence" in verdict.problems
    assert check("The remaining $60 billion must come from the partners [1].", {1: remaining}, docs, question).ok


def test_reading_a_long_answer_keeps_its_sentences_and_abbreviations():
    """The bounded look-back at each full stop (linear time) splits as reading the whole sentence did."""
    from rag.markers import split_sentences as answer_sentences

    run_on = "the x. y " * 5000  # 45 KB of full stops that do not end a sentence (lower case follows)
    assert answer_sentences(run_on + "end. Next one [1].") == [run_on + "end.", "Next one [1]."]
    assert answer_sentences("The U.S. Senate voted. It passed.") == ["The U.S. Senate voted.", "It passed."]
    long_word = "a" * 70
    assert answer_sentences(f"{long_word} b. Cut here") == [f"{long_word} b. Cut here"]  # "b." is an initial
    assert answer_sentences(f"Word {long_word}. Cut here") == [f"Word {long_word}.", "Cut here"]
