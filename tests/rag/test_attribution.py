"""Matching an ask against hand-built sentence analyses: speaker, owner, measure, or no answer."""

import pytest

from index.aliases import ActorIndex
from index.analysis import Figure, SentenceAnalysis, Speaker
from rag.attribution import (
    MATCH,
    NO_ACTOR_INFO,
    NO_FIGURE,
    WRONG_MEASURE,
    WRONG_OWNER,
    WRONG_SPEAKER,
    attribute,
    measure_compatible,
    notice,
)
from rag.question import Ask, AskedActor

# "Ukraine would maintain an 800,000-strong peacetime army"
UKRAINE_ARMY = SentenceAnalysis(actors=("Ukraine",), figures=(Figure("800,000", 30, 37, "count", "army", "Ukraine"),))
# "Russia has about 700,000 troops in Ukraine, the Ukrainian commander said"
RUSSIA_TROOPS = SentenceAnalysis(speakers=(Speaker("Oleksandr Syrskyi", "Ukrainian"),), actors=("Russia",),
                                 figures=(Figure("700,000", 20, 27, "count", "troop", "Russia"),))
# "The remaining $60 billion must come from our partners," Shmyhal said
PARTNERS_SHARE = SentenceAnalysis(speakers=(Speaker("Denys Shmyhal", "Ukrainian"),), actors=("partners",),
                                  figures=(Figure("$60 billion", 14, 25, "money", "cost", None),))
# "26 countries pledged to deploy troops"
COUNTRIES = SentenceAnalysis(figures=(Figure("26", 0, 2, "count", "country", None),), actors=("countries",))
# German Defence Minister Boris Pistorius said Europe and the U.S. achieved a common sense of purpose.
PISTORIUS = SentenceAnalysis(speakers=(Speaker("Boris Pistorius", "German"),), actors=("Europe", "U.S."),
                             lemmas=("europe", "achieve", "common", "sense", "purpose"))
# Talks in Berlin ended on Tuesday.
BERLIN_TALKS = SentenceAnalysis(actors=("negotiators",), figures=(Figure("Tuesday", 30, 37, "date"),),
                                lemmas=("talk", "berlin", "end", "tuesday", "negotiator"))
# Russia has rejected the framework, calling it Western-imposed.
RUSSIA_REJECTS = SentenceAnalysis(actors=("Russia",), lemmas=("russia", "reject", "framework", "call", "western"))
# The Kremlin demanded that Ukraine withdraw from the region.
KREMLIN_DEMAND = SentenceAnalysis(speakers=(Speaker("Kremlin"),), actors=("Kremlin",),
                                  lemmas=("kremlin", "demand", "ukraine", "withdraw", "region"))

INDEX = ActorIndex.from_analyses([RUSSIA_TROOPS, PARTNERS_SHARE, PISTORIUS,
                                  SentenceAnalysis(speakers=(Speaker("Volodymyr Zelenskyy", "Ukrainian"),))])


def country(name: str) -> AskedActor:
    return AskedActor(name, INDEX.canonical(name))


def person(name: str) -> AskedActor:
    return AskedActor(name, INDEX.canonical(name), name)


RUSSIA_TROOP_ASK = Ask("How many troops does Russia have in Ukraine?", "figure", country("Russia"), "troop", "count")


def test_russia_troops_question_rejects_ukraines_army():
    result = attribute(RUSSIA_TROOP_ASK, UKRAINE_ARMY, INDEX)
    assert result.verdict == WRONG_OWNER
    assert result.owner == "Ukraine"
    assert not result.answers
    text = notice(RUSSIA_TROOP_ASK, result)
    assert text == "The articles give no troop figure for Russia; the figure they give is for Ukraine:"


def test_russia_troops_question_accepts_russias_troops_even_quoted_by_a_ukrainian():
    result = attribute(RUSSIA_TROOP_ASK, RUSSIA_TROOPS, INDEX)
    assert result.verdict == MATCH and result.figure is not None and result.figure.text == "700,000"
    assert notice(RUSSIA_TROOP_ASK, result) is None


def test_owner_written_as_capital_or_demonym_matches():
    ask = Ask("How big is Ukraine's army?", "figure", country("Ukrainian"), "army", "count")
    assert attribute(ask, UKRAINE_ARMY, INDEX).verdict == MATCH
    kyiv = SentenceAnalysis(figures=(Figure("800,000", 0, 7, "count", "soldier", "Kyiv"),))
    assert attribute(ask, kyiv, INDEX).verdict == MATCH


