"""The lexical abstention rules (`rag.answerability`) on a made-up vocabulary."""

from __future__ import annotations

from rag.answerability import unknown_names
from index.terms import tokenize
from rag.thesaurus import wordnet

VOCABULARY = frozenset(tokenize("Peru spends a share of its economic output on the canal, Ana Ruiz said in Lima."))


def test_an_abbreviation_of_a_common_concept_is_a_term_not_an_unknown_name():
    # The article says "economic output"; whether that answers is the support score's call.
    assert unknown_names("What share of GDP does Peru spend on the canal?", VOCABULARY) == []
    assert unknown_names("How much VAT does Peru charge?", VOCABULARY) == []


def test_abbreviations_and_names_of_bodies_places_and_people_stay_names():
    assert unknown_names("What did the CIA say about the canal?", VOCABULARY) == ["CIA"]
    assert unknown_names("What did NATO say about Lima?", VOCABULARY) == ["NATO"]
    assert unknown_names("What did Paris say about Peru?", VOCABULARY) == ["Paris"]
    assert unknown_names("What did Tomas Vega say about GDP?", VOCABULARY) == ["Tomas Vega"]


def test_wordnet_tells_concepts_from_names():
    known = wordnet()
    assert known.names_only_concepts("GDP") and known.names_only_concepts("gnp")
    assert not known.names_only_concepts("NATO")  # an organisation
    assert not known.names_only_concepts("Venezuela")  # a place (an instance)
    assert not known.names_only_concepts("CEO")  # a person
    assert not known.names_only_concepts("Okonkwo")  # not in WordNet at all


def _ev(i: int, text: str, published: str = ""):
    from rag.types import Citation, Evidence

    return Evidence(i, Citation("a", "a.txt", 0, len(text), text, published=published), 0.5)


def test_a_year_in_the_question_must_be_the_sentences_year_or_its_settings():
    from rag.answerability import meeting_period

    costs_2026 = _ev(1, "Chile put its port costs at $30 million for 2026.")
    costs_2025 = _ev(2, "The port cost Chile $25 million in 2025.")
    undated = _ev(3, "The port's costs are rising.")
    scene = _ev(4, "It will cost $12 million.")  # its year is in the sentence before
    before = {4: "The new quay opens in 2025."}
    kept = meeting_period([costs_2026, costs_2025, undated, scene], "What were Chile's port costs in 2025?",
                          lambda e: before.get(e.id, ""))
    assert [e.text for e in kept] == [costs_2025.text, undated.text, scene.text]
    assert [e.id for e in kept] == [1, 2, 3]  # renumbered
    assert meeting_period([costs_2026], "What are Chile's port costs?", lambda e: "") == [costs_2026]


def test_next_year_is_read_against_the_articles_date():
    from rag.answerability import meeting_period
    from rag.periods import periods_in

    assert periods_in("It will cost $30 million next year.", "2025-06-02") == {(2026, 2026)}
    assert periods_in("It will cost $30 million next year.", "") == set()  # no date: no year
    dated = _ev(1, "It will cost $30 million next year.", published="2025-06-02")
    assert meeting_period([dated], "What will it cost in 2025?", lambda e: "") == []
    assert meeting_period([dated], "What will it cost in 2026?", lambda e: "") == [dated]


def test_a_decade_or_century_asked_is_met_by_a_year_inside_it():
    from rag.answerability import meeting_period

    raid = _ev(1, "The fleet raided the coast in 1072, burning two ports.")
    treaty = _ev(2, "The treaty, which began in 911 as a truce, ended the raids.")
    songs = _ev(3, "Its songs were sung in the 1990s at every festival.")
    undated = _ev(4, "The fleet was feared along the whole coast.")
    all_four = [raid, treaty, songs, undated]
    century = meeting_period(all_four, "Who raided the coast in the 10th century?", lambda e: "")
    assert [e.text for e in century] == [treaty.text, undated.text]  # 911 is in it, 1072 is not
    eleventh = meeting_period(all_four, "Who raided the coast in the 1000s?", lambda e: "")
    assert [e.text for e in eleventh] == [raid.text, undated.text]
    decade = meeting_period(all_four, "What was sung in the 1990s?", lambda e: "")
    assert [e.text for e in decade] == [songs.text, undated.text]


def test_periods_read_years_decades_and_centuries_but_not_other_numbers():
    from rag.periods import overlap, periods_in

    assert periods_in("in the 10th century and the eleventh century") == {(900, 1000), (1000, 1100)}
    assert periods_in("in the 1100s, then the 1990's") == {(1100, 1199), (1990, 1999)}
    assert periods_in("began in 911 as a fiefdom") == {(911, 911)}
    assert periods_in("an army of 30,000 men, $1500 and 2,026 ships, 911 of them new") == set()
    assert periods_in("up 2026.5 points, 1999% more") == set()
    assert overlap({(900, 1000)}, {(911, 911)}) and not overlap({(900, 1000)}, {(1072, 1072)})
