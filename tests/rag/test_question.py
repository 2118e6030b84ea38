"""Question analysis: the asked actor, relation and measure, and splitting two-part questions."""

import pytest

from index.aliases import ActorIndex
from index.analysis import SentenceAnalysis, Speaker
from rag.question import Ask, analyse_question, split_asks

# People as the index would find them in the articles (speakers with title affiliations).
PEOPLE = ActorIndex.from_analyses([SentenceAnalysis(speakers=(
    Speaker("Volodymyr Zelenskyy", "Ukrainian"), Speaker("Donald Trump", "U.S."), Speaker("Ama Mensah", "Ghanaian"),
))])

# question, relation, actor as written, canonical actor, person, measure, kind
CASES = [
    # the four examples that motivated this
    ("How many troops does Russia have in Ukraine?", "figure", "Russia", "Russia", None, "troop", "count"),
    ("What is the weather in Berlin this week?", "other", None, None, None, "weather", None),
    ("What did Zelensky say about NATO membership?", "statement", "Zelensky", "Ukraine", "Volodymyr Zelenskyy",
     None, None),
    ("What is Ukraine's position on ceding territory?", "position", "Ukraine", "Ukraine", None, None, None),
    # positions and reactions
    ("What does Trump think European allies should do about Ukraine?", "position", "Trump", "United States",
     "Donald Trump", None, None),
    ("How has Russia responded to the plan?", "position", "Russia", "Russia", None, None, None),
    ("How did the Kremlin react to the Berlin process?", "position", "Kremlin", "Russia", None, None, None),
    ("How did the Élysée respond to the protests?", "position", "Élysée", "France", None, None, None),
    ("What is Canada's stance on the pipeline?", "position", "Canada", "Canada", None, None, None),
    ("What does Mark Rutte hope the Americans and Europeans can achieve?", "position", "Mark Rutte", "Mark Rutte",
     "Mark Rutte", None, None),
    # statements
    ("What did China's foreign ministry say about the Berlin talks?", "statement", "China", "China", None, None, None),
    ("How did German Foreign Minister Wadephul describe the change in the peace plan?", "statement", "Wadephul",
     "Germany", "Wadephul", None, None),
    ("What did the White House announce on tariffs?", "statement", "White House", "United States", None, None, None),
    ("What did Brazil's president say about the trade deal?", "statement", "Brazil", "Brazil", None, None, None),
    ("What did Mensah warn about the cocoa harvest?", "statement", "Mensah", "Ghana", "Ama Mensah", None, None),
    # figures: counts
    ("How many Russian soldiers are stationed in Crimea?", "figure", "Russian", "Russia", None, "soldier", "count"),
    ("How many countries pledged equipment?", "figure", None, None, None, "country", "count"),
    ("How many tanks has Germany promised to deliver this year?", "figure", "Germany", "Germany", None, "tank",
     "count"),
    ("How many jobs did Kenyan factories add last year?", "figure", "Kenyan", "Kenya", None, "job", "count"),
    ("How big should Ukraine's army be in peacetime?", "figure", "Ukraine", "Ukraine", None, "army", "count"),
    # figures: money
    ("How much of Ukraine's 2026 defence costs must partners cover?", "figure", "Ukraine", "Ukraine", None, "cost",
     "money"),
    ("How much did the United Kingdom pledge in euros for reconstruction?", "figure", "United Kingdom",
     "United Kingdom", None, None, "money"),
    ("How much does Japan pay for the new frigates?", "figure", "Japan", "Japan", None, None, "money"),
    ("What is the value of the Russian sovereign assets frozen in Europe?", "figure", "Russian", "Russia", None,
     "asset", "money"),
    # figures: shares
    ("What share of GDP should allies commit to Ukraine's defence?", "figure", None, None, None, "gdp", "percent"),
    ("What percentage of Germans back sending troops to Ukraine?", "figure", "Germans", "Germany", None, None,
     "percent"),
    ("What is the current inflation rate in Ukraine?", "figure", None, None, None, "inflation", "percent"),
    ("What portion of the draft peace plan had negotiators settled?", "figure", None, None, None, "plan", "percent"),
    # figures: dates and unspecified amounts
    ("When will the ceasefire take effect?", "figure", None, None, None, None, "date"),
    ("Since when has Washington suspended military assistance to Ukraine?", "figure", "Washington", "United States",
     None, None, "date"),
    ("How much gas does Europe still import from Russia?", "figure", "Europe", "Europe", None, "gas", None),
    ("About how many European countries were represented at the talks?", "figure", None, None, None, "country",
     "count"),
    ("What was the attendance at the Coalition of the Willing summit, in number of countries?", "figure",
     None, None, None, "country", "count"),
    ("What did von der Leyen say about the budget?", "statement", "von der Leyen", "von der Leyen",
     "von der Leyen", None, None),
    ("How much of its territory was Peru pressed to give up?", "figure", "Peru", "Peru", None, "territory", None),
    # other
    ("Who will lead the multinational force agreed in Paris?", "other", None, None, None, None, None),
    # the small model reads "did" as the verb and the person as its object
    ("Which country did Ana Ruiz once govern?", "other", "Ana Ruiz", "Ana Ruiz", None, None, None),
]


@pytest.mark.parametrize("question, relation, text, actor, person, measure, kind", CASES,
                         ids=[c[0][:50] for c in CASES])
def test_analyse_question(question, relation, text, actor, person, measure, kind):
    ask = analyse_question(question, PEOPLE)
    assert ask.relation == relation
    if text is None:
        assert ask.actor is None
    else:
        assert ask.actor is not None
        assert (ask.actor.text, ask.actor.canonical, ask.actor.person) == (text, actor, person)
    assert (ask.measure, ask.kind) == (measure, kind)


