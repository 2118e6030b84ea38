"""What a question asks: whose words or figure, which relation, and what is counted.

A reader that matches words answers "How many troops does X have in Y?" with the size of Y's
army and "What did X say about Y?" with a sentence that mentions Y but quotes someone
else. `analyse_question` reads the question's grammar (spaCy, one short parse) into an `Ask`:

- the asked **actor**: the one who speaks or holds a position ("What did X say", "How has X
  responded", "What is X's position"), or who owns the figure ("X's troops", "does X have",
  "Chilean soldiers"). A place the question only mentions ("in Lima", "to Peru") is not an
  actor. Names are kept as written plus their canonical actor (`index.aliases`);
- the asked **relation**: `statement` (say, announce, warn, call ...), `position` (think, respond,
  react, position on, view ...), `figure` (how many, how much, what share, when ...) or `other`;
- the asked **measure**: the lemma of what a figure counts ("troop" in "how many troops") with the
  figure kind (`index.analysis.FIGURE_KINDS`); for "what is the X" questions, X's lemma.

`split_asks` cuts a question that asks two things ("How many ..., and what did X call ...?") into
its parts. `attribution.py` then checks each sentence against the `Ask`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.aliases import ActorIndex, clean_name, general_actor
from index.language.pipeline import pipeline
from index.language.words import (
    ACTOR_NOUNS_IN_QUESTIONS,
    AID_NOUNS,
    AMOUNT_NOUNS,
    BE_FORMS,
    COUNT_NOUNS,
    DATE_NOUNS,
    FILLER_NOUNS,
    HAPPEN_VERBS,
    HAPPENED_AT_PREPS,
    MONEY_NOUNS,
    MONEY_VERBS,
    NAME_PARTICLES,
    NAMED_NOUNS,
    PLACE_OBJECT_PREPS,
    PORTFOLIOS,
    POSITION_ADJECTIVES,
    POSITION_NOUNS,
    POSITION_VERBS,
    SHARE_NOUNS,
    SIZE_ADJECTIVES,
    SIZE_NOUNS,
    STATEMENT_VERBS,
    WH_WORDS,
    WORDING_NOUNS,
    WORDING_VERBS,
    YES_NO_STARTS,
)
from index.people import is_title
from index.terms import asked_kind

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

RELATIONS = ("statement", "position", "figure", "other")

# What "which X" asks to be named, by the kind of named entity (spaCy label) that names an X; and
# the two asks that want a place or an age. General English, not any corpus' vocabulary.
NAMED_LABELS: dict[str, tuple[str, ...]] = {
    **{noun: (label,) for label, nouns in NAMED_NOUNS.items() for noun in nouns.split()},
    "place": ("GPE", "LOC", "FAC"),
    # "Where in X ...?": a place inside X, so a building, a site or a district, never a country.
    "place within": ("GPE", "LOC", "FAC"),
    "age": ("DATE",),
}
# Entity labels that name an actor; places are actors only as owners or speakers, never as "in X".
ACTOR_LABELS = ("PERSON", "GPE", "NORP", "ORG", "FAC", "LOC")


@dataclass(frozen=True)
class AskedActor:
    """The actor a question asks about: as written, as canonical actor, and as a person if one."""

    text: str
    canonical: str
    person: str | None = None  # the person's name (the corpus' fullest form when known)

    def to_dict(self) -> dict:
        return {"text": self.text, "canonical": self.canonical, "person": self.person}


@dataclass(frozen=True)
class Ask:
    """What one question asks."""

    text: str
    relation: str
    actor: AskedActor | None = None
    measure: str | None = None  # lemma of what the figure counts, or of X in "what is the X"
    kind: str | None = None  # one of index.analysis.FIGURE_KINDS: the one reading of the figure asked for
    topic: tuple[str, ...] = ()  # content lemmas the answer should be about ("trade", "deal")
    # For "which party ...?", "where ...?", "how old ...?": what the answer must name (a key of
    # `NAMED_LABELS`: "party", "place", "place within", "age").
    named: str | None = None
    # Whether the question asks for someone's wording ("How did X describe Y?"): a sentence that
    # quotes it answers best.
    wording: bool = False
    # For "What did X say about Y?": the content lemmas of Y. X's words on something else do not
    # answer, however many other words of the question they share.
    about: tuple[str, ...] = ()
    # The words that name the asked actor, with the title they hold ("Spanish prime minister",
    # "Ukraine's defence minister"): they say who speaks, not what about, and a sentence spoken by
    # that actor meets them however it names them ("He said ...", "Ana Ruiz said ...").
    actor_words: tuple[str, ...] = ()
    # For "What happened in / at / to X?": the words of X a sentence must name, its head noun and
    # its names ("summit", "G7" in "the G7 summit"). A sentence that only mentions X in passing
    # ("due to recent events in X") or tells what would happen there does not answer.
    happened_at: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "relation": self.relation,
            "actor": self.actor.to_dict() if self.actor else None,
            "measure": self.measure,
            "kind": self.kind,
            "topic": list(self.topic),
            "named": self.named,
            "wording": self.wording,
            "about": list(self.about),
            "actor_words": list(self.actor_words),
            "happened_at": list(self.happened_at),
        }


_load_lock = threading.Lock()


def _pipeline() -> Language:
    # One load per process even when the UI asks from several threads at once.
    with _load_lock:
        return pipeline()  # the index's loader (`index.language.pipeline`): one spaCy pipeline per process


_parse_lock = threading.Lock()


def parse(text: str, names: bool = True) -> Doc:
    """One spaCy parse of a (short) question; the pipeline is loaded once per process. Parses take
    turns: spaCy does not promise that one pipeline may run in several threads at once. Without
    `names` the entity recogniser is skipped, half the time, for a caller that reads only the
    syntax."""
    pipeline = _pipeline()
    with _parse_lock:
        if names:
            return pipeline(text)
        with pipeline.select_pipes(disable=["ner"]):
            return pipeline(text)


def analyse_question(text: str, actors: ActorIndex | None = None) -> Ask:
    """The `Ask` of one question (one ask; split two-part questions with `split_asks` first)."""
    actors = actors or ActorIndex()
    doc = parse(text)
    kind, measure_token, measure = _figure_ask(doc)
    relation = "figure" if kind is not None or measure_token is not None or _is_figure_cue(doc) else None
    cue = None
    if relation is None:
        relation, cue = _relation(doc)
    if relation == "figure":
        actor_span = _figure_owner(doc, measure_token)
    elif relation in ("statement", "position"):
        actor_span = _holder(doc, cue)
    else:
        actor_span = _subject_actor(doc)
        if relation == "other":
            measure = _copular_thing(doc) or _yes_no_object(doc)
    actor = _asked_actor(actor_span, actors) if actor_span is not None else None
    naming = _actor_phrase(actor_span) if actor_span is not None else []
    skip = {t.i for t in naming}
    if cue is not None:
        skip.add(cue.i)
    if measure_token is not None:
        skip.add(measure_token.i)
    topic = tuple(
        dict.fromkeys(
            t.lemma_.lower()
            for t in doc
            if t.i not in skip
            and not t.is_stop
            and not t.is_punct
            and t.pos_ in ("NOUN", "PROPN", "VERB", "ADJ", "NUM")
            and t.lower_ not in WH_WORDS
        )
    )
    named = _named(doc) if relation == "other" else None
    about = _about(cue) if relation in ("statement", "position") and cue is not None else ()
    actor_words = tuple(t.text for t in naming if t.is_alpha and not t.is_stop)
    happened_at = _happened_at(doc) if relation == "other" else ()
    return Ask(
        text,
        relation,
        actor,
        measure,
        # The parse's reading; where it finds no figure asked at all, the wording's cue ("when ...").
        kind if kind is not None or measure_token is not None else asked_kind(text),
        topic,
        named,
        _asks_wording(doc),
        about,
        actor_words,
        happened_at,
    )


# The verbs of "What happened ...?", and the modifiers that name an X ("the G7 summit").
_NAMING_DEPS = frozenset("compound nmod npadvmod amod poss".split())


def _happened_at(doc: Doc) -> tuple[str, ...]:
    """X's head noun and names in "What happened in / at / to X?" (past tense only: "What will
    happen" asks for what is planned, and a plan answers it)."""
    if len(doc) < 3 or doc[0].lower_ != "what" or doc[0].dep_ != "nsubj":
        return ()
    verb = doc[0].head
    took_place = verb.lemma_.lower() == "take" and any(c.lower_ == "place" for c in verb.children)
    if verb.tag_ != "VBD" or not (_lemma(verb) in HAPPEN_VERBS or took_place):
        return ()
    for prep in verb.children:
        if prep.dep_ == "prep" and prep.lower_ in HAPPENED_AT_PREPS:
            place = next((c for c in prep.children if c.dep_ == "pobj"), None)
            if place is None:
                continue
            names = [t.text for t in place.lefts if t.dep_ in _NAMING_DEPS and (t.pos_ == "PROPN" or _looks_named(t))]
            return (place.text, *names)
    return ()


