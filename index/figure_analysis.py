"""The figures a sentence states, each with the noun it quantifies and that noun's owner.

spaCy's MONEY, PERCENT, CARDINAL, QUANTITY and DATE entities plus bare fractions and digits it
missed; the measured noun is read from the dependency tree ("800,000 troops", "a 20-point plan"),
the owner from a possessor, an "of" owner, a named modifier or the subject of the clause.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from index.analysis import Figure
from index.language.words import (
    ACTOR_NOUNS_IN_TEXT,
    CURRENCY_NOUNS,
    SCALE_NOUNS,
)
from index.parsed_doc import clean_entity_text, doc_entities, doc_text, entity_of, tokens_in
from index.people import HYPHENS, People
from index.speakers import conjuncts, owner_name, reports_speech

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token


FIGURE_LABELS = {"MONEY": "money", "PERCENT": "percent", "CARDINAL": "count", "QUANTITY": "count", "DATE": "date"}
# Bare fractions, digits and number words spaCy's entities can miss ("about a fifth of its land",
# "half", "article five-like"). Measured on corpus/: spaCy's entities and rag/figures.py's patterns
# agree on 65 figures; spaCy alone finds 11 relative dates ("next year"), the patterns alone 7 bare
# digits and number words, so the analysis takes spaCy's entities and adds these.
_FRACTION = re.compile(r"\b(?:(?:a|an|one|two|three)[\s-])?(?:half|thirds?|quarters?|fifths?|tenths?)\b", re.IGNORECASE)
_NUMBER_WORDS = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|dozen)\b",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"(?<![\w.,])\d[\d,.]*\d(?![\w])|(?<![\w.,])\d(?![\w.,])")


def _figure_spans(doc: Doc, start: int, end: int) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every figure in [start, end): spaCy's entities, then missed fractions/digits."""
    spans = [
        (e.start_char, e.end_char, FIGURE_LABELS[e.label_])
        for e in doc_entities(doc)
        if e.label_ in FIGURE_LABELS and start <= e.start_char and e.end_char <= end
    ]
    text = doc_text(doc)[start:end]
    extra = [(start + m.start(), start + m.end(), "percent") for m in _FRACTION.finditer(text)]
    extra += [(start + m.start(), start + m.end(), "count") for m in _DIGITS.finditer(text)]
    extra += [(start + m.start(), start + m.end(), "count") for m in _NUMBER_WORDS.finditer(text)]
    for s, e, kind in extra:
        if not any(s < e2 and s2 < e for s2, e2, _ in spans):
            spans.append((s, e, kind))
    return sorted(spans)


def _root(tokens: list[Token]) -> Token:
    """The token of a figure the rest hangs from (its head lies outside the figure)."""
    ids = {t.i for t in tokens}
    outside = [t for t in tokens if t.head.i not in ids or t.head.i == t.i]
    return outside[0] if outside else tokens[0]


def _measured(root: Token) -> Token | None:
    """The noun a figure quantifies."""
    token, hops = root, 0
    while hops < 4:
        hops += 1
        head = token.head
        # "... of the plan" after a share or an amount: the plan is measured.
        for child in token.children:
            if child.dep_ == "prep" and child.lower_ in ("of", "in"):
                objects = [o for o in child.children if o.dep_ == "pobj" and o.pos_ in ("NOUN", "PROPN")]
                if objects and objects[0].lemma_.lower() not in SCALE_NOUNS:
                    return objects[0]
        if token.dep_ in ("nummod", "quantmod", "compound", "amod", "npadvmod", "advmod") and head is not token:
            hyphenated = token.i + 1 < len(token.doc) and token.doc[token.i + 1].text in HYPHENS
            if hyphenated and head.dep_ in ("compound", "amod") and head.head.pos_ in ("NOUN", "PROPN"):
                return head.head  # "a 20-point plan": the plan, not the points
            if head.pos_ == "NOUN" and head.lemma_.lower() not in SCALE_NOUNS:
                return head
            if head.pos_ == "ADJ" and head.dep_ == "amod" and head.head.pos_ == "NOUN":
                return head.head  # "an 800,000-strong army"
            token = head
            continue
        if token.dep_ == "pobj":
            prep = head
            anchor = prep.head
            if anchor.pos_ == "NOUN" and anchor.lemma_.lower() not in SCALE_NOUNS:
                return anchor
            if anchor.pos_ == "NOUN":
                token = anchor
                continue
            if anchor.pos_ in ("VERB", "AUX"):
                return _verb_measure(anchor, exclude=root)
            return None
        if token.dep_ in ("dobj", "attr", "oprd") and head.pos_ in ("VERB", "AUX"):
            return _verb_measure(head, exclude=root)
        return None
    return None


