"""The general reader (rag/reader.py): answer types from the question word and WordNet, features
on made-up sentences, and the fitted model's contract."""

from __future__ import annotations

import json

import pytest

from index.analysis import SentenceAnalysis
from rag.reader import FEATURES, Reader, ReaderModel, Sources, expected_filler, features
from rag.types import Citation, Evidence


@pytest.mark.parametrize(
    "question, label, absent",
    [
        ("Who founded the Andes Institute?", "PERSON", "DATE"),
        ("When did the bridge over the Rimac open?", "DATE", "PERSON"),
        ("Where was the treaty of Cusco signed?", "GPE", "DATE"),
        ("How many ships did Chile send?", "CARDINAL", "PERSON"),
        ("How much did Peru pay for the port?", "MONEY", "GPE"),
        # "what/which N": WordNet says what kind of thing N is, no list of nouns needed.
        ("In what century did the Incas build Cusco?", "DATE", "PERSON"),
        ("Which leader signed the Lima accord?", "PERSON", "DATE"),
        ("In which region did the battle take place?", "LOC", "PERSON"),
        ("What percentage of voters backed the plan?", "PERCENT", "PERSON"),
    ],
)
def test_expected_filler_reads_the_question_word_and_its_noun(question, label, absent):
    expected = expected_filler(question)
    assert label in expected.labels
    assert absent not in expected.labels


@pytest.mark.parametrize(
    "question",
    ["Why did the talks in Lima fail?", "What did the minister say about the port?", "How did Chile react?"],
)
def test_reason_and_description_questions_expect_no_typed_filler(question):
    assert not expected_filler(question).typed


def _evidence(text: str, score: float = 0.5, i: int = 1) -> Evidence:
    return Evidence(i, Citation("a", "a.txt", 0, len(text), text), score, 0.5, 0.5)


def _sources(entities: dict[str, tuple[tuple[str, str], ...]], before: str = "") -> Sources:
    return Sources(
        analysis_of=lambda e: SentenceAnalysis(entities=entities.get(e.text, ())),
        context_of=lambda e: before,
        threshold_of=lambda e: 0.4,
    )


def test_features_see_a_new_filler_of_the_asked_type_and_the_question_names():
    question = "When did Peru open the port of Callao?"
    dated = "Peru opened the port of Callao in 1850."
    undated = "Peru opened the port of Callao to foreign ships."
    other = "Chile opened a port in 1860."
    entities = {dated: (("GPE", "Peru"), ("DATE", "1850")), undated: (("GPE", "Peru"),), other: (("DATE", "1860"),)}
    rows = features(question, [_evidence(dated), _evidence(undated), _evidence(other)], _sources(entities))
    col = {name: i for i, name in enumerate(FEATURES)}
    assert [r[col["type_asked"]] for r in rows] == [1.0, 1.0, 1.0]
    assert [r[col["type_found"]] for r in rows] == [1.0, 0.0, 1.0]
    # "Peru" and "Callao" are fixed by the question: the Chilean sentence meets neither.
    assert rows[0][col["names_met"]] == 1.0 and rows[2][col["names_met"]] == 0.0
    assert rows[0][col["first"]] == 1.0 and rows[1][col["first"]] == 0.0


def test_a_name_met_only_in_the_sentence_before_counts_as_met():
    question = "How many ships did Chile send?"
    text = "It sent twelve ships."
    alone = features(question, [_evidence(text)], _sources({}))[0]
    with_scene = features(question, [_evidence(text)], _sources({}, before="Chile joined the blockade."))[0]
    names = FEATURES.index("names_met")
    assert alone[names] == 0.0 and with_scene[names] == 1.0


def test_reader_ranks_by_probability_and_answers_only_when_the_choice_clears_its_support():
    # A model that only trusts typed fillers: the second candidate, holding a date, must lead.
    weights = tuple(4.0 if name == "type_found" else 0.0 for name in FEATURES)
    reader = Reader(ReaderModel(weights, -2.0))
    question = "When did Peru open the port?"
    first, second = _evidence("Peru has a port.", 0.9, 1), _evidence("Peru opened the port in 1850.", 0.6, 2)
    sources = _sources({second.text: (("DATE", "1850"),)})
    readings = reader.read(question, [first, second], sources)
    assert readings[0].evidence is second
    assert reader.answers(readings)  # 0.6 clears the 0.4 threshold of `_sources`
    weak = _evidence("Peru opened the port in 1850.", 0.3, 3)
    assert not reader.answers(reader.read(question, [weak], _sources({weak.text: (("DATE", "1850"),)})))


def test_weights_fitted_on_other_features_are_refused(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"features": ["support"], "weights": [1.0], "bias": 0.0}))
    with pytest.raises(ValueError, match="refit"):
        ReaderModel.load(path)


def test_the_shipped_weights_load_and_match_the_features():
    model = ReaderModel.load()
    assert len(model.weights) == len(FEATURES)
    assert any(w != 0.0 for w in model.weights)