def _actor_phrase(span: Span) -> list[Token]:
    """The actor's span and the title it modifies: "the French president", "Ukraine's defence
    minister" name one person through a country and a title, and neither word is the topic."""
    tokens = list(span)
    head = span.root.head
    if span.root.dep_ in ("amod", "compound", "poss", "nmod") and head.i >= span.end and _is_title(head):
        tokens += [t for t in head.children if t.i not in range(span.start, span.end) and _is_title_part(t)]
        tokens.append(head)
    return sorted(tokens, key=lambda t: t.i)


def _is_title(token: Token) -> bool:
    return token.pos_ in ("NOUN", "PROPN") and is_title(token)


def _is_title_part(token: Token) -> bool:
    """A word of a title before its head: "prime" minister, "defence" minister, "vice" president."""
    return token.dep_ in ("amod", "compound") and (is_title(token) or token.lower_ in PORTFOLIOS)


def _about(cue: Token) -> tuple[str, ...]:
    """The content lemmas of "about Y" when it hangs from the saying or thinking verb (not "what
    should they do about Y", which asks what to do)."""
    for prep in cue.children:
        if prep.dep_ == "prep" and prep.lower_ == "about":
            return tuple(
                dict.fromkeys(
                    t.lemma_.lower()
                    for t in prep.subtree
                    if t.i != prep.i
                    and not t.is_stop
                    and not t.is_punct
                    and t.pos_ in ("NOUN", "PROPN", "VERB", "ADJ", "NUM")
                    and t.lower_ not in WH_WORDS
                )
            )
    return ()