def test_figure_measuring_another_thing_never_answers():
    ask = Ask("How many countries pledged troops?", "figure", None, "country", "count")
    assert attribute(ask, COUNTRIES, INDEX).verdict == MATCH
    troops = Ask("How many troops will be deployed?", "figure", None, "troop", "count")
    result = attribute(troops, COUNTRIES, INDEX)
    assert result.verdict == WRONG_MEASURE and result.measure == "country"
    assert "no figure for troop" in (notice(troops, result) or "")


def test_figure_of_the_wrong_kind_is_no_figure():
    ask = Ask("What share of GDP should allies give?", "figure", None, "gdp", "percent")
    assert attribute(ask, UKRAINE_ARMY, INDEX).verdict == NO_FIGURE


def test_unowned_money_figure_accepted_when_the_speaker_is_the_asked_country():
    ask = Ask("How much of Ukraine's defence costs must partners cover?", "figure", country("Ukraine"), "cost",
              "money")
    assert attribute(ask, PARTNERS_SHARE, INDEX).verdict == MATCH


def test_unowned_figure_without_the_asked_actor_is_no_actor_info():
    ask = Ask("How many countries did Brazil invite?", "figure", country("Brazil"), "country", "count")
    result = attribute(ask, COUNTRIES, INDEX)
    assert result.verdict == NO_ACTOR_INFO
    assert notice(ask, result) == "The article does not say whether this figure is for Brazil:"


def test_statement_by_another_person_is_wrong_speaker_with_the_real_speaker():
    ask = Ask("What did Zelensky say about NATO membership?", "statement", person("Zelensky"), None, None,
              ("nato", "membership"))
    result = attribute(ask, PISTORIUS, INDEX)
    assert result.verdict == WRONG_SPEAKER
    assert result.speaker == Speaker("Boris Pistorius", "German")
    assert notice(ask, result) == "The articles do not quote Zelensky on this; Boris Pistorius said:"


def test_statement_by_the_asked_person_under_another_spelling_matches():
    ask = Ask("What did Zelensky say?", "statement", person("Zelensky"))
    quoted = SentenceAnalysis(speakers=(Speaker("Volodymyr Zelenskyy", "Ukrainian"),))
    assert attribute(ask, quoted, INDEX).verdict == MATCH


def test_another_official_of_the_same_country_is_not_the_asked_person():
    ask = Ask("What did Zelensky say?", "statement", person("Zelensky"))
    assert attribute(ask, PARTNERS_SHARE, INDEX).verdict == WRONG_SPEAKER


def test_a_countrys_position_is_voiced_by_its_officials_or_told_of_the_country():
    ask = Ask("What is Ukraine's position on ceding territory?", "position", country("Ukraine"), None, None,
              ("cede", "territory"))
    assert attribute(ask, PARTNERS_SHARE, INDEX).verdict == MATCH  # a Ukrainian official speaks
    result = attribute(ask, KREMLIN_DEMAND, INDEX)  # Russia's demand is not Ukraine's position
    assert result.verdict == WRONG_SPEAKER and result.speaker == Speaker("Kremlin")
    assert notice(ask, result) == "The articles do not give the position of Ukraine on this; they report that of Kremlin:"


def test_reaction_by_seat_metonym_or_subject_without_a_quote():
    ask = Ask("How has Moscow responded?", "position", country("Moscow"))
    assert attribute(ask, RUSSIA_REJECTS, INDEX).verdict == MATCH
    assert attribute(ask, KREMLIN_DEMAND, INDEX).verdict == MATCH
    assert attribute(ask, PISTORIUS, INDEX).verdict == WRONG_SPEAKER


def test_sentence_with_no_speaker_or_actor_has_no_actor_info():
    ask = Ask("What did Zelensky say?", "statement", person("Zelensky"))
    assert attribute(ask, SentenceAnalysis(), INDEX).verdict == NO_ACTOR_INFO


def test_weather_question_is_not_answered_by_a_sentence_that_only_mentions_the_city():
    ask = Ask("What is the weather in Berlin this week?", "other", None, "weather", None, ("weather", "berlin"))
    result = attribute(ask, BERLIN_TALKS, INDEX)
    assert result.verdict == WRONG_MEASURE
    assert notice(ask, result) == "The articles do not say anything about weather."
    rainy = SentenceAnalysis(lemmas=("weather", "berlin", "rain"))
    assert attribute(ask, rainy, INDEX).verdict == MATCH


