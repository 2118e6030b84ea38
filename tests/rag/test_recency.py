"""Dates in answers, on hand-made evidence: "latest" questions lead with the newest dated sentence
that answers; conflict sides go in date order, the older figure superseded; nodes carry the date."""

from __future__ import annotations

from dataclasses import replace

import pytest

from index.documents import Document
from rag.agreement import by_date
from rag.integrations.llama_index import citation_node
from rag.recency import asks_latest, dated, newest_first
from rag.spans import cite
from rag.types import Answer, Conflict, Evidence, Side, day_label


def evidence(*rows: tuple[str, float, str]) -> list[Evidence]:
    """(doc id, score, published) -> numbered evidence, one sentence a document."""
    out = []
    for i, (doc_id, score, published) in enumerate(rows, 1):
        doc = Document(doc_id, f"{doc_id}.jsonl#1", f"Sentence of {doc_id}.", published=published, entry="1")
        out.append(Evidence(i, cite(doc, 0, len(doc.text)), score))
    return out


@pytest.mark.parametrize(
    "question, latest",
    [
        ("What is the latest estimate?", True),
        ("What is the current figure?", True),
        ("How many are there now?", True),
        ("What is the most recent count?", True),
        ("Who knows what happened?", False),
        ("What did the minister say in March?", False),
        ("Which currency is used?", False),  # "current" only as a word
    ],
)
def test_the_words_that_ask_for_the_latest(question, latest):
    assert asks_latest(question) == latest


def test_a_latest_question_leads_with_the_newest_dated_sentence_that_answers():
    found = evidence(("old", 0.80, "2025-12-03"), ("new", 0.72, "2025-12-10"), ("undated", 0.79, ""))
    ordered = newest_first(found, threshold=0.5, latest=True)
    assert [e.citation.doc_id for e in ordered] == ["new", "old", "undated"]
    assert [e.id for e in ordered] == [1, 2, 3]
    assert newest_first(found, threshold=0.5, latest=False) == found  # no "latest": unchanged


def test_a_newer_sentence_that_does_not_answer_does_not_lead():
    below_threshold = evidence(("old", 0.80, "2025-12-03"), ("new", 0.40, "2025-12-10"))
    assert newest_first(below_threshold, 0.5, latest=True)[0].citation.doc_id == "old"
    far_below_best = evidence(("old", 0.90, "2025-12-03"), ("new", 0.60, "2025-12-10"))
    assert newest_first(far_below_best, 0.5, latest=True)[0].citation.doc_id == "old"


def test_the_answer_names_the_date_of_its_lead():
    (lead,) = [e.citation for e in evidence(("new", 0.8, "2025-12-10"))]
    answer = Answer("What is the latest figure?", "It is 5.", (lead,), False, "extractive")
    assert dated(answer, latest=asks_latest(answer.question)).text == "As of 10 Dec 2025 (the newest dated source): It is 5."
    assert dated(answer, latest=asks_latest("What is the figure?")).text == "It is 5."
    assert day_label("2025-01-02") == "2 Jan 2025" and day_label("") == ""


def side(number: int, value: str, published: str) -> Side:
    (c,) = [e.citation for e in evidence((f"d{number}", 0.8, published))]
    return Side(f"Source {number}", value, number, c, published)


def test_conflict_sides_go_in_date_order_and_a_later_day_supersedes():
    c = by_date(Conflict("cost", "Portugal", "2026", side(1, "$55 million", "2025-12-10"), side(2, "$40 million", "2025-12-03")))
    assert (c.first.number, c.second.number) == (2, 1) and c.superseded
    assert c.text == (
        "Revised: on 3 Dec 2025 Source 2 said $40 million [2]; on 10 Dec 2025 Source 1 said $55 million [1], "
        "the newer figure (the older one is superseded)"
    )
    assert c.to_dict()["newer"] == 1 and c.to_dict()["superseded"] is True


@pytest.mark.parametrize(
    "first, second", [("2025-12-10", "2025-12-10"), ("2025-12-10", ""), ("", ""), ("2025-12-10", "last Tuesday")]
)
def test_same_day_or_undated_sides_stay_a_difference_between_sources(first, second):
    c = by_date(Conflict("cost", "Portugal", "2026", side(1, "$55 million", first), side(2, "$40 million", second)))
    assert not c.superseded and c.text.startswith("Sources differ: ")
    assert c.to_dict()["newer"] is None


def test_citations_and_llama_index_nodes_carry_the_date():
    (c,) = [e.citation for e in evidence(("d", 0.8, "2025-12-03"))]
    assert c.to_dict()["published"] == "2025-12-03"
    node = citation_node(c).node
    assert node.metadata["published"] == "2025-12-03"
    assert "published" not in node.excluded_llm_metadata_keys  # a prompt shows the date


def test_a_later_same_story_retelling_leads_a_latest_question():
    """A follow-up article retelling the story with a revised figure can be folded into the older
    sentence as its corroboration (rag/dedup.py); for "latest" the later telling leads."""
    old, new = (e.citation for e in evidence(("old", 0.8, "2025-12-03"), ("new", 0.8, "2025-12-10")))
    (folded,) = evidence(("old", 0.8, "2025-12-03"))
    folded = replace(folded, citation=replace(old, corroborated_by=(new,)))
    (lead,) = newest_first([folded], threshold=0.5, latest=True)
    assert lead.citation.doc_id == "new" and [c.doc_id for c in lead.citation.corroborated_by] == ["old"]
    assert newest_first([folded], threshold=0.5, latest=False) == [folded]