def _asks_wording(doc: Doc) -> bool:
    """ "How did X describe / sum up Y?", "What did X call Y?", "What term did X use?" """
    for t in doc:
        if t.pos_ == "VERB" and t.lemma_.lower() in WORDING_VERBS:
            return True
        if t.lemma_.lower() == "sum" and any(c.dep_ == "prt" and c.lower_ == "up" for c in t.children):
            return True
        if t.lemma_.lower() in WORDING_NOUNS and any(c.lower_ in ("what", "which") for c in t.children):
            return True
    return False


def _named(doc: Doc) -> str | None:
    """What kind of name the question asks for: "where" a place, "how old" an age, "which party"
    or "what country" a party or country (the noun after the question word)."""
    words = [t.lower_ for t in doc]
    if not words:
        return None
    if words[0] == "where":
        return "place within" if words[1:2] == ["in"] else "place"
    if words[:2] == ["how", "old"]:
        return "age"
    # The question word may follow a preposition: "In which city ...?", "From what country ...?".
    first = 1 if doc[0].pos_ == "ADP" and len(words) > 2 else 0
    if words[first] in ("which", "what") and len(words) > first + 1:
        noun = _noun_after(doc, first + 1)
        if noun is not None and _lemma(noun) in NAMED_LABELS and noun.i <= first + 3:
            return _lemma(noun)
    return None


