"""Who an article names as a person: the fullest form of each name, its affiliation and titles.

"Linnet" -> "Ada Linnet"; an affiliation read from a title ("Estravan Premier Tomas Brell")
or an apposition ("..., the Estravan minister of ports") anywhere in the article. Speakers and
figure owners (`index/speakers.py`, `index/figure_analysis.py`) are resolved against these.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from index.analysis import Speaker
from index.language.words import (
    CHAIN_NAME_PARTICLES,
    PORTFOLIOS,
    TITLE_WORDS,
)
from index.parsed_doc import clean_entity_text, entity_label, entity_of, name_words

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token


AFFILIATION_LABELS = frozenset({"GPE", "ORG", "NORP"})
HYPHENS = ("-", "\u2010", "\u2011")


@dataclass(frozen=True)
class Mention:
    """A proper name as written: the name itself, and the titles and bodies written before it."""

    head: Token
    name: str
    prefix: tuple[Token, ...]
    titled: bool

    @property
    def start(self) -> int:
        return self.head.doc[self.head.i - len(self.name.split()) + 1].idx if self.name else self.head.idx


def is_title(token: Token) -> bool:
    """A word that titles a person ("minister", "Presidents"); the question parser uses it too."""
    return token.lemma_.lower() in TITLE_WORDS or token.lower_ in TITLE_WORDS


def read_mention(head: Token) -> Mention:
    """The proper-name chain ending at `head`: "Estravan President Ada Linnet" is the name
    "Ada Linnet" after the prefix "Estravan President" (titled)."""
    doc = head.doc
    i = head.i
    while i > 0:
        left = doc[i - 1]
        attached = left.head.i >= i and left.head.i <= head.i
        if left.text in HYPHENS and i > 1 and doc[i - 2].is_title and doc[i - 2].head.i >= i:
            i -= 1  # "Secretary-General"
            continue
        if (
            attached
            and left.dep_ in ("compound", "amod", "nmod", "poss", "case", "flat")
            and (left.is_title or left.is_upper or left.lower_ in CHAIN_NAME_PARTICLES or left.tag_ == "POS")
        ):
            i -= 1
            continue
        break
    chain = list(doc[i : head.i + 1])
    last_title = max((n for n, t in enumerate(chain) if is_title(t) and n < len(chain) - 1), default=-1)
    # Bodies and nationalities before the name belong to the prefix even without a title ("UK's X").
    first = last_title + 1
    head_ent = entity_of(head)
    while (
        first < len(chain) - 1
        and (
            entity_label(chain[first]) in AFFILIATION_LABELS or chain[first].tag_ == "POS" or chain[first].pos_ == "ADJ"
        )
        and entity_label(chain[first]) != "PERSON"
        and (head_ent is None or not head_ent.start <= chain[first].i < head_ent.end)
    ):
        first += 1
    name = " ".join(t.text for t in chain[first:] if t.tag_ != "POS")
    return Mention(head, clean_entity_text(name), tuple(chain[:first]), last_title >= 0)


def appositions(head: Token) -> list[Token]:
    return [c for c in head.children if c.dep_ == "appos" and c.i > head.i and c.pos_ in ("NOUN", "PROPN")]


def affiliation_in(tokens: Iterable[Token]) -> str | None:
    """The nationality or body among `tokens`: a NORP/GPE entity first, else an ORG that is not a portfolio."""
    spans = []
    for token in tokens:
        ent = entity_of(token)
        if ent is not None and ent not in spans and ent.label_ in AFFILIATION_LABELS:
            spans.append(ent)
    for ent in spans:
        if ent.label_ in ("NORP", "GPE"):
            return clean_entity_text(ent.text)
    for ent in spans:
        if not all(t.lower_ in PORTFOLIOS or is_title(t) for t in ent if t.is_alpha):
            return clean_entity_text(ent.text)
    return None


@dataclass
class People:
    """The people an article names: fullest name forms, affiliations, titles, where each is mentioned."""

    full: dict[str, str] = field(default_factory=dict)  # lower-case form -> fullest form
    affiliation: dict[str, str] = field(default_factory=dict)  # fullest form -> affiliation
    mentions: list[tuple[int, str]] = field(default_factory=list)  # (char offset, fullest form)
    titles: list[tuple[int, str, str]] = field(default_factory=list)  # (offset, title lemma, fullest form)

    def _forms(self, name: str) -> list[str]:
        """Known full names that end with `name`, word for word ("Van der Berg" -> "Ada van der Berg")."""
        words = name_words(name)
        if not words:
            return []
        if name.lower() in self.full:
            return [self.full[name.lower()]]
        # Longest first; names of one length in the order the article gives them (a set's order
        # varies with Python's per-process string hashing, and so did the analysis).
        found = dict.fromkeys(f for f in self.full.values() if name_words(f)[-len(words) :] == words)
        return sorted(found, key=len, reverse=True)

    def known(self, name: str) -> bool:
        return bool(self._forms(name))

    def resolve(self, name: str) -> str:
        forms = self._forms(name)
        return forms[0] if forms else name

    def last_before(self, offset: int) -> str | None:
        i = bisect.bisect_left(self.mentions, (offset, ""))
        return self.mentions[i - 1][1] if i else None

    def titled(self, lemma: str, offset: int) -> str | None:
        """The last person before `offset` the article gave the title `lemma` ("minister")."""
        found = [full for at, title, full in self.titles if title == lemma and at < offset]
        return found[-1] if found else None

    def speaker(self, name: str) -> Speaker:
        full = self.resolve(name)
        return Speaker(full, self.affiliation.get(full))


def _name_heads(doc: Doc) -> list[Token]:
    """Last tokens of proper-name chains."""
    return [
        t
        for t in doc
        if (t.pos_ == "PROPN" or (t.is_title and t.pos_ == "NOUN" and not t.is_sent_start))
        and not (
            t.dep_ in ("compound", "flat")
            and t.head.i > t.i
            and t.head.pos_ in ("PROPN", "NOUN")
            and t.head.i - t.i <= 4
        )
    ]


def read_people(doc: Doc) -> People:
    """Who the article names as a person: a PERSON entity, a titled name ("Defense Minister X") or a
    name with a title in apposition ("X, the minister of defense"); their fullest form and affiliation."""
    people = People()
    persons: list[tuple[Mention, list[Token]]] = []
    for head in _name_heads(doc):
        mention = read_mention(head)
        if not mention.name or is_title(head):
            continue
        name_tokens = list(doc[head.i - len(mention.name.split()) + 1 : head.i + 1])
        apps = [a for a in appositions(head) if any(is_title(t) for t in a.subtree)]
        is_person = any(entity_label(t) == "PERSON" for t in name_tokens) or mention.titled or bool(apps)
        if is_person and not all(entity_label(t) in ("GPE", "NORP") for t in name_tokens):
            persons.append((mention, apps))
    # The small model's entities are noisy: a one-word name is a person only when the article titles
    # it or every occurrence is tagged PERSON ("Commander Europe" and a stray PERSON "Kyiv" are not).
    single = {m.name.lower() for m, _ in persons if len(name_words(m.name)) == 1}
    untagged = {t.lower_ for t in doc if t.lower_ in single and t.ent_type_ != "PERSON"}
    persons = [
        (m, a) for m, a in persons if len(name_words(m.name)) > 1 or m.titled or a or m.name.lower() not in untagged
    ]
    forms = sorted(dict.fromkeys(m.name for m, _ in persons), key=lambda n: -len(name_words(n)))  # ties: article order
    for name in forms:
        words = name_words(name)
        longer = [f for f in forms if len(name_words(f)) > len(words) and name_words(f)[-len(words) :] == words]
        people.full[name.lower()] = longer[0] if longer else name
    for mention, apps in persons:
        full = people.resolve(mention.name)
        affiliation = affiliation_in(mention.prefix) or affiliation_in(t for a in apps for t in a.subtree)
        if affiliation and full not in people.affiliation:
            people.affiliation[full] = affiliation
        titles = [t for t in mention.prefix if is_title(t)] + [a for a in apps]
        people.titles += [(mention.head.idx, t.lemma_.lower(), full) for t in titles]
    # Every mention of a known person, titled or not ("Okonkwo said", "Berg expressed").
    for head in _name_heads(doc):
        name = read_mention(head).name
        if name and people.known(name):
            people.mentions.append((head.idx, people.resolve(name)))
    people.mentions.sort()
    people.titles.sort()
    return people
