"""Does this sentence answer the question asked, for the actor asked about?

Word overlap happily answers "How many troops does X have?" with Y's army size, and
"What did X say?" with a quote from Y. Given the question's `Ask` (`rag.question`) and a sentence's
`SentenceAnalysis` (speakers, actors and figures found when the index was built), `attribute`
decides:

- statement / position questions: the asked actor must be the sentence's speaker (a person by
  name; a country or body by the speaker's affiliation, or as the sentence's acting subject for a
  position or reaction);
- figure questions: a figure of the asked kind whose owner is the asked actor and whose measure
  is what was asked (troops are not countries, Y's army is not X's);
- "what is the X" questions: the sentence must be about X at all.

The verdict says why a sentence fails (`wrong_speaker` with the real speaker, `wrong_owner` with
the real owner, `wrong_measure`, `no_figure`, or `no_actor_info` when the sentence does not say),
so the engine can answer "The articles do not quote X on this; Y said ..." or abstain;
`notice` phrases that in general words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.aliases import ActorIndex, clean_name, fold_key, general_actor, is_country_or_body, is_demonym
from index.analysis import Figure, SentenceAnalysis, Speaker
from index.language.words import CITY_NOUNS, GENERIC_MEASURES, MEASURE_FAMILIES, STANCE_WORDS
from rag.question import NAMED_LABELS, Ask, AskedActor

MATCH = "match"
WRONG_SPEAKER = "wrong_speaker"
WRONG_OWNER = "wrong_owner"
WRONG_MEASURE = "wrong_measure"
NO_FIGURE = "no_figure"
NO_ACTOR_INFO = "no_actor_info"
VERDICTS = (MATCH, WRONG_SPEAKER, WRONG_OWNER, WRONG_MEASURE, NO_FIGURE, NO_ACTOR_INFO)
# Which failing verdict to report when several figures of a sentence fail differently: the one
# that tells the reader most.
_FAILURE_ORDER = (NO_ACTOR_INFO, WRONG_OWNER, WRONG_MEASURE, NO_FIGURE)

# "half", "a fifth", "two-thirds": a share written as a fraction (an index may file it as a count).
_FRACTION = re.compile(r"\b(?:half|halves|thirds?|quarters?|fifths?|sixths?|tenths?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Attribution:
    """Whether a sentence answers the ask, and if not, whose or what it is instead."""

    verdict: str
    speaker: Speaker | None = None  # the sentence's speaker (the match, or the wrong one)
    owner: str | None = None  # the owner of the rejected figure, as written
    figure: Figure | None = None  # the figure that answers, or the one rejected
    measure: str | None = None  # what the rejected figure measures

    @property
    def answers(self) -> bool:
        return self.verdict == MATCH

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "speaker": self.speaker.to_dict() if self.speaker else None,
            "owner": self.owner,
            "figure": self.figure.to_dict() if self.figure else None,
            "measure": self.measure,
        }


def attribute(
    ask: Ask, analysis: SentenceAnalysis, actors: ActorIndex | None = None, disabled: frozenset[str] = frozenset()
) -> Attribution:
    """The verdict for one sentence against one ask; rules named in `disabled` (`rag.forms`) pass."""
    actors = actors or ActorIndex()
    if ask.relation == "figure":
        return _figure_verdict(ask, analysis, actors) if "figure_owner" not in disabled else Attribution(MATCH)
    if ask.relation in ("statement", "position") and ask.actor is not None:
        return _speaker_verdict(ask, analysis, actors) if "speaker" not in disabled else Attribution(MATCH)
    if (
        ask.relation == "other"
        and ask.measure
        and analysis.lemmas
        and "thing_mentioned" not in disabled
        and not _mentions(analysis, ask.measure)
    ):
        return Attribution(WRONG_MEASURE, measure=ask.measure)
    if (
        ask.relation == "other"
        and ask.named
        and analysis.lemmas
        and "named_type" not in disabled
        and not _names_what_is_asked(ask, analysis)
    ):
        return Attribution(WRONG_MEASURE, measure=ask.named)
    return Attribution(MATCH)


_AGE = re.compile(r"year-old|years? old|\baged\b", re.IGNORECASE)


def confirms(ask: Ask, result: Attribution, analysis: SentenceAnalysis, actors: ActorIndex | None = None) -> bool:
    """A figure match that the structure confirms twice: the question and the sentence both name
    what is counted and the two agree ("how many nations" and "26 countries"), and the sentence
    shares a word, or a WordNet relative of one, with the rest of the question ("aid" and
    "assistance"), so it is about the same occasion. Such a sentence needs less word overlap to
    answer (`Settings.min_support_confirmed`): the question's wording may be loose."""
    if ask.relation != "figure" or result.verdict != MATCH or result.figure is None:
        return False
    shares_topic = any(_mentions(analysis, word) for word in ask.topic if word != ask.measure)
    if ask.kind == "date" and ask.actor is not None and actors is not None:
        # A date counts nothing: the event is confirmed by its actor instead ("When did X stop
        # its aid?" and "after X halted aid in March").
        return shares_topic and _sentence_names(ask, analysis, actors)
    if not ask.measure or not result.figure.measure or ask.measure in GENERIC_MEASURES:
        return False
    return shares_topic