def _lemma(token: Token) -> str:
    return token.lemma_.lower()


def _is_figure_cue(doc: Doc) -> bool:
    words = [t.lower_ for t in doc]
    return words[:1] == ["when"] or "since when" in " ".join(words) or "how long" in " ".join(words)


def _figure_ask(doc: Doc) -> tuple[str | None, Token | None, str | None]:
    """(kind, measured token, measure lemma) when the question asks for a figure."""
    words = [t.lower_ for t in doc]
    for i, word in enumerate(words[:-1]):
        nxt = doc[i + 1]
        if word == "how" and nxt.lower_ == "many":
            noun = _noun_after(doc, i + 2)
            return "count", noun, _lemma(noun) if noun is not None else None
        if word == "how" and nxt.lower_ == "much":
            return _how_much(doc, i)
        if word == "how" and nxt.lower_ in SIZE_ADJECTIVES:
            noun = _subject_noun(doc)
            return "count", noun, _lemma(noun) if noun is not None else None
        if word in ("what", "which") and nxt.pos_ in ("NOUN", "ADJ"):  # "what share", "what annual budget"
            noun = _noun_after(doc, i + 1)
            if noun is None:
                continue
            lemma = _lemma(noun)
            of_noun = _of_object(noun)
            if lemma in SHARE_NOUNS:
                return _share(noun)
            if lemma in DATE_NOUNS:
                return "date", noun, None
            if lemma in AMOUNT_NOUNS:
                return "money", of_noun or noun, _lemma(of_noun) if of_noun is not None else lemma
            if lemma in COUNT_NOUNS:
                return "count", of_noun or noun, _lemma(of_noun) if of_noun is not None else None
            if lemma in SIZE_NOUNS:
                return _size(noun)
            if lemma in MONEY_NOUNS - AMOUNT_NOUNS - AID_NOUNS:
                return "money", noun, lemma  # "what annual budget did X set"
        if word == "what" and nxt.lower_ in BE_FORMS and i + 2 < len(doc):
            noun = _noun_after(doc, i + 2)
            if noun is not None and _lemma(noun) in SHARE_NOUNS:
                return _share(noun)
            if noun is not None and _lemma(noun) in SIZE_NOUNS:
                return _size(noun)
            if noun is not None and _lemma(noun) in MONEY_NOUNS - AMOUNT_NOUNS - AID_NOUNS:
                return "money", noun, _lemma(noun)  # "what is the annual budget of ..."
            if noun is not None and _lemma(noun) in AMOUNT_NOUNS | COUNT_NOUNS:
                of_noun = _of_object(noun)
                kind = "count" if _lemma(noun) in COUNT_NOUNS else "money"
                measured = of_noun if of_noun is not None else noun
                return kind, measured, _lemma(measured)
    first = words[0] if words else ""
    if first == "when" or "since when" in " ".join(words):
        return "date", None, None
    for t in doc:  # "..., in number of countries?"
        counted = _of_object(t) if t.lower_ == "number" else None
        if counted is not None:
            return "count", counted, _lemma(counted)
    return None, None, None


def _share(noun: Token) -> tuple[str, Token, str | None]:
    """A share of what: "share of GDP" -> gdp; "share of Germans" asks whose (no measure);
    "inflation rate" -> inflation."""
    of_noun = _of_object(noun)
    if of_noun is not None and _is_actor_token(of_noun):
        return "percent", of_noun, None
    if of_noun is not None:
        return "percent", of_noun, _lemma(of_noun)
    compound = [c for c in noun.children if c.dep_ == "compound" and c.pos_ == "NOUN"]
    return "percent", noun, _lemma(compound[0]) if compound else _lemma(noun)