def test_date_question_ignores_measure_but_needs_a_date():
    ask = Ask("When did the talks end?", "figure", None, None, "date")
    assert attribute(ask, BERLIN_TALKS, INDEX).verdict == MATCH
    assert attribute(ask, COUNTRIES, INDEX).verdict == NO_FIGURE


@pytest.mark.parametrize("asked, stated, ok", [
    ("troop", "troop", True), ("troop", "soldier", True), ("nation", "country", True), ("amount", "cost", True),
    (None, "cost", True), ("troop", None, True), ("troop", "country", False), ("tank", "jet", False),
    ("truce", "ceasefire", True),
])
def test_measure_compatibility(asked, stated, ok):
    assert measure_compatible(asked, stated) is ok


def test_to_dict_is_plain_data():
    result = attribute(RUSSIA_TROOP_ASK, UKRAINE_ARMY, INDEX)
    data = result.to_dict()
    assert data["verdict"] == WRONG_OWNER and data["owner"] == "Ukraine" and data["figure"]["text"] == "800,000"


@pytest.mark.parametrize("question, analysis, verdict", [
    ("How many troops does Russia have in Ukraine?", UKRAINE_ARMY, WRONG_OWNER),
    ("How many troops does Russia have in Ukraine?", RUSSIA_TROOPS, MATCH),
    ("How many soldiers does Ukraine have?", UKRAINE_ARMY, MATCH),
    ("What did Zelensky say about NATO membership?", PISTORIUS, WRONG_SPEAKER),
    ("What is Ukraine's position on ceding territory?", KREMLIN_DEMAND, WRONG_SPEAKER),
    ("What is Ukraine's position on ceding territory?", PARTNERS_SHARE, MATCH),
    ("What is the weather in Berlin this week?", BERLIN_TALKS, WRONG_MEASURE),
    ("How did the Kremlin react to the framework?", RUSSIA_REJECTS, MATCH),
    ("What share of GDP should allies commit?", COUNTRIES, NO_FIGURE),
])
def test_from_question_text_to_verdict(question, analysis, verdict):
    from rag.question import analyse_question

    assert attribute(analyse_question(question, INDEX), analysis, INDEX).verdict == verdict


def test_a_sentence_that_only_mentions_the_actor_tells_no_stance():
    # "Negotiators wrapped up talks to end Russia's invasion": Russia is named, its view is not.
    mention = SentenceAnalysis(actors=("Russia's",), lemmas=("negotiator", "wrap", "talk", "end", "invasion"))
    ask = Ask("How has Russia responded?", "position", country("Russia"))
    assert attribute(ask, mention, INDEX).verdict == NO_ACTOR_INFO
    assert attribute(ask, RUSSIA_REJECTS, INDEX).verdict == MATCH  # "rejected" tells a stance


def test_share_written_as_a_fraction_answers_a_share_question():
    ask = Ask("What share of its costs can Chile pay itself?", "figure", country("Chile"), "cost", "percent")
    half = SentenceAnalysis(actors=("Chile",), figures=(Figure("half", 0, 4, "count", None, None),))
    assert attribute(ask, half, INDEX).verdict == MATCH


def test_money_measures_are_matched_loosely_counts_and_shares_strictly():
    assert measure_compatible("wealth", "asset", "money")
    assert measure_compatible("bill", "spending", "money")
    assert measure_compatible("reserve", "budget", "money") is False  # two different known families
    assert measure_compatible("output", "power", "percent")  # one family
    assert measure_compatible("inflation", "gdp", "percent") is False
    assert measure_compatible("tank", "jet", "count") is False


def test_dates_have_no_owner():
    ask = Ask("When did Peru sign the accord?", "figure", country("Peru"), None, "date")
    assert attribute(ask, BERLIN_TALKS, INDEX).verdict == MATCH


def test_a_body_named_short_matches_its_full_name():
    ask = Ask("What did the Commission say?", "statement", AskedActor("Commission", "Commission"))
    quoted = SentenceAnalysis(speakers=(Speaker("Ada Mensah", "European Commission"),))
    assert attribute(ask, quoted, INDEX).verdict == MATCH
    assert not INDEX.same_actor("Commission", "Germany")


