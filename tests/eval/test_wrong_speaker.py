"""`wrong_speaker` on misattribution items, and how the new categories are scored and grouped.

Planted answers to "What did Zelensky say about who must supply the last $60 billion?" (it was
the defence minister, Shmyhal) and to a question about something nobody said.
"""

from __future__ import annotations

import math
import warnings

import pytest

import index.offline  # noqa: F401
from eval.answer_facts import AnswerFacts, CorpusFiles, Span, wrong_speaker
from eval.runner import answer_speakers, summarise

A = "000_75e6e878609b9bfe.txt"
SHMYHAL = ("“The remaining $60 billion must come from our partners,” Shmyhal said, asking the countries present to "
           "each allocate at least 0.25% of their 2026 economic power to Ukraine’s defensive effort.")
SHMYHAL_SPAN = Span(A, 4396, 4587, SHMYHAL)


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


def sample(question: str, response: str, retrieved: tuple, reference_contexts: tuple) -> dict:
    return {"user_input": question, "response": response, "retrieved_contexts": list(retrieved),
            "reference": "ref", "reference_contexts": list(reference_contexts)}


@pytest.mark.parametrize("answer, abstained, expected", [
    # presents the asked speaker as the source
    ("Zelensky said the remaining $60 billion must come from Ukraine's partners [1].", False, 1.0),
    ("According to Zelenskyy, partners must provide the remaining $60 billion [1].", False, 1.0),
    # answers with the statement but names nobody: the question's premise stands uncorrected
    ("The remaining $60 billion must come from Ukraine's partners [1].", False, 1.0),
    # names the true speaker, yet still has a sentence crediting the asked one
    ("Zelenskyy said partners must pay. Shmyhal agreed that the remaining $60 billion must come from partners [1].",
     False, 1.0),
    # corrects the speaker
    ("The articles do not quote Zelensky on this; Shmyhal said the remaining $60 billion must come from partners [1].",
     False, 0.0),
    ("It was Defence Minister Denys Shmyhal, not Zelenskyy, who said partners must supply the $60 billion [1].",
     False, 0.0),
    ("Shmyhal said the remaining $60 billion must come from Ukraine's partners [1].", False, 0.0),
    ("Zelenskyy did not say this. The articles give it to his defence minister [1].", False, 0.0),
    # abstentions never name a wrong speaker
    ("The articles do not say.", True, 0.0),
    ("Zelensky said nothing the articles report about this.", True, 0.0),
])
def test_wrong_speaker_rule_on_text(answer, abstained, expected):
    assert wrong_speaker(answer, abstained, "Zelensky", "Denys Shmyhal") == expected


def test_nobody_said_it_needs_a_denial_or_an_abstention():
    asked = "António Costa"
    assert wrong_speaker("Costa said the mission would cost €1 billion [1].", False, asked, None) == 1.0
    assert wrong_speaker("The monitoring mission is US-led [1].", False, asked, None) == 1.0
    assert wrong_speaker("The articles do not quote Antonio Costa on this.", False, asked, None) == 0.0
    assert wrong_speaker("No cost is given.", True, asked, None) == 0.0


def test_structured_speakers_take_part():
    text = "The remaining $60 billion must come from Ukraine's partners [1]."
    assert wrong_speaker(text, False, "Zelensky", "Denys Shmyhal", ["Volodymyr Zelenskyy"]) == 1.0
    assert wrong_speaker(text, False, "Zelensky", "Denys Shmyhal", ["Denys Shmyhal"]) == 0.0
    row = {"statements": [{"speaker": "Denys Shmyhal", "text": "..."}], "claims": [{"text": "x"}],
           "citations": [{"source": A, "speaker": "Boris Pistorius"}, {"source": A}]}
    assert answer_speakers(row) == ("Denys Shmyhal", "Boris Pistorius")
    assert answer_speakers({"citations": []}) == ()