def _size(noun: Token) -> tuple[str, Token, str | None]:
    """The size of X: an amount of money when X is money ("size of the budget"), else a count;
    "troop strength" counts troops."""
    of_noun = _of_object(noun)
    if of_noun is not None:
        lemma = _lemma(of_noun)
        return ("money" if lemma in MONEY_NOUNS else "count"), of_noun, lemma
    compound = [c for c in noun.children if c.dep_ == "compound" and c.pos_ == "NOUN"]
    return "count", noun, _lemma(compound[0]) if compound else None


def _how_much(doc: Doc, i: int) -> tuple[str | None, Token | None, str | None]:
    """ "how much X", "how much of X", or a bare "how much ... pay/cost"."""
    comparative = i > 0 and doc[i - 1].lower_ == "by"  # "by how much does A exceed B": a ratio or share
    after = i + 2
    noun = None
    if after < len(doc) and doc[after].lower_ == "of":
        noun = _noun_after(doc, after + 1)
    elif after < len(doc) and doc[after].pos_ in ("NOUN", "ADJ"):
        noun = _noun_after(doc, after)
    verbs = {_lemma(t) for t in doc[after:] if _is_verb(t)}
    if comparative:
        return None, noun, _lemma(noun) if noun is not None else None
    if noun is not None:
        lemma = _lemma(noun)
        if lemma in MONEY_NOUNS:
            return "money", noun, lemma
        return None, noun, lemma  # an amount of something else ("how much gas", "how much of its territory")
    money_verbs = verbs & MONEY_VERBS
    return "money", None, ("cost" if "cost" in money_verbs else None)


def _noun_after(doc: Doc, start: int) -> Token | None:
    """The first noun from `start`, skipping determiners, adjectives, numbers and nationality words;
    the head of a compound ("defence costs" -> "costs")."""
    for t in doc[start : start + 6]:
        if t.pos_ in ("NOUN",) or (
            t.pos_ == "PROPN" and t.ent_type_ not in ("NORP", "GPE") and t.dep_ != "poss" and t.dep_ != "compound"
        ):
            while t.dep_ == "compound" and t.head.pos_ in ("NOUN", "PROPN") and t.head.i > t.i:
                t = t.head
            return t
        if (
            t.pos_ in ("DET", "ADJ", "NUM", "PROPN", "PART", "ADV")
            or t.ent_type_ in ("NORP", "GPE", "DATE")
            or (t.pos_ == "PRON" and t.dep_ == "poss")
        ):
            continue
        break
    return None


def _is_actor_token(token: Token) -> bool:
    return token.ent_type_ in ("NORP", "GPE", "ORG", "PERSON") or general_actor(token.text) is not None


def _of_object(noun: Token) -> Token | None:
    for child in noun.children:
        if child.dep_ == "prep" and child.lower_ == "of":
            for obj in child.children:
                if obj.dep_ == "pobj":
                    return obj
    return None


def _subject_noun(doc: Doc) -> Token | None:
    for t in doc:
        if t.dep_ in ("nsubj", "nsubjpass") and t.pos_ in ("NOUN", "PROPN"):
            return t
    return None


def _relation(doc: Doc) -> tuple[str, Token | None]:
    """statement / position / other, and the token that says so; the verb nearest the root wins."""
    ordered = sorted(doc, key=lambda t: (len(list(t.ancestors)), t.i))
    for t in ordered:
        lemma = _lemma(t)
        if _is_verb(t) and lemma in STATEMENT_VERBS and _has_subject(t):
            return "statement", t
        if _according_to(t) is not None:
            return "statement", t  # "What are the guarantees for, according to X?" asks what X said
        if _is_verb(t) and lemma in POSITION_VERBS and _has_subject(t):
            return "position", t
        if t.pos_ == "ADJ" and not t.text.islower():
            continue  # part of a name ("the Coalition of the Willing")
        if t.pos_ == "ADJ" and lemma in POSITION_ADJECTIVES and _has_subject(t.head):
            return "position", t.head
        if t.pos_ == "ADJ" and lemma in POSITION_ADJECTIVES and t.head.pos_ in ("NOUN", "PROPN"):
            return "position", t  # mis-parsed "Was X satisfied": the adjective hangs on X
        if t.pos_ == "NOUN" and lemma in POSITION_NOUNS and not _is_verb(t):
            return "position", t
    return "other", None