def _verb_measure(verb: Token, exclude: Token) -> Token | None:
    """ "predicted the costs at $120 billion", "spending will reach $120 billion": the verb's noun."""
    for dep in ("dobj", "prep", "nsubj", "nsubjpass"):
        for child in verb.children:
            if dep == "prep" and child.dep_ == "prep" and child.lower_ in ("on", "for"):
                child = next((o for o in child.children if o.dep_ == "pobj"), child)  # "spend $4 billion on plants"
                if child.pos_ == "NOUN" and child.lemma_.lower() not in SCALE_NOUNS and not child.ent_type_:
                    return child
            if (
                child.dep_ == dep
                and child.i != exclude.i
                and child.pos_ == "NOUN"
                and child.lemma_.lower() not in SCALE_NOUNS
                and not child.ent_type_
            ):
                return child
    if verb.dep_ in ("xcomp", "ccomp") and verb.head.pos_ == "VERB":
        for child in verb.head.children:
            if child.dep_ == "dobj" and child.pos_ == "NOUN" and child.i != exclude.i:
                return child
    return None


def _owner(measure: Token | None, root: Token, people: People, doc: Doc) -> str | None:
    """Whose the figure is: the measured noun's possessor, "of" owner or named modifier, else the
    named subject of the clause that states it ("Russia has 700,000 soldiers")."""
    near = [t for t in (measure, root) if t is not None]
    for token in list(near):
        if token.dep_ == "pobj" and token.head.head.pos_ in ("VERB", "AUX"):
            # "preserve Ukraine's armed forces at around 800,000 troops": the verb's object owns.
            near += [c for c in token.head.head.children if c.dep_ == "dobj" and c.i != token.i]
    for token in near:
        for child in token.children:
            if child.dep_ == "poss":
                name = owner_name(child, people, doc)
                if name:
                    return name
        for child in token.children:
            if child.dep_ == "prep" and child.lower_ == "of":
                for obj in child.children:
                    name = owner_name(obj, people, doc) if obj.dep_ == "pobj" else None
                    if name:
                        return name
        if token.lemma_.lower() in ACTOR_NOUNS_IN_TEXT:
            continue
        for child in token.children:
            if child.dep_ in ("amod", "compound", "nmod") and child.i < token.i:
                ent = entity_of(child)
                if ent is not None and ent.label_ in ("NORP", "GPE", "ORG"):
                    return clean_entity_text(ent.text)
    # Only a figure that is an argument of its verb belongs to the verb's subject.
    anchor = measure or root
    if anchor.dep_ == "pobj" and anchor.head.lower_ == "of" and anchor.head.head.pos_ == "NOUN":
        anchor = anchor.head.head  # "a strength of 800,000 personnel"
    if anchor.dep_ in ("dobj", "attr", "oprd") and anchor.head.pos_ in ("VERB", "AUX"):
        clause = anchor.head
    elif anchor.dep_ == "pobj" and anchor.head.head.pos_ in ("VERB", "AUX"):
        clause = anchor.head.head
    else:
        return None
    # Climb only through infinitives and coordination, and never into a reporting verb: in "X said,
    # asking the countries to allocate 0.25%" the share is not X's.
    for _ in range(3):
        if clause.pos_ not in ("VERB", "AUX"):
            return None
        subjects = [c for c in clause.children if c.dep_ == "nsubj"]
        if subjects:
            for subject in (s for first in subjects for s in (first, *conjuncts(first))):
                if measure is not None and subject.i == measure.i:
                    continue
                name = owner_name(subject, people, doc)
                if name:
                    return name
            return None
        if clause.dep_ not in ("xcomp", "conj") or reports_speech(clause.head):
            return None
        clause = clause.head
    return None


_HYPHEN_UNIT = re.compile(r"-[A-Za-z]+\b")


def sentence_figures(doc: Doc, start: int, end: int, people: People) -> list[Figure]:
    out = []
    for s, e, kind in _figure_spans(doc, start, end):
        if kind == "count" and (unit := _HYPHEN_UNIT.match(doc_text(doc), e)):
            e = unit.end()  # "20-point": the unit is part of the figure ("how many points")
        tokens = tokens_in(doc, s, e)
        if not tokens:
            continue
        root = _root(tokens)
        measure = None if kind == "date" else _measured(root)
        owner = None if kind == "date" else _owner(measure, root, people, doc)
        if kind == "count" and measure is not None and measure.lemma_.lower() in CURRENCY_NOUNS:
            kind = "money"  # "45 million euros": the small model does not always tag it MONEY
        out.append(
            Figure(doc_text(doc)[s:e], s, e, kind, measure.lemma_.lower() if measure is not None else None, owner)
        )
    return out