def _names_what_is_asked(ask: Ask, analysis: SentenceAnalysis) -> bool:
    """Whether the sentence names what a "which party / where / how old" question asks for: an
    entity of that kind, for a place one the question does not already name ("Where in X?" is
    not answered by "in X"), for an age a stated age."""
    assert ask.named is not None
    labels = NAMED_LABELS[ask.named]
    if ask.named == "age":
        return any(label in labels and _AGE.search(text) for label, text in analysis.entities)
    question = ask.text.lower()

    def names_one(label: str, text: str) -> bool:
        if label not in labels:
            return False
        if ask.named in ("place", "place within") and text.lower() in question:
            return False
        # A city is not a country ("Which city hosted X?" is not answered by "support for Peru").
        if ask.named in CITY_NOUNS and is_country_or_body(text):
            return False
        # Inside a city there are buildings and districts, not countries or their capitals.
        return ask.named != "place within" or general_actor(text) is None

    return any(names_one(label, text) for label, text in analysis.entities)


def _speaker_verdict(ask: Ask, analysis: SentenceAnalysis, actors: ActorIndex) -> Attribution:
    for speaker in analysis.speakers:
        if _is_asked(ask, speaker, actors):
            return Attribution(MATCH, speaker=speaker)
    if analysis.speakers:
        return Attribution(WRONG_SPEAKER, speaker=analysis.speakers[0])
    # No one is quoted. A country's or body's position or reaction may be told without a quote
    # ("Peru has rejected the plan"); a person's words need that person in the sentence.
    assert ask.actor is not None
    # Without a quote, a sentence tells a stance only with a stance word ("X has rejected ...");
    # "talks to end X's war" mentions X but says nothing of what X thinks.
    if analysis.lemmas and not STANCE_WORDS & {w.lower() for w in analysis.lemmas}:
        return Attribution(NO_ACTOR_INFO)
    for actor in analysis.actors:
        if _actor_is_asked(ask, actor, actors):
            return Attribution(MATCH)
    if analysis.actors and ask.relation == "position" and ask.actor.person is None:
        return Attribution(WRONG_SPEAKER, speaker=Speaker(clean_name(analysis.actors[0])))
    return Attribution(NO_ACTOR_INFO)


def _is_asked(ask: Ask, speaker: Speaker, actors: ActorIndex) -> bool:
    asked = ask.actor
    assert asked is not None
    if asked.person is not None:
        return actors.same_person(asked.person, speaker.name)
    if speaker.affiliation and actors.same_actor(speaker.affiliation, asked.canonical):
        return True
    return actors.same_actor(speaker.name, asked.canonical)


def _actor_is_asked(ask: Ask, actor: str, actors: ActorIndex) -> bool:
    asked = ask.actor
    assert asked is not None
    if asked.person is not None:
        return actors.same_person(asked.person, actor)
    return actors.same_actor(actor, asked.canonical)