def _is_verb(token: Token) -> bool:
    """A verb, or what the small model mis-tags as a noun after "did X" ("What did X announce")."""
    return token.pos_ in ("VERB", "AUX") or (token.dep_ == "ROOT" and _has_subject(token))


def _has_subject(verb: Token) -> bool:
    return any(
        c.dep_ in ("nsubj", "nsubjpass") or (c.dep_ == "compound" and c.i < verb.i and c.pos_ == "PROPN")
        for c in verb.children
    )


def _entity_span(token: Token) -> Span | None:
    """The named span a token belongs to: its entity, else its run of proper nouns."""
    doc = token.doc
    if token.ent_type_ in ACTOR_LABELS:
        for ent in doc.ents:
            if ent.start <= token.i < ent.end:
                return _with_particles(ent)
    if token.pos_ == "PROPN" or general_actor(token.text) is not None or _looks_named(token):
        start = end = token.i
        while start > 0 and doc[start - 1].pos_ == "PROPN" and doc[start - 1].dep_ == "compound":
            start -= 1
        while end + 1 < len(doc) and doc[end + 1].pos_ == "PROPN" and doc[end].dep_ == "compound":
            end += 1
        return doc[start : end + 1]
    return None


def _with_particles(span: Span) -> Span:
    """A name the model cut at a particle ("von der" + "Leyen"): the whole of it."""
    doc, start, end = span.doc, span.start, span.end
    while start > 0 and doc[start - 1].lower_ in NAME_PARTICLES and doc[start - 1].text.islower():
        start -= 1
    if start < span.start and start > 0 and doc[start - 1].pos_ == "PROPN":
        start -= 1  # the given name before the particle ("Ada von der Berg")
    while end < len(doc) and doc[end - 1].lower_ in NAME_PARTICLES and doc[end].pos_ == "PROPN":
        end += 1
    return span if (start, end) == (span.start, span.end) else doc[start:end]


def _looks_named(token: Token) -> bool:
    """A capitalised word inside the question that the small model tagged as a common noun
    ("Was Linnet satisfied"): a name it does not know."""
    return token.i > 0 and token.pos_ == "NOUN" and token.text[:1].isupper() and token.dep_ in ("nsubj", "nsubjpass")


def _path_up(token: Token, top: Token) -> list[Token]:
    """`token` and its ancestors below `top`."""
    path = []
    while token.i != top.i and token.head.i != token.i:  # spaCy makes a new Token per access: compare indices
        path.append(token)
        token = token.head
    return path


def _named_in(token: Token) -> Span | None:
    """The actor named by a noun phrase: a person first (a titled name: "German minister X" -> X),
    then a possessor or modifier that is a country or body ("China's foreign ministry")."""
    # The noun and its modifiers ("China's foreign ministry", "German minister X"), not its
    # prepositional phrases or clauses ("X satisfied with the Paris meeting").
    phrase = [
        t
        for t in token.subtree
        if all(
            a.dep_ in ("poss", "compound", "amod", "nmod", "case", "det", "appos", "flat") for a in _path_up(t, token)
        )
    ]
    for label in ("PERSON",):
        for t in phrase:
            if t.ent_type_ == label:
                return _entity_span(t)
    span = _entity_span(token)
    if span is not None and (span.label_ in ACTOR_LABELS or general_actor(span.text) is not None):
        return span
    for t in phrase:
        if t.i != token.i and (t.dep_ in ("poss", "compound", "amod", "nmod") or t.ent_type_ in ACTOR_LABELS):
            found = _entity_span(t)
            if found is not None and (found.label_ in ACTOR_LABELS or general_actor(found.text) is not None):
                return found
    if span is not None and any(t.pos_ == "PROPN" or _looks_named(t) for t in span):
        return span  # a name the tagger knows only as a proper noun ("the Pope")
    return None


