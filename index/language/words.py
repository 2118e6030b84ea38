"""Every word list the house reads English with, once: general vocabulary, never a corpus' names.

Why one module: the same verbs were written out in the index's sentence analysis, the question
reader, citation verification and attribution, and the copies drifted. Lists that mean different
things to their callers stay separate and named, and a list that extends another is written as
the base plus its extension, so each caller reads exactly the words it always read; widening any
list changes answers (and for the index's lists, the stored analysis: `index.analysis.ANALYSIS_VERSION`).

Words are lemmas unless a list says otherwise; British and American spellings both.
"""

from __future__ import annotations

# -- speech and stance ------------------------------------------------------------------------------

# Reporting verbs that report whatever follows them ("X stated following the meeting that ...").
ALWAYS_REPORTING = frozenset({"say", "state", "tell", "declare"})
# Verbs of speech proper: "X said ..." must cite a sentence X speaks (rag/verify.py).
SPEECH_VERBS = ALWAYS_REPORTING | frozenset("add warn stress insist claim argue assert write explain".split())
# Verbs that report speech or a stated position in a sentence (index sentence analysis: speakers).
REPORTING_VERBS = SPEECH_VERBS | frozenset(
    "note announce describe reveal acknowledge admit confirm deny emphasise emphasize highlight underline "
    "underscore signal indicate predict reiterate caution characterise characterize comment suggest remark "
    "recall respond reply ask urge call express portray tout concede complain brief mention observe "
    "estimate forecast report cite".split()
)
# Irregular forms of reporting verbs; regular ones are found by stripping "-s", "-ed", "-d", "-ied".
IRREGULAR_REPORTING_FORMS = {"said": "say", "says": "say", "told": "tell", "wrote": "write", "written": "write"}
# Reporting verbs that may follow a quote with the speaker after them (", said X"); "X told Y" or
# "X warned Y" name the listener after the verb, so those are not read that way.
INVERTING_VERBS = frozenset("say add write note explain continue".split())
# Written forms, not lemmas, by which a text presents someone as its source (eval/answer_facts.py
# reads answers with them, no parse).
ATTRIBUTING_FORMS = tuple(
    "said says say saying told tells stated states stating described describes called calls noted notes argued "
    "argues warned warns stressed stresses emphasised emphasized added revealed highlighted remarked insisted "
    "declared announced asserted explained urged reaffirmed signalled signaled indicated expressed predicted "
    "claimed believe believes think thinks".split()
)
# Verbs a question uses to ask what someone said (rag/question.py: the `statement` relation).
STATEMENT_VERBS = frozenset(
    "say announce warn tell state claim call describe add note insist stress emphasise emphasize declare write "
    "argue comment mention urge suggest sum summarise summarize propose explain reply confirm deny admit predict ask "
    "demand pledge promise vow threaten accuse criticise criticize praise characterise characterize label".split()
)
# Verbs a question uses to ask what someone thinks or did in response (the `position` relation).
POSITION_VERBS = frozenset(
    "think believe feel want hope expect respond react view see consider oppose support favour favor stand "
    "seek prefer fear reject accept welcome regard plan intend judge assess evaluate".split()
)
# "Is X willing to ...", "Was X satisfied with ...": a stance asked with an adjective.
POSITION_ADJECTIVES = frozenset(
    "willing ready prepared satisfied opposed open keen reluctant eager happy unwilling dissatisfied".split()
)
POSITION_NOUNS = frozenset(
    "position stance view opinion response reaction attitude stand take thinking assessment verdict "
    "objection demand goal aim".split()
)
# Lemmas by which a sentence tells someone's stance without quoting them (rag/attribution.py).
STANCE_WORDS = frozenset(
    "say state tell announce reject dismiss oppose opposition welcome accept insist insistence demand call "
    "position stance view willingness unwillingness refuse refusal support back favour favor agree disagree "
    "warn criticise criticize condemn deny respond response react reaction urge hope want seek believe think "
    "consider argue object objection propose proposal endorse praise signal indicate express vow pledge "
    "promise threaten claim suggest expect fear".split()
)
# "How did X describe Y?", "What term did X use?": the answer is X's own wording, best a quotation.
WORDING_VERBS = frozenset("describe call term characterize characterise label dub brand".split())
WORDING_NOUNS = frozenset("term word words phrase expression label description".split())
# "What happened in X?"
HAPPEN_VERBS = frozenset("happen occur unfold".split())

