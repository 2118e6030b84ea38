"""Who a sentence reports and who acts in it, read from the dependency tree.

Speakers: the subject of a reporting verb ("X said", "X warned", "X described ... as"), the object
of "according to", a pronoun resolved to the last person named before it. Actors: named subjects,
possessors ("Ukraine's army"), "of" owners ("the army of Ukraine") and nationality modifiers of
subjects ("Russian troops").
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from index.analysis import Speaker
from index.language.words import (
    ALWAYS_REPORTING,
    GROUP_PRONOUNS,
    PERSON_PRONOUNS,
    POSSESSIVE_PRONOUNS,
    REPORTING_VERBS,
)
from index.parsed_doc import clean_entity_text, entity_of
from index.people import AFFILIATION_LABELS, People, affiliation_in, appositions, is_title, read_mention

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token


# Complements that make a reporting verb report something ("He reports on the arms trade" does not).
REPORT_COMPLEMENTS = frozenset({"ccomp", "dobj", "xcomp", "parataxis", "oprd", "dative", "advcl", "attr"})
ACTOR_LABELS = frozenset({"GPE", "ORG", "NORP", "PERSON"})


def _subjects(verb: Token, through: tuple[str, ...] = ("advcl", "xcomp", "conj", "ccomp", "relcl")) -> list[Token]:
    """The verb's subjects, or those of the verb it hangs from ("X said, asking ...")."""
    for _ in range(4):
        found = [c for c in verb.children if c.dep_ == "nsubj"]
        if found:
            return [t for s in found for t in (s, *conjuncts(s))]
        if verb.dep_ not in through or verb.head is verb:
            return []
        verb = verb.head
    return []


def conjuncts(token: Token) -> list[Token]:
    return [c for c in token.subtree if c.dep_ == "conj" and c.head.i in {token.i, *(x.i for x in token.conjuncts)}]


def _group_name(token: Token) -> tuple[str, str] | None:
    """ "German officials", "Ukrainian government officials": people qualified by a named body."""
    if token.tag_ != "NNS":
        return None
    left = [t for t in token.subtree if t.i < token.i and t.dep_ not in ("det", "predet") and t.pos_ != "DET"]
    body = affiliation_in(left)
    if body is None:
        return None
    first = next(t for t in left if (e := entity_of(t)) is not None and e.label_ in AFFILIATION_LABELS)
    return token.doc[first.i : token.i + 1].text, body


def _named(token: Token, people: People) -> Speaker | None:
    """Who `token` (a subject or the object of "according to") names, if anyone."""
    if token.lower_ in PERSON_PRONOUNS:
        last = people.last_before(token.idx)
        return people.speaker(last) if last else None
    if token.pos_ == "PROPN" or (token.is_title and token.pos_ == "NOUN" and people.known(token.text)):
        name = read_mention(token).name
        if people.known(name):
            return people.speaker(name)
        ent = entity_of(token)
        if ent is not None and ent.label_ in AFFILIATION_LABELS:
            return Speaker(clean_entity_text(ent.text))
        return Speaker(name) if name else None
    if token.pos_ == "NOUN":
        for child in appositions(token):  # "The mayor, Lena Ortiz, said"
            if people.known(read_mention(child).name):
                return people.speaker(read_mention(child).name)
        group = _group_name(token)
        if group:
            return Speaker(group[0], group[1])
        if any(c.lower_ == "the" for c in token.children) and is_title(token):  # "the defense minister"
            titled = people.titled(token.lemma_.lower(), token.idx)
            if titled:
                return people.speaker(titled)
    return None


def reports_speech(verb: Token) -> bool:
    lemma = verb.lemma_.lower()
    if lemma not in REPORTING_VERBS or verb.pos_ not in ("VERB", "AUX"):
        return False
    if lemma in ALWAYS_REPORTING:
        return True
    if lemma == "call" and any(c.dep_ == "prep" and c.lower_ == "for" for c in verb.children):
        return False  # "called for": a demand, not a statement
    quoted = any(t.is_quote for t in verb.sent)
    return quoted or any(c.dep_ in REPORT_COMPLEMENTS for c in verb.children)


