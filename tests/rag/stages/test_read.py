"""The read stage alone: the question is read once into a `Question`, the follow-up's query too."""

import pytest

from index.errors import QuestionError
from rag.stages.read import asks, check_k, check_question, query_of, read


def test_a_question_is_read_once_with_its_kind_names_and_query(engine):
    question = read("How many troops does Russia have in Ukraine?", (), engine.facts)
    assert question.ask.relation == "figure" and question.kind == "count"
    assert question.names == ("Russia", "Ukraine")
    assert not question.follow_up and question.query.text == question.text
    assert question.query.ask is question.ask and "<count>" in question.query.terms[-1]
    assert not question.latest and question.day is None


def test_the_recency_cues_are_read_with_the_question(engine):
    question = read("What is the latest figure Merz gave on 3 December?", (), engine.facts)
    assert question.latest and question.day == (12, 3, None)


def test_a_follow_up_is_searched_with_the_previous_question_and_keeps_its_own_names(engine):
    question = read("and what about Germany?", ["Who will contribute troops to the force?"], engine.facts)
    assert question.follow_up and question.query.text.startswith("Who will contribute troops")
    assert question.names == ("Germany",) and question.query.kind is None


def test_reading_refuses_what_cannot_be_asked():
    assert check_question("  Who leads?  ", 100) == "Who leads?"
    with pytest.raises(QuestionError):
        check_question(" ", 100)
    with pytest.raises(QuestionError):
        check_k(-1)
    assert len(asks("How many troops will deploy, and what did Macron call the plan?")) == 2
    assert query_of("What share of GDP?").kind == "percent"


@pytest.mark.parametrize("text", [
    "What budget did the ministry set for 2027?",  # the parse reads a sum; no cue phrase asks one
    "What motive lay behind the decision to freeze the funds?",  # a money word, no sum asked
    "Who was the leader when the rebels entered the valley?",  # "when" inside, no date asked
])
def test_every_stage_gets_the_one_figure_kind_reading(engine, text):
    question = read(text, (), engine.facts)
    assert question.kind == question.ask.kind == question.query.kind
    assert [t for t in question.query.terms if t.startswith("<")] == ([f"<{question.kind}>"] if question.kind else [])