# -- people, names and actors -----------------------------------------------------------------------

# Words that title a person ("Defense Minister X", "X, the German chancellor"), by lemma.
TITLE_WORDS = frozenset(
    "president minister secretary chancellor premier prime general commander envoy ambassador spokesperson "
    "spokesman spokeswoman chief director governor mayor senator representative king queen pope commissioner "
    "chair chairman chairwoman ceo head leader deputy official adviser advisor diplomat lawmaker "
    "general-secretary secretary-general vice-president".split()
)
# Ministries and portfolios: "Defense" in "Defense Minister X" is not who X works for.
PORTFOLIOS = frozenset(
    "defense defence foreign finance interior home justice health trade economy economic energy environment "
    "education state treasury affairs development industry agriculture transport labour labor security".split()
)
# Lower-case words inside personal names ("Ada von der Berg") that the index's name chains take in.
CHAIN_NAME_PARTICLES = frozenset("von der van de den da di du la le bin al ibn".split())
# All lower-case words that belong inside personal names ("Abu Bakr al-..."), for names read from
# text or questions with patterns (index/aliases.py, rag/verify.py, rag/question.py).
NAME_PARTICLES = CHAIN_NAME_PARTICLES | frozenset("del della ben dos das y".split())
# Nouns naming actors themselves: in "30 Western countries" the adjective describes, it does not own.
ACTOR_NOUNS = frozenset("country nation state government ally partner member leader official".split())
# The index's analysis also counts groups of people as actors ("Ukrainian citizens").
ACTOR_NOUNS_IN_TEXT = ACTOR_NOUNS | frozenset("people citizen delegation".split())
# A question also counts office holders and bodies ("how many Chilean firms").
ACTOR_NOUNS_IN_QUESTIONS = ACTOR_NOUNS | frozenset("minister party company firm".split())
PERSON_PRONOUNS = frozenset({"he", "she", "him", "her"})
GROUP_PRONOUNS = frozenset({"they", "them"})
POSSESSIVE_PRONOUNS = frozenset({"its", "their", "his", "her"})
# "Which city / town / capital ...?": the answer names a city, which a country's name is not.
CITY_NOUNS = frozenset("city town capital".split())

# -- figures and what they measure ------------------------------------------------------------------

# Nouns that only scale another ("a level of 800,000", "a total of 30"): the measure is further out.
SCALE_NOUNS = frozenset(
    "level total amount number figure sum size strength count share portion percent percentage % $ € £".split()
)
# Currency names: a count of these is a sum of money.
CURRENCY_NOUNS = frozenset(
    "dollar euro pound sterling yen yuan renminbi rouble ruble rupee franc krona krone zloty hryvnia lira "
    "peso real rand won shekel dinar dirham riyal forint leu lev".split()
)
# Nouns a question asks an amount of money with ("what is the cost", "how much aid").
AMOUNT_NOUNS = frozenset("amount sum value cost price".split())
# Help that is money when asked "how much", but an aid package when asked "what is the ...".
AID_NOUNS = frozenset("support aid assistance package".split())
MONEY_NOUNS = (
    AMOUNT_NOUNS
    | AID_NOUNS
    | frozenset(
        "money budget bill fund funding spending expenditure loan debt payment contribution investment revenue "
        "salary wage fee tax subsidy pledge grant asset cash financing".split()
    )
)
MONEY_VERBS = frozenset(
    "pay cost spend fund cover contribute allocate pledge lend borrow give raise owe invest donate earn charge".split()
)
# Nouns after "what" that make a question ask for a share. Not "part": "What part of France ...?"
# asks for a region, "What part did X play?" for a role.
SHARE_NOUNS = frozenset("share percentage percent proportion portion fraction rate".split())
DATE_NOUNS = frozenset("date day year month time week decade".split())
COUNT_NOUNS = frozenset({"number"})
SIZE_ADJECTIVES = frozenset("big large strong small".split())
# "what is the size of X", "what troop strength": the figure is X's count or amount.
SIZE_NOUNS = frozenset("size strength scale".split())
# An asked measure this general fits any figure of the asked kind.
GENERIC_MEASURES = frozenset("amount number figure total sum value quantity size level".split())
# Words that name the same kind of thing counted.
MEASURE_FAMILIES: tuple[frozenset[str], ...] = tuple(
    frozenset(f.split())
    for f in (
        "troop soldier army force personnel serviceman servicemen serviceman military strength fighter",
        "country nation state ally partner member government participant signatory",
        "cost spending expenditure budget bill expense price need",
        "aid assistance support help funding fund contribution pledge package money financing",
        "gdp output economy product power income",
        "person people civilian resident citizen inhabitant",
        "death casualty fatality dead killed",
        "territory land area region soil ground",
        "part component element pillar piece section plank",
        "asset wealth reserve holding property fund",
    )
)
# Nouns that ask for the answer rather than name a thing: "What was the name / type / meaning of X?"
FILLER_NOUNS = frozenset("name type kind sort form meaning".split())
# What "which X" asks to be named, by the kind of named entity (spaCy label) that names an X.
NAMED_NOUNS = {
    "ORG": "party company firm group organisation organization institute institution agency bank union "
    "alliance bloc newspaper outlet ministry",
    "GPE": "country nation city town capital region province",
    "PERSON": "person leader official politician",
}