def _holder(doc: Doc, cue: Token | None) -> Span | None:
    """Who says or thinks: the cue verb's subject, or the owner of a position noun."""
    if cue is None:
        return None
    source = _according_to(cue)
    if source is not None:
        return _named_in(source)
    if cue.pos_ == "ADJ":
        return _named_in(cue.head)
    if cue.pos_ == "NOUN" and not _is_verb(cue):
        for child in cue.children:
            if child.dep_ == "poss":
                return _named_in(child)
        of_object = _of_object(cue)
        if of_object is not None:
            return _named_in(of_object)
        return _subject_actor(doc)
    for child in cue.children:
        if child.dep_ in ("nsubj", "nsubjpass") or (child.dep_ == "compound" and child.i < cue.i):
            if child.lower_ in WH_WORDS:
                continue
            # "officials in X", "diplomats from X": unnamed speakers of a named place
            return _named_in(child) or next(
                (named for named in map(_named_in, _place_objects(child)) if named is not None), None
            )
    return _subject_actor(doc)


def _according_to(token: Token) -> Token | None:
    """X in "according to X"."""
    if token.lower_ != "according":
        return None
    for prep in token.children:
        if prep.lower_ == "to":
            return next((obj for obj in prep.children if obj.dep_ == "pobj"), None)
    return None


def _place_objects(noun: Token) -> list[Token]:
    return [
        obj
        for prep in noun.children
        if prep.dep_ == "prep" and prep.lower_ in PLACE_OBJECT_PREPS
        for obj in prep.children
        if obj.dep_ == "pobj"
    ]


def _figure_owner(doc: Doc, measured: Token | None) -> Span | None:
    """Whose figure: the measured noun's possessor or nationality ("Chile's troops", "Chilean
    soldiers"), else the named subject of the verb ("does Chile have")."""
    if measured is not None:
        if _is_actor_token(measured):
            return _entity_span(measured)
        for child in measured.children:
            span = _entity_span(child) if child.dep_ in ("poss", "amod", "compound", "nmod") else None
            if span is None:
                continue
            if child.dep_ == "poss" and (span.label_ in ACTOR_LABELS or general_actor(span.text) is not None):
                return span
            # "Chilean soldiers", "EU funds"; not "Patriot systems" (a product named like a person), and
            # not "European countries", where the adjective says which countries, not whose.
            if (span.label_ in ("GPE", "NORP") or general_actor(span.text) is not None) and _lemma(
                measured
            ) not in ACTOR_NOUNS_IN_QUESTIONS:
                return span
    return _subject_actor(doc, exclude=measured)


def _subject_actor(doc: Doc, exclude: Token | None = None) -> Span | None:
    """A named subject of any verb (never an object of "in", "to" ...), nearest the root first."""
    ordered = sorted(doc, key=lambda t: (len(list(t.ancestors)), t.i))
    for t in ordered:
        # A named "compound" before a root noun is a subject the small model mis-parsed ("did the UK pledge").
        subject = (
            t.dep_ in ("nsubj", "nsubjpass")
            or (t.dep_ == "compound" and t.head.dep_ == "ROOT" and t.pos_ == "PROPN" and t.i < t.head.i)
            or _misparsed_do_subject(t)
        )
        if subject and (exclude is None or t.i != exclude.i) and t.lower_ not in WH_WORDS:
            span = _named_in(t)
            if span is not None:
                return span
    return None


def _misparsed_do_subject(token: Token) -> bool:
    """The subject of "Which country did X govern?" that the small model reads as the object of
    "did", with "govern" hanging off it as a clause: an auxiliary "do" before a verb has no object."""
    head = token.head
    return (
        token.dep_ == "dobj"
        and head.dep_ == "ROOT"
        and head.lemma_.lower() == "do"
        and any(
            c.pos_ == "VERB" and c.dep_ in ("advcl", "xcomp", "ccomp", "conj") and c.i > token.i for c in head.children
        )
    )