def _figure_verdict(ask: Ask, analysis: SentenceAnalysis, actors: ActorIndex) -> Attribution:
    figures = [
        f
        for f in analysis.figures
        if ask.kind is None or f.kind == ask.kind or (ask.kind == "percent" and _FRACTION.search(f.text))
    ]
    if not figures:
        return Attribution(NO_FIGURE)
    verdicts = [_one_figure(ask, figure, analysis, actors) for figure in figures]
    for verdict in verdicts:
        if verdict.answers:
            return verdict
    return min(verdicts, key=lambda v: _FAILURE_ORDER.index(v.verdict))


def _one_figure(ask: Ask, figure: Figure, analysis: SentenceAnalysis, actors: ActorIndex) -> Attribution:
    if ask.kind == "date":
        return Attribution(MATCH, figure=figure)  # a date belongs to an event, not to an actor
    if ask.actor is not None:
        if figure.owner:
            if not _actor_is_asked(ask, figure.owner, actors) and not actors.same_actor(
                figure.owner, ask.actor.canonical
            ):
                return Attribution(WRONG_OWNER, owner=clean_name(figure.owner), figure=figure, measure=figure.measure)
        elif not _sentence_names(ask, analysis, actors):
            if not _measures(ask, figure):
                return Attribution(WRONG_MEASURE, figure=figure, measure=figure.measure)
            return Attribution(NO_ACTOR_INFO, figure=figure)
    if not _measures(ask, figure):
        return Attribution(WRONG_MEASURE, figure=figure, measure=figure.measure)
    return Attribution(MATCH, figure=figure)


def _measures(ask: Ask, figure: Figure) -> bool:
    """The figure counts what was asked: by its measure, or by a unit written into the figure
    itself ("a 20-point plan" answers "how many points", though the noun it modifies is "plan")."""
    if measure_compatible(ask.measure, figure.measure, ask.kind):
        return True
    if not ask.measure:
        return False
    return re.search(rf"\b{re.escape(ask.measure)}s?\b", figure.text, re.IGNORECASE) is not None


def _sentence_names(ask: Ask, analysis: SentenceAnalysis, actors: ActorIndex) -> bool:
    """Whether the sentence's actors or speakers include the asked actor (for unowned figures)."""
    return any(_actor_is_asked(ask, a, actors) for a in analysis.actors) or any(
        _is_asked(ask, s, actors) for s in analysis.speakers
    )


# Capitalised runs of words ("United States", "US", "Tokyo"), with the "U.S." spelling and the
# first part of "US-led".
_NAME_RUN = re.compile(r"(?:[A-Z](?:\.[A-Z])+\.?|[A-Z][\w’']*)(?:\s+(?:[A-Z](?:\.[A-Z])+\.?|[A-Z][\w’']*))*")


def spoken_by_asked(ask: Ask, analysis: SentenceAnalysis, actors: ActorIndex) -> bool:
    """Whether the asked actor is one of the sentence's speakers, however the sentence refers to
    them: "He described the plan as ..." is Ana Ruiz's when the analysis resolved "he" to her."""
    return ask.actor is not None and any(_is_asked(ask, sp, actors) for sp in analysis.speakers)


def names_actor(ask: Ask, text: str, actors: ActorIndex) -> bool:
    """Whether `text` names the asked actor anywhere, under any name that stands for it ("Japanese",
    "Tokyo" for Japan; "US-led" for the United States): for questions that are about an actor
    without asking what it said or owns ("Which Japanese companies will fund X?")."""
    assert ask.actor is not None
    asked = fold_key(ask.actor.canonical)
    # An actor no article or table knows is held to its own words: the parse may have taken a
    # capitalised verb or title into the name ("Who did Emma Marry?"), so one of its names will do.
    known = actors.is_known(ask.actor.text)
    own = {fold_key(w) for w in ask.actor.text.split() if w[:1].isupper() and len(w) > 2} if not known else set()
    for run in _NAME_RUN.finditer(text):
        words = run.group().split()
        if own & {fold_key(w) for w in words}:
            return True
        for n in range(len(words), 0, -1):
            for i in range(len(words) - n + 1):
                if fold_key(actors.canonical(" ".join(words[i : i + n]))) == asked:
                    return True
    return False