# Number words whose position is their value ("zero" is 0, "nineteen" 19), and the tens from twenty.
SMALL_NUMBER_WORDS = tuple(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()
)
TENS_WORDS = tuple("twenty thirty forty fifty sixty seventy eighty ninety".split())
# Ordinal words whose position is their value ("tenth" is 10): "the tenth century".
ORDINAL_WORDS = tuple(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split()
)

# -- search terms ----------------------------------------------------------------------------------

# British spellings searched as the American ones.
SPELLING_VARIANTS = {"defence": "defense", "favour": "favor", "programme": "program", "labour": "labor"}
# Irregular verb forms the search stemmer (Porter) cannot join to their base ("led" vs "lead").
IRREGULAR_PAST_FORMS = {
    "led": "lead",
    "held": "hold",
    "met": "meet",
    "took": "take",
    "gave": "give",
    "made": "make",
    "sought": "seek",
    "sent": "send",
    "spent": "spend",
    "paid": "pay",
    "won": "win",
    "told": "tell",
    "brought": "bring",
    "began": "begin",
    "chose": "choose",
    "drew": "draw",
    "fought": "fight",
}
# Words the search terms drop besides the standard English stopwords (index/terms.py).
SEARCH_STOPWORDS = frozenset(
    {"also", "would", "could", "said", "say", "says", "according", "one", "much", "many", "whose"}
)

# -- function words --------------------------------------------------------------------------------

WH_WORDS = frozenset("what how who whom whose which when where why".split())
BE_FORMS = frozenset("is are was were".split())
# First words of a yes/no question.
YES_NO_STARTS = BE_FORMS | frozenset("has have had does do did will would can could should".split())
# "What happened in / at / to X?"
HAPPENED_AT_PREPS = frozenset("in at to on with".split())
# What a question may open with, capitalised, that is no name: "Is", "According to", "Tell me".
QUESTION_OPENERS = (
    WH_WORDS | YES_NO_STARTS | frozenset("in on according under after before and but so tell give list name".split())
)
# "What / which N is ...": the question's verb, where the search for its noun N stops.
QUESTION_AUXILIARIES = BE_FORMS | frozenset("do does did has have had can will".split())
# Nouns that ask for a share ("what share of ..."): fewer than SHARE_NOUNS, since "part", "portion"
# or "rate" in a question ("what part of the country") seldom asks for a percentage.
SHARE_ASKING_NOUNS = frozenset("percent percentage share proportion fraction".split())
# Prepositions before where / when something is ("in Paris", "on Monday"): a question about the
# place or time drops them with the answer ("When was X signed?" from "X was signed in 911").
PLACE_PREPOSITIONS = frozenset("in at to from near into".split())
TIME_PREPOSITIONS = frozenset("in on during by since at".split())
# "the army in / from / of X": X places or owns the noun.
PLACE_OBJECT_PREPS = frozenset("in from of".split())
# Words a finished sentence does not end on.
DANGLING_WORDS = frozenset(
    "a an the is are was were be been being am of to for in on at by with from into about as than that which "
    "who whom whose and or but nor if because while its their his her our your my this these those has have "
    "had do does did will would shall should can could may might must".split()
)
# Words allowed between a speaker's name and the reporting verb ("X has said", "X also warned").
BETWEEN_SPEAKER_AND_VERB = frozenset(
    "has have had also later then again previously earlier once further publicly repeatedly "
    "reportedly already recently separately".split()
)
# A name right after these is not the subject of what follows ("aides to X said", "X and Y said").
NOT_BEFORE_SUBJECT = frozenset("to of for with by from about on at in than and or against like as".split())