def _copular_thing(doc: Doc) -> str | None:
    """X in "what is the X (of/in ...)": the thing a non-figure question asks to be described.
    A noun that asks for the filler itself ("the name of the count", "the type of art") is no
    thing a sentence mentions: the thing is its "of" object, or none."""
    words = [t.lower_ for t in doc]
    if len(words) > 2 and words[0] == "what" and (words[1] in BE_FORMS or words[1] == "'s"):
        noun = _noun_after(doc, 2)
        if noun is not None and _lemma(noun) in FILLER_NOUNS:
            noun = _of_object(noun)
        if noun is not None and _lemma(noun) not in POSITION_NOUNS:
            return _lemma(noun)
    return None


def _yes_no_object(doc: Doc) -> str | None:
    """The object of a yes/no question's action: "troop" in "Has X agreed to send troops?". An
    answer must be about that thing; X doing something else ("X would provide ships") says
    nothing either way."""
    if not len(doc) or doc[0].lower_ not in YES_NO_STARTS:
        return None
    verb: Token | None = next((t for t in doc if t.dep_ == "ROOT"), None)
    found = None
    while verb is not None:
        obj = next((c for c in verb.children if c.dep_ == "dobj" and c.pos_ == "NOUN"), None)
        if obj is not None:
            found = obj
        verb = next((c for c in verb.children if c.dep_ == "xcomp" and c.pos_ == "VERB"), None)
    return _lemma(found) if found is not None else None


def _asked_actor(span: Span, actors: ActorIndex) -> AskedActor:
    text = clean_name(span.text)
    person = actors.person(text)
    is_person = general_actor(text) is None and (
        person is not None or span.label_ == "PERSON" or any(t.ent_type_ == "PERSON" for t in span)
    )
    canonical = actors.canonical(text)
    if is_person and person is None:
        # A titled name in the question itself ("German Foreign Minister X") gives the affiliation.
        head = span.root
        for t in head.subtree:
            if t.i < span.start and general_actor(t.text) is not None:
                canonical = general_actor(t.text) or canonical
                break
    return AskedActor(text, canonical, (person.name if person is not None else text) if is_person else None)


# A second ask starts at a conjunction or semicolon followed by a question word or auxiliary.
_SECOND_ASK = re.compile(
    r"(?:,\s*(?:and|but)\s+|;\s*(?:and\s+)?|\s+and\s+(?=(?:what|how|who|whom|whose|which|when|where|why)\b))"
    r"(?=(?:what|how|who|whom|whose|which|when|where|why|did|does|do|is|are|was|were|will|would|can|could|has|have|had)\b)",
    re.IGNORECASE,
)


def split_asks(question: str) -> list[str]:
    """The separate questions in one ("How many ..., and what did X call ...?" -> two), each ending
    in "?"; the question itself when it asks one thing."""
    parts: list[str] = []
    rest = question.strip()
    while True:
        match = next(
            (
                m
                for m in _SECOND_ASK.finditer(rest)
                if _is_question(rest[: m.start()]) and _is_question(rest[m.end() :])
            ),
            None,
        )
        if match is None:
            break
        parts.append(rest[: match.start()].strip().rstrip("?,;") + "?")
        rest = rest[match.end() :].strip()
    if not parts:
        return [question.strip()]
    rest = rest[:1].upper() + rest[1:]
    parts.append(rest if rest.endswith("?") else rest.rstrip(".") + "?")
    return parts


def _is_question(text: str) -> bool:
    """A real question: a question word or auxiliary, and a verb of its own."""
    words = re.findall(r"[A-Za-z']+", text)
    if len(words) < 3:
        return False
    return any(t.pos_ in ("VERB", "AUX") for t in parse(text))