def test_a_title_as_the_asked_speaker_matches_the_title():
    text = "The German chancellor said Europe, the US and Ukraine reached a common sense of purpose [1]."
    assert wrong_speaker(text, False, "the German chancellor", "Boris Pistorius") == 1.0
    assert wrong_speaker("Pistorius said they reached a common sense of purpose [1].", False,
                         "the German chancellor", "Boris Pistorius") == 0.0


def _facts(category, abstained, citations=(), evidence=(), asked=None, true=None):
    return AnswerFacts(category, abstained, tuple(citations), tuple(evidence), (), asked_speaker=asked,
                       true_speaker=true)


def test_through_ragas_misattribution_offtopic_and_attribution_rows(corpus_dir):
    wrong = "Zelensky said the remaining $60 billion must come from partners."
    right = "The articles do not quote Zelensky on this; Shmyhal said the remaining $60 billion must come from partners."
    rows = evaluate(
        [sample("m1", wrong, (SHMYHAL,), (SHMYHAL,)), sample("m2", right, (SHMYHAL,), (SHMYHAL,)),
         sample("m3", "The articles do not say.", (SHMYHAL,), (SHMYHAL,)),
         sample("o1", "The articles do not say.", (), ()), sample("o2", SHMYHAL, (SHMYHAL,), ()),
         sample("a1", right, (SHMYHAL,), (SHMYHAL,))],
        {"m1": _facts("misattribution", False, (SHMYHAL_SPAN,), (SHMYHAL_SPAN,), "Zelensky", "Denys Shmyhal"),
         "m2": _facts("misattribution", False, (SHMYHAL_SPAN,), (SHMYHAL_SPAN,), "Zelensky", "Denys Shmyhal"),
         "m3": _facts("misattribution", True, (), (SHMYHAL_SPAN,), "Zelensky", "Denys Shmyhal"),
         "o1": _facts("offtopic", True), "o2": _facts("offtopic", False, (SHMYHAL_SPAN,)),
         "a1": _facts("attribution", False, (SHMYHAL_SPAN,), (SHMYHAL_SPAN,))},
        corpus_dir,
    )
    by = dict(zip(["m1", "m2", "m3", "o1", "o2", "a1"], rows))
    assert [by[k]["wrong_speaker"] for k in ("m1", "m2", "m3")] == [1.0, 0.0, 0.0]
    assert all(math.isnan(by[k]["wrong_speaker"]) for k in ("o1", "o2", "a1"))
    # evidence_hit on a misattribution item only when it answers; abstaining is not a miss
    assert by["m1"]["evidence_hit"] == 1.0 and math.isnan(by["m3"]["evidence_hit"])
    # abstention_correct: offtopic must abstain, attribution must answer, misattribution either way
    assert [by["o1"]["abstention_correct"], by["o2"]["abstention_correct"], by["a1"]["abstention_correct"]] == [1.0, 0.0, 1.0]
    assert math.isnan(by["m3"]["abstention_correct"])
    assert math.isnan(by["o1"]["evidence_hit"]) and by["a1"]["evidence_hit"] == 1.0


def test_new_categories_leave_the_answerable_scope_as_it_was():
    def row(category, hit, abstained=None, wrong=None):
        return {"category": category, "scores": {"evidence_hit": hit, "abstention_correct": abstained,
                                                 "wrong_speaker": wrong}}

    rows = [row("figure", 1.0, 1.0), row("position", 0.0, 1.0), row("attribution", 0.0, 1.0),
            row("misattribution", None, None, 1.0), row("misattribution", 1.0, None, 0.0),
            row("unanswerable", None, 1.0), row("offtopic", None, 0.0)]
    s = summarise(rows)
    assert s["answerable"]["evidence_hit"] == {"mean": 0.5, "n": 2}  # figure + position only
    assert s["answerable_all"]["evidence_hit"]["mean"] == pytest.approx(1 / 3)
    assert s["unanswerable_offtopic"]["abstention_correct"] == {"mean": 0.5, "n": 2}
    assert s["misattribution"]["wrong_speaker"] == {"mean": 0.5, "n": 2}
    assert s["offtopic"]["abstention_correct"]["n"] == 1 and "multi_source" not in s