def measure_compatible(asked: str | None, stated: str | None, kind: str | None = "count") -> bool:
    """False only when both measures are known and name different things.

    Counts and shares are strict: "how many tanks" is never answered by a number of troops, nor
    the inflation rate by a share of GDP. Money is named far more loosely ("the tab", "the bill",
    "wealth" for "assets"), so there a mismatch counts only between two different known families."""
    if not asked or not stated:
        return True
    asked, stated = asked.lower(), stated.lower()
    if asked == stated or asked in GENERIC_MEASURES:
        return True
    if any(asked in family and stated in family for family in MEASURE_FAMILIES):
        return True
    if {stated, _joined(stated)} & _related(asked) or {asked, _joined(asked)} & _related(stated):
        return True
    if kind == "money":
        return not (any(asked in f for f in MEASURE_FAMILIES) and any(stated in f for f in MEASURE_FAMILIES))
    return False


def _related(word: str) -> set[str]:
    """WordNet synonyms and related forms, written as one word ("cease-fire" -> "ceasefire") and
    singular ("troops" -> "troop"), the way lemmas are stored."""
    from rag.thesaurus import ThesaurusError, wordnet

    try:
        related = wordnet().related(word)
    except ThesaurusError:  # no WordNet data: exact matches and the families above only
        return set()
    out = set()
    for w in related:
        joined = re.sub(r"[\s-]+", "", w)
        out |= {w, joined, joined.removesuffix("s")}
    return out


def _joined(word: str) -> str:
    return re.sub(r"[\s-]+", "", word)


def _mentions(analysis: SentenceAnalysis, lemma: str) -> bool:
    lemmas = {x.lower() for x in analysis.lemmas}
    return lemma in lemmas or bool(_related(lemma) & lemmas)


def _named_as(actor: AskedActor) -> str:
    """The asked actor as a notice names it: "Peruvian" (a demonym the question used as an
    adjective: "the Peruvian president") reads as the country it stands for."""
    return actor.canonical if actor.person is None and is_demonym(actor.text) else actor.text


def notice(ask: Ask, result: Attribution) -> str | None:
    """One general sentence telling the reader why the cited sentence is not quite what was asked,
    or that the articles do not say; None for a match."""
    if result.answers:
        return None
    asked = _named_as(ask.actor) if ask.actor is not None else None
    if result.verdict == WRONG_SPEAKER and asked:
        other = result.speaker.name if result.speaker else "someone else"
        if ask.relation == "statement":
            return f"The articles do not quote {asked} on this; {other} said:"
        return f"The articles do not give the position of {asked} on this; they report that of {other}:"
    if result.verdict == WRONG_OWNER and asked:
        asked_what = f"{ask.measure} " if ask.measure else ""
        return (
            f"The articles give no {asked_what}figure for {asked}; "
            f"the figure they give is for {result.owner or 'another actor'}:"
        )
    if result.verdict == WRONG_MEASURE:
        if ask.relation == "figure":
            asked_what = ask.measure or "what was asked"
            return f"The articles give no figure for {asked_what}" + (f" of {asked}." if asked else ".")
        if ask.named and not ask.measure:
            return f"The articles name no {ask.named} for this." if ask.named != "age" else "The articles give no age."
        return f"The articles do not say anything about {ask.measure or 'this'}."
    if result.verdict == NO_FIGURE:
        return "The articles state no such figure."
    if result.verdict == NO_ACTOR_INFO and asked:
        if ask.relation == "other":
            return f"The articles do not say this about {asked}."
        if ask.relation == "figure":
            return f"The article does not say whether this figure is for {asked}:"
        return f"The articles do not say that {asked} said this:"
    return "The articles do not say."
