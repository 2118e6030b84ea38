"""Actor aliases: general country data (demonyms, capitals, seats) plus people read from analyses."""

import pytest

from index.aliases import (
    ActorIndex,
    Person,
    canonical,
    clean_name,
    fold_key,
    general_actor,
    is_country_or_body,
)
from index.analysis import SentenceAnalysis, Speaker


@pytest.mark.parametrize("names, actor", [
    (["Ukraine", "Ukrainian", "Ukrainians", "Kyiv", "Kyiv's", "Ukraine’s"], "Ukraine"),
    (["Russia", "Russian", "Russia's", "Moscow", "the Kremlin", "Kremlin’s", "Russian Federation"], "Russia"),
    (["United States", "U.S.", "US", "USA", "American", "Americans", "Washington", "the White House",
      "U.S.-led", "America"], "United States"),
    (["United Kingdom", "UK", "U.K.", "Britain", "British", "London", "Downing Street"], "United Kingdom"),
    (["Germany", "German", "Germans", "Berlin"], "Germany"),
    (["France", "French", "Paris", "Élysée", "the Elysee"], "France"),
    (["Japan", "Japanese", "Tokyo"], "Japan"),
    (["Brazil", "Brazilian", "Brasília"], "Brazil"),
    (["Kenya", "Kenyan", "Nairobi"], "Kenya"),
    (["Türkiye", "Turkey", "Turkish", "Ankara"], "Turkey"),
    (["NATO", "Nato", "NATO-style", "North Atlantic Treaty Organization"], "NATO"),
    (["EU", "European Union"], "European Union"),
    (["European", "Europeans", "Europe"], "Europe"),
])
def test_general_names_resolve_to_one_actor(names, actor):
    assert {general_actor(n) for n in names} == {actor}


def test_brief_example_demonym_country_and_capital_are_equal():
    assert canonical("Ukrainian") == canonical("Ukraine") == canonical("Kyiv") == "Ukraine"


def test_codes_only_in_capitals_so_pronouns_are_not_countries():
    assert general_actor("US") == "United States"
    assert general_actor("us") is None
    assert general_actor("IT") is None  # two-letter ISO codes are words too ("IT", "IN", "AI")
    assert general_actor("AI") is None


def test_a_country_body_or_people_is_not_a_city_but_a_capital_is():
    assert all(map(is_country_or_body, ["Peru", "U.S.", "EU", "Chilean"]))
    assert not any(map(is_country_or_body, ["Lima", "Santiago", "Washington", "Cusco"]))


def test_French_is_france_not_a_french_territory():
    # Several entries share the demonym "French"; the most populous one wins.
    assert general_actor("French") == "France"
    assert general_actor("Chinese") == "China"


def test_unknown_names_come_back_cleaned_and_compare_equal():
    index = ActorIndex()
    assert index.canonical("the Kiel Institute's") == "Kiel Institute"
    assert index.same_actor("Kiel Institute", "the Kiel Institute’s")
    assert not index.same_actor("Kiel Institute", "Ukraine")
    assert general_actor("") is None


def test_fold_key_and_clean_name():
    assert fold_key("the U.S.’s") == "us"
    assert fold_key("Élysée") == "elysee"
    assert clean_name("the Kremlin's") == "Kremlin"
    assert clean_name("NATO-style") == "NATO"


def _made_up_article() -> list[SentenceAnalysis]:
    """Speakers as index/speakers.py would find them in an invented article about Freedonia and Chile."""
    return [
        SentenceAnalysis(speakers=(Speaker("Maria Okonkwo-Vance", "Chilean"),)),
        SentenceAnalysis(speakers=(Speaker("Okonkwo-Vance"),)),  # later mention, no title
        SentenceAnalysis(speakers=(Speaker("Tomasz Wielgosz", "Polish"),), actors=("Poland",)),
        SentenceAnalysis(speakers=(Speaker("Tomasz Wielgosz", "Polish"),)),
        SentenceAnalysis(speakers=(Speaker("Tomasz Wielgosz", "NATO"),)),  # the minority affiliation loses
        SentenceAnalysis(speakers=(Speaker("Anna Lindqvist", "the Kiel Institute"),)),
        SentenceAnalysis(speakers=(Speaker("Russia"),)),  # a country speaking is not a person
        SentenceAnalysis(speakers=(Speaker("Kenji Sato", "Japanese"), Speaker("Hiro Sato", "Brazilian"))),
    ]


def test_people_resolve_by_full_name_surname_and_spelling_variant():
    index = ActorIndex.from_analyses(_made_up_article())
    assert index.canonical("Maria Okonkwo-Vance") == "Chile"
    assert index.canonical("Okonkwo-Vance") == "Chile"
    assert index.canonical("Wielgosz") == "Poland"
    assert index.canonical("Wielgoszz") == "Poland"  # a close spelling of a known surname
    assert index.canonical("Tomasz Wielgosz's") == "Poland"
    assert index.same_actor("Wielgosz", "Warsaw")
    assert index.same_actor("Lindqvist", "Kiel Institute")
    assert index.person("Wielgosz") == Person("Tomasz Wielgosz", "Poland")


def test_country_speakers_are_not_people_and_shared_surnames_are_ambiguous():
    index = ActorIndex.from_analyses(_made_up_article())
    assert index.person("Russia") is None
    assert index.person("Sato") is None  # two Satos with different countries
    assert index.canonical("Kenji Sato") == "Japan"
    assert index.canonical("Hiro Sato") == "Brazil"
    assert index.person("Kenji Wielgosz") is None  # a known surname with another given name


def test_same_person_by_surname_and_spelling_without_corpus_people():
    index = ActorIndex()
    assert index.same_person("Okonkwo", "Ada Okonkwo")
    assert not index.same_person("Okonkwo", "Ada Mensah")


def test_same_person_across_spellings_with_corpus_people():
    index = ActorIndex.from_analyses([SentenceAnalysis(speakers=(Speaker("Volodymyr Zelenskyy", "Ukrainian"),))])
    assert index.same_person("Zelensky", "Volodymyr Zelenskyy")
    assert index.canonical("Zelensky") == "Ukraine"
    assert not index.same_person("Zelensky", "Friedrich Merz")


def test_bare_surname_seen_first_joins_the_full_name_and_groups_are_not_people():
    index = ActorIndex.from_analyses([
        SentenceAnalysis(speakers=(Speaker("Okonkwo"),)),
        SentenceAnalysis(speakers=(Speaker("Ada Okonkwo", "Nigerian"),)),
        SentenceAnalysis(speakers=(Speaker("Chilean officials", "Chilean"),)),
        SentenceAnalysis(speakers=(Speaker("Ana von der Berg", "Dutch"),)),
    ])
    assert index.person("Okonkwo") == Person("Ada Okonkwo", "Nigeria")
    assert index.person("Okonkwoh") == Person("Ada Okonkwo", "Nigeria")
    assert index.person("Chilean officials") is None
    assert index.canonical("von der Berg") == "Netherlands"


def test_missing_country_data_is_a_clear_error(monkeypatch):
    import sys

    from index import aliases

    aliases.general_actor("Japan")  # loaded once before, as in a running program
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "countryinfo", None)  # the import now fails
        aliases.general_aliases.cache_clear()
        with pytest.raises(aliases.AliasDataError, match="countryinfo.*pip install"):
            aliases.general_actor("Japan")
    aliases.general_aliases.cache_clear()
    assert aliases.general_actor("Japan") == "Japan"
