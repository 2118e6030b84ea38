"""The lexical abstention rules (`rag.answerability`) on a made-up vocabulary."""

from __future__ import annotations

from rag.answerability import unknown_names
from rag.terms import tokenize
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