def test_names_actor_finds_any_name_standing_for_the_asked_actor():
    from index.aliases import ActorIndex
    from rag.attribution import names_actor
    from rag.question import Ask, AskedActor

    ask = Ask("Which Peruvian firms will build the port?", "other", AskedActor("Peruvian", "Peru", None))
    actors = ActorIndex()
    assert names_actor(ask, "A Lima-based consortium will build it.", actors)
    assert names_actor(ask, "Officials in Peru confirmed the plan.", actors)
    assert not names_actor(ask, "A consortium from Chile will build the port.", actors)


def test_which_party_where_and_how_old_need_a_sentence_naming_one():
    from index.analysis import SentenceAnalysis
    from rag.attribution import MATCH, WRONG_MEASURE, attribute, notice
    from rag.question import analyse_question

    said = SentenceAnalysis(lemmas=("mayor", "say"), entities=(("PERSON", "Ana Ruiz"),))
    party = analyse_question("Which political party does Ana Ruiz lead?")
    assert party.named == "party"
    assert attribute(party, said).verdict == WRONG_MEASURE
    assert "party" in notice(party, attribute(party, said))
    led = SentenceAnalysis(lemmas=("lead",), entities=(("PERSON", "Ana Ruiz"), ("ORG", "the Green Union")))
    assert attribute(party, led).verdict == MATCH

    where = analyse_question("Where in Lima did the council meet?")
    assert where.named == "place within"
    in_lima = SentenceAnalysis(lemmas=("council", "meet"), entities=(("GPE", "Lima"),))
    at_hall = SentenceAnalysis(lemmas=("council", "meet"), entities=(("FAC", "the Old Town Hall"), ("GPE", "Lima")))
    assert attribute(where, in_lima).verdict == WRONG_MEASURE
    assert attribute(where, at_hall).verdict == MATCH
    # Inside a city: a country or another capital named in the sentence is not the place asked for.
    with_chile = SentenceAnalysis(lemmas=("council", "meet"), entities=(("GPE", "Chile"), ("GPE", "Lima")))
    assert attribute(where, with_chile).verdict == WRONG_MEASURE
    anywhere = analyse_question("Where did the council meet?")
    assert anywhere.named == "place"
    assert attribute(anywhere, with_chile).verdict == MATCH

    age = analyse_question("How old is Ana Ruiz?")
    assert age.named == "age"
    assert attribute(age, said).verdict == WRONG_MEASURE
    aged = SentenceAnalysis(lemmas=("mayor",), entities=(("DATE", "58-year-old"),))
    assert attribute(age, aged).verdict == MATCH


def test_a_figure_is_confirmed_only_by_its_measure_and_a_shared_topic_word():
    from index.analysis import Figure, SentenceAnalysis
    from rag.attribution import attribute, confirms
    from rag.question import analyse_question

    ask = analyse_question("How many nations sent aid after the flood?")
    counted = Figure("26 countries", 0, 12, "count", measure="country")
    helped = SentenceAnalysis(figures=(counted,), lemmas=("country", "send", "assistance", "flood"))
    assert confirms(ask, attribute(ask, helped), helped)
    # The same count on another occasion shares no word of the question besides what is counted.
    met = SentenceAnalysis(figures=(counted,), lemmas=("country", "attend", "summit"))
    assert not confirms(ask, attribute(ask, met), met)
    # A count of something else is no match at all.
    troops = SentenceAnalysis(figures=(Figure("26 troops", 0, 9, "count", measure="troop"),), lemmas=("flood",))
    assert not confirms(ask, attribute(ask, troops), troops)


def test_a_notice_names_the_country_a_demonym_stands_for():
    from index.analysis import Speaker
    from rag.attribution import WRONG_SPEAKER, Attribution, notice

    ask = Ask("How does the Peruvian government view the canal deal?", "position", AskedActor("Peruvian", "Peru", None))
    text = notice(ask, Attribution(WRONG_SPEAKER, speaker=Speaker("Ana Ruiz")))
    assert text is not None and "position of Peru " in text and "Peruvian on" not in text
    named = Ask("What did Ana Ruiz say?", "statement", AskedActor("Ana Ruiz", "Peru", "Ana Ruiz"))
    assert "quote Ana Ruiz" in (notice(named, Attribution(WRONG_SPEAKER, speaker=Speaker("Luis Soto"))) or "")