def sentence_speakers(tokens: list[Token], people: People, previous: list[Speaker]) -> list[Speaker]:
    """Who the sentence reports; "they" stands for the speakers of the sentence before."""
    found: list[Speaker] = []
    for token in tokens:
        candidates: list[Token] = []
        if reports_speech(token):
            candidates = _subjects(token)
        elif token.lower_ == "according":
            for to in token.children:
                candidates += [t for o in to.children if o.dep_ in ("pobj", "nsubj") for t in (o, *conjuncts(o))]
            if not candidates:  # "according to X" parsed flat: X is the name or noun phrase that follows
                after = token.doc[token.i + 2 : token.i + 12]
                run = list(itertools.takewhile(lambda t: t.pos_ in ("PROPN", "NOUN", "ADJ", "DET"), after))
                candidates = run[-1:]
        for cand in candidates:
            if cand.lower_ in GROUP_PRONOUNS:
                found += [p for p in previous if p not in found]
                continue
            speaker = _named(cand, people)
            if speaker is not None and speaker not in found:
                found.append(speaker)
    return found


def owner_name(token: Token, people: People, doc: Doc) -> str | None:
    """The name of the actor `token` stands for: a person, an entity, or a possessive pronoun's antecedent."""
    if token.lower_ in POSSESSIVE_PRONOUNS:
        return _antecedent(token, people, doc)
    if (token.pos_ == "PROPN" or (token.pos_ == "NOUN" and token.is_title)) and people.known(read_mention(token).name):
        return people.resolve(read_mention(token).name)
    ent = entity_of(token)
    if ent is not None and ent.label_ in ACTOR_LABELS:
        return people.resolve(clean_entity_text(ent.text)) if ent.label_ == "PERSON" else clean_entity_text(ent.text)
    return None


def _antecedent(pronoun: Token, people: People, doc: Doc) -> str | None:
    """ "its"/"their": the nearest named body before it in the sentence; "his"/"her": the last person."""
    if pronoun.lower_ in ("his", "her"):
        return people.last_before(pronoun.idx)
    verb = next((t for t in pronoun.ancestors if t.pos_ in ("VERB", "AUX")), None)
    subject = _clause_subject(verb) if verb is not None else None
    if subject is not None and subject.pos_ == "PROPN" and not people.known(read_mention(subject).name):
        return owner_name(subject, people, doc) or read_mention(subject).name
    for token in reversed(doc[pronoun.sent.start : pronoun.i]):
        ent = entity_of(token)
        if ent is not None and ent.label_ in ("GPE", "ORG") and not people.known(clean_entity_text(ent.text)):
            return clean_entity_text(ent.text)
    return None


def _clause_subject(verb: Token) -> Token | None:
    """The subject of `verb`; for "urging Kyiv to relinquish", the object of the verb it completes."""
    subjects = [c for c in verb.children if c.dep_ == "nsubj"]
    if subjects:
        return subjects[0]
    if verb.dep_ == "xcomp":
        objects = [c for c in verb.head.children if c.dep_ == "dobj"]
        return objects[0] if objects else _clause_subject(verb.head) if verb.head is not verb else None
    return None


def sentence_actors(tokens: list[Token], people: People, doc: Doc) -> list[str]:
    """Named subjects ("Russia has shown"), possessors and "of" owners, and the named modifiers of
    subjects ("Russian demands" -> "Russian")."""
    found: list[str] = []

    def add(name: str | None) -> None:
        if name and name not in found:
            found.append(name)

    for token in tokens:
        if token.dep_ in ("nsubj", "nsubjpass"):
            for subject in (token, *conjuncts(token)):
                named = owner_name(subject, people, doc) if subject.lower_ not in POSSESSIVE_PRONOUNS else None
                if named:
                    add(named)
                elif subject.pos_ in ("NOUN", "PROPN"):
                    for mod in subject.children:
                        if mod.dep_ in ("amod", "compound", "nmod"):
                            add(owner_name(mod, people, doc))
        elif (token.dep_ == "poss" and token.lower_ not in POSSESSIVE_PRONOUNS) or (
            token.dep_ == "pobj" and token.head.lower_ == "of" and token.head.head.pos_ == "NOUN"
        ):
            # "Ukraine's army", "the army of Ukraine"
            add(owner_name(token, people, doc))
    return found