def test_places_the_question_only_mentions_are_not_the_asked_actor():
    # "in Ukraine", "in Berlin", "to Ukraine" are settings; the subject is who is asked about.
    assert analyse_question("How many troops does Russia have in Ukraine?").actor.canonical == "Russia"
    assert analyse_question("What is the weather in Berlin this week?").actor is None


def test_topic_keeps_what_the_statement_is_about_without_the_actor():
    ask = analyse_question("What did Zelensky say about NATO membership?", PEOPLE)
    assert ask.topic == ("nato", "membership")
    assert "ukraine" not in analyse_question("What is Ukraine's position on ceding territory?").topic


def test_without_corpus_people_a_person_keeps_the_name_as_written():
    ask = analyse_question("What did Okafor say about the election?")
    assert ask.relation == "statement"
    assert ask.actor is not None and ask.actor.person == "Okafor" and ask.actor.canonical == "Okafor"


def test_to_dict_is_plain_data():
    data = analyse_question("How many troops does Russia have in Ukraine?").to_dict()
    assert data["actor"]["canonical"] == "Russia" and data["measure"] == "troop" and data["kind"] == "count"
    assert isinstance(analyse_question("Who won?"), Ask)


@pytest.mark.parametrize("question, parts", [
    ("How many countries pledged equipment, and what did Macron call the Paris meeting?",
     ["How many countries pledged equipment?", "What did Macron call the Paris meeting?"]),
    ("What did Sánchez say about ending the war and how did Russia respond?",
     ["What did Sánchez say about ending the war?", "How did Russia respond?"]),
    ("Who leads the force; who pays for it?", ["Who leads the force?", "Who pays for it?"]),
    ("How much will Japan pay, and did Korea agree?", ["How much will Japan pay?", "Did Korea agree?"]),
    # one ask each: the halves are not both questions
    ("How many and which countries pledged troops?", None),
    ("What did Merz say Germany's contribution would depend on?", None),
    ("Which countries, and how many troops, will be sent?", None),
    ("What did the UK and France agree to build, and when?", None),
    ("What is the role of France and the UK in the force?", None),
])
def test_split_asks(question, parts):
    assert split_asks(question) == (parts or [question])


def test_the_question_parser_uses_the_index_loader_and_its_clear_error(monkeypatch):
    from index.language import pipeline as loader
    from rag import question

    monkeypatch.setattr(loader, "MODEL_PACKAGES", ("no_such_pipeline_xyz",))
    loader.pipeline.cache_clear()
    try:
        with pytest.raises(loader.ParserMissing, match="no_such_pipeline_xyz.*pip install"):
            question.parse("What happened?")
    finally:
        loader.pipeline.cache_clear()


def test_a_title_names_the_asked_actor_and_is_not_the_topic():
    ask = analyse_question("What does the Peruvian prime minister think 2030 could bring?")
    assert ask.actor is not None and ask.actor.canonical == "Peru"
    assert ask.actor_words == ("Peruvian", "prime", "minister")
    assert ask.topic == ("2030", "bring")
    owner = analyse_question("What does Peru's defence minister see as the most urgent need?")
    assert owner.actor_words == ("Peru", "defence", "minister")
    # A noun that is no title stays the topic: "Peru's canal plan" is about the canal plan.
    plain = analyse_question("What did Peru say about Chile's canal plan?")
    assert "plan" in plain.topic and plain.actor_words == ("Peru",)


def test_according_to_someone_asks_what_they_said():
    ask = analyse_question("What is the canal meant to prevent, according to the Chilean president?")
    assert ask.relation == "statement"
    assert ask.actor is not None and ask.actor.canonical == "Chile"
    assert ask.actor_words == ("Chilean", "president")
    assert "president" not in ask.topic


@pytest.mark.parametrize("question", ["What part of Estrava did the settlers farm?", "What part did Ada Linnet play?"])
def test_what_part_asks_for_a_region_or_a_role_not_a_share(question):
    ask = analyse_question(question)
    assert ask.kind is None and ask.relation != "figure"
    assert analyse_question("What portion of Estrava's land did the settlers farm?").kind == "percent"


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Who should carry most of the cost of the new bridge?", None),
        ("What did the mayor say about funding for the schools?", None),
        ("How did the minister sum up the budget talks?", None),
        ("Which companies will fund the rebuilding?", None),
        ("What motive lay behind the council's decision to freeze the funds?", None),
        ("Who was the leader when the rebels entered the valley?", None),
        ("What did the mayor say about when the bridge opens?", None),
        ("What is the size of the city's projected budget for 2027?", "money"),
        ("What yearly bill does the council foresee?", "money"),
        ("What budget did the ministry set?", "money"),
        # An amount of something that is no kind of figure: the parse's reading, not the cue's share.
        ("How much of the forest burned?", None),
        ("When did the bridge open?", "date"),
        ("Since when has the border been closed?", "date"),
    ],
)
def test_one_reading_of_the_figure_asked_for(question, kind):
    """`Ask.kind` is the only figure-kind reading: the parse's, else the wording's cue phrase. Words
    that name money ("funding", "funds") ask for no sum; "when" inside a question asks for no date."""
    assert analyse_question(question).kind == kind


@pytest.mark.parametrize("question, named", [
    ("Which city hosted the fair?", "city"),
    ("In which Velmoran city are the archives kept?", "city"),
    ("From what country did the settlers come?", "country"),
])
def test_the_question_word_may_follow_a_preposition(question, named):
    assert analyse_question(question).named == named
