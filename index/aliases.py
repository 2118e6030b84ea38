"""Which names stand for the same actor: a country, its people, its capital, its seat of power,
and the people the articles tie to it by title or apposition.

News writes one actor many ways: "Japan", "Japanese officials", "Tokyo says"; "the White House",
"Washington", "America's". Matching a question's actor against a sentence's speakers and owners needs
those to compare equal, and it must not rely on a list of one corpus' names. Two sources do it:

- general knowledge: every country's name, alternative spellings, demonym and capital from the
  `countryinfo` package (MIT licence, data shipped inside the wheel, no network), plus two small
  tables below of what that data lacks: seats of government used as metonyms ("the White House",
  "Downing Street") and common English short forms ("Britain", "America") and international bodies;
- the corpus itself: `ActorIndex.from_analyses` reads the speakers the index found
  (`index.analysis.Speaker`: the fullest name plus an affiliation such as "German") so a person's
  full name or surname resolves to their country or body.

`canonical(name)` gives the actor's canonical name ("Japan" for "Japanese", "Tokyo", "Japan's");
a name no table knows comes back cleaned ("the Velmora Institute's" -> "Velmora Institute"), so equal
unknown names still compare equal through `same_actor`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from index.analysis import SentenceAnalysis
from index.errors import RagError
from index.language.words import NAME_PARTICLES

# Seats of power named in place of their government (metonyms); general knowledge, not a corpus list.
SEATS: Mapping[str, str] = {
    "Kremlin": "Russia",
    "White House": "United States",
    "Pentagon": "United States",
    "State Department": "United States",
    "Capitol Hill": "United States",
    "Downing Street": "United Kingdom",
    "Number 10": "United Kingdom",
    "Whitehall": "United Kingdom",
    "Élysée": "France",
    "Élysée Palace": "France",
    "Quai d'Orsay": "France",
    "Zhongnanhai": "China",
    "Blue House": "South Korea",
}
# Short forms English news uses that the country data does not list.
SHORT_FORMS: Mapping[str, tuple[str, ...]] = {
    "United States": ("US", "USA", "America", "United States of America"),
    "United Kingdom": ("UK", "Britain", "Great Britain"),
    "Netherlands": ("Holland",),
    "Turkey": ("Türkiye", "Turkiye"),
    "Czechia": ("Czech Republic",),
    "South Korea": ("Korea", "Republic of Korea"),
    "North Korea": ("DPRK",),
}
# International bodies and regions: name -> other names and adjectives ("European" is Europe; the
# European Union is its own actor).
BODIES: Mapping[str, tuple[str, ...]] = {
    "NATO": ("North Atlantic Treaty Organization", "North Atlantic Treaty Organisation", "North Atlantic Alliance"),
    "European Union": ("EU",),
    "United Nations": ("UN",),
    "Europe": ("European",),
    "Africa": ("African",),
    "Asia": ("Asian",),
    "G7": ("Group of Seven",),
    "G20": ("Group of Twenty",),
}
# A surname this close to a known one (rapidfuzz ratio, 0-100) is the same person spelled another
# way ("Okonkwo" / "Okonkwoh"); only for surnames of at least SURNAME_MIN_CHARS letters.
SURNAME_SIMILARITY = 88
SURNAME_MIN_CHARS = 5
# "EU-style", "U.S.-led": the actor before a hyphenated modifier.
_MODIFIER = re.compile(r"[-‐‑–](?:led|backed|run|style|based|made|hosted|brokered|funded|imposed)$", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")


class AliasDataError(RagError):
    """The general country data behind actor aliases is not installed."""


def fold_key(text: str) -> str:
    """The comparison form of a name: accents, case, dots, possessive and a leading "the" dropped."""
    text = text.strip().replace("’", "'")
    text = _MODIFIER.sub("", text)
    text = _POSSESSIVE.sub("", text).strip()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"^the\s+", "", text, flags=re.IGNORECASE)
    text = text.replace(".", "")
    text = re.sub(r"[‐‑–]", "-", text)  # one hyphen; a hyphenated surname stays one word
    return re.sub(r"\s+", " ", text).strip().lower()


def clean_name(text: str) -> str:
    """A name as written minus possessive, hyphenated modifier and leading "the" ("the Pentagon's" -> "Pentagon")."""
    text = _MODIFIER.sub("", text.strip().replace("’", "'"))
    text = _POSSESSIVE.sub("", text).strip()
    return re.sub(r"^the\s+", "", text, flags=re.IGNORECASE)


def _is_code(alias: str) -> bool:
    return alias.replace(".", "").isupper() and len(alias.replace(".", "")) <= 4


@lru_cache(maxsize=1)
def general_aliases() -> tuple[Mapping[str, str], Mapping[str, str]]:
    """(alias key -> actor, code -> actor) from the country data and the tables above.

    Codes ("US", "UK", "EU") match only when written in capitals, so the pronoun "us" is not a
    country. Where two entries share an alias ("French": France and French Guiana) the more
    populous wins. ISO codes of two letters are left out ("IT", "IN", "AI" are words too).
    """
    try:
        from countryinfo import (
            CountryInfo,  # the data is read once; importing costs ~0.1 s
        )
    except ImportError as exc:
        raise AliasDataError(
            "Country data for actor names is missing: the `countryinfo` package is not "
            "installed. Install the project again (`pip install -e .`)."
        ) from exc

    names: dict[str, tuple[int, str]] = {}
    codes: dict[str, str] = {}

    def add(alias: str, actor: str, weight: int) -> None:
        if not alias:
            return
        if _is_code(alias):
            codes.setdefault(alias.replace(".", ""), actor)
            return
        key = fold_key(alias)
        if key and (key not in names or names[key][0] < weight):
            names[key] = (weight, actor)

    for data in CountryInfo.all().values():
        actor = data["name"]
        weight = int(data.get("population") or 0)
        iso = data.get("ISO") or {}
        add(actor, actor, weight)
        for alt in data.get("altSpellings") or ():
            if alt != iso.get("alpha2"):
                add(alt, actor, weight)
        for demonym in (data.get("demonym") or "").split(","):
            add(demonym.strip(), actor, weight)
        for capital in _capitals_of(data):
            add(capital, actor, weight)
    top = 10**12  # the tables below override the data
    for actor, forms in SHORT_FORMS.items():
        for form in (actor, *forms):
            if _is_code(form):
                codes[form] = actor
            else:
                names[fold_key(form)] = (top, actor)
    for actor, forms in BODIES.items():
        for form in (actor, *forms):
            if _is_code(form):
                codes[form] = actor
            names[fold_key(form)] = (top, actor)
    for seat, actor in SEATS.items():
        names[fold_key(seat)] = (top, actor)
    return {k: actor for k, (_, actor) in names.items()}, codes


def general_actor(name: str) -> str | None:
    """The country or body a name stands for by general knowledge, or None."""
    cleaned = clean_name(name)
    if not cleaned:
        return None
    names, codes = general_aliases()
    bare = cleaned.replace(".", "")
    if _is_code(cleaned) and bare in codes:
        return codes[bare]
    key = fold_key(cleaned)
    if key in names:
        return names[key]
    if key.endswith("s") and key[:-1] in names:
        return names[key[:-1]]  # "Brazilians", "Kenyans"
    return None


def _is_group(name: str) -> bool:
    """ "German officials", "Smith and Jones": speakers that are not one named person."""
    words = re.findall(r"[\w'-]+", name)
    return any(w.islower() and w not in NAME_PARTICLES for w in words)


@dataclass(frozen=True)
class Person:
    """A person the articles quote, with the actor their title or apposition ties them to."""

    name: str
    actor: str | None = None


@dataclass
class ActorIndex:
    """Resolves names to actors using general data plus the people found in a corpus."""

    people: dict[str, Person] = field(default_factory=dict)  # fold_key(full name) -> Person
    _surnames: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def from_analyses(cls, analyses: Iterable[SentenceAnalysis]) -> ActorIndex:
        """People from every speaker the index found; a person's actor is their most frequent affiliation."""
        affiliations: dict[str, Counter[str]] = defaultdict(Counter)
        full: dict[str, str] = {}
        for analysis in analyses:
            for speaker in analysis.speakers:
                name = clean_name(speaker.name)
                key = fold_key(name)
                if not key or general_actor(name) is not None or _is_group(name):
                    continue  # "Canada said", "German officials said": not one person
                if len(name) > len(full.get(key, "")):
                    full[key] = name
                if speaker.affiliation:
                    affiliations[key][canonical_general(speaker.affiliation)] += 1
        index = cls()
        # Fullest names first, so a later bare surname joins its person instead of shadowing it.
        for key, name in sorted(full.items(), key=lambda item: -len(item[0].split())):
            counts = affiliations.get(key)
            index.add(Person(name, counts.most_common(1)[0][0] if counts else None))
        return index

    def to_json(self) -> bytes:
        """The people, in the order they were added (persisted with the index: `actors.json`)."""
        rows = [[key, p.name, p.actor] for key, p in self.people.items()]
        return json.dumps({"people": rows}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> ActorIndex:
        """Read `to_json` output back (`ValueError`, `TypeError` or `KeyError` if it is off)."""
        index = cls()
        for key, name, actor in json.loads(data)["people"]:
            if not isinstance(key, str) or not isinstance(name, str) or not isinstance(actor, (str, type(None))):
                raise ValueError(f"actors.json has a person of the wrong shape: {[key, name, actor]!r}")
            index.people[key] = Person(name, actor)
            index._surnames[key.split()[-1]].add(key)
        return index

    def add(self, person: Person) -> None:
        key = fold_key(person.name)
        # A shorter form of a name already known ("Okonkwo" after "Ada Okonkwo") is the same person.
        known = self.person(person.name)
        if known is not None and len(known.name) >= len(person.name):
            if known.actor is None and person.actor is not None:
                self.people[fold_key(known.name)] = Person(known.name, person.actor)
            return
        self.people[key] = person
        self._surnames[key.split()[-1]].add(key)

    def person(self, name: str) -> Person | None:
        """The known person a name (full, surname alone, or a close spelling of it) refers to."""
        key = fold_key(clean_name(name))
        if not key:
            return None
        if key in self.people:
            return self.people[key]
        surname = key.split()[-1]
        candidates = self._surnames.get(surname)
        if not candidates and len(surname) >= SURNAME_MIN_CHARS:
            from rapidfuzz import fuzz

            candidates = set()
            for known, keys in self._surnames.items():
                if known[0] == surname[0] and fuzz.ratio(known, surname) >= SURNAME_SIMILARITY:
                    candidates |= keys
        if not candidates:
            return None
        given = [w for w in key.split()[:-1] if w not in NAME_PARTICLES]  # "von der Berg" has no given name
        if given:  # "Ada Okonkwo" must not resolve to another Okonkwo
            candidates = {k for k in candidates if k.split()[0] == given[0]} or (
                candidates if len(candidates) == 1 and len(next(iter(candidates)).split()) == 1 else set()
            )
        if len({self.people[k].name for k in candidates}) != 1:
            return None  # two people share the surname: ambiguous
        return self.people[next(iter(candidates))]

    def canonical(self, name: str) -> str:
        """The actor a name stands for: a country or body, a person's affiliation, else the name cleaned."""
        actor = general_actor(name)
        if actor is not None:
            return actor
        person = self.person(name)
        if person is not None and person.actor is not None:
            return person.actor
        return clean_name(name)

    def is_known(self, name: str) -> bool:
        return general_actor(name) is not None or self.person(name) is not None

    def same_actor(self, a: str, b: str) -> bool:
        """Equal canonical actors; for names no table knows, also a short form of a longer one
        ("the Commission" and "European Commission")."""
        ka, kb = fold_key(self.canonical(a)), fold_key(self.canonical(b))
        if ka == kb:
            return True
        if not ka or not kb or self.is_known(a) and self.is_known(b):
            return False
        short, long = sorted((ka.split(), kb.split()), key=len)
        return long[-len(short) :] == short

    def same_person(self, a: str, b: str) -> bool:
        """Whether two names are one person (a known person by any form, else equal cleaned names)."""
        pa, pb = self.person(a), self.person(b)
        if pa is not None and pb is not None:
            return pa.name == pb.name
        ka, kb = fold_key(clean_name(a)), fold_key(clean_name(b))
        return ka == kb or (
            pa is None
            and pb is None
            and ka.split()[-1:] == kb.split()[-1:]
            and (len(ka.split()) == 1 or len(kb.split()) == 1)
        )


@lru_cache(maxsize=1)
def _demonyms() -> frozenset[str]:
    from countryinfo import CountryInfo

    return frozenset(
        fold_key(d.strip())
        for data in CountryInfo.all().values()
        for d in (data.get("demonym") or "").split(",")
        if d.strip()
    )


def _capitals_of(data: Mapping) -> list[str]:
    """A country entry's capitals as written and without "D.C." ("Washington D.C." -> "Washington");
    a few countries list several."""
    capitals = data.get("capital") or ()
    out = []
    for capital in [capitals] if isinstance(capitals, str) else capitals:
        out += [capital.strip(), re.sub(r",?\s*D\.?C\.?$", "", capital.strip())]
    return out


@lru_cache(maxsize=1)
def _capitals() -> frozenset[str]:
    """Folded names of every country's capital in the general data."""
    from countryinfo import CountryInfo

    return frozenset(fold_key(c) for data in CountryInfo.all().values() for c in _capitals_of(data))


def is_country_or_body(name: str) -> bool:
    """Whether `name` names a country or body itself ("Ukraine", "U.S.", "Ukrainian", "EU"), not a
    city that stands for one ("Kyiv", "Paris"): "Which city ...?" is not answered by a country."""
    try:
        return general_actor(name) is not None and fold_key(clean_name(name)) not in _capitals()
    except ImportError:  # no country data: general_aliases already says what to install
        return False


def is_demonym(name: str) -> bool:
    """Whether `name` is a people's adjective ("Peruvian", "British") in the general country data:
    a message then names the country it stands for, not the adjective."""
    try:
        return fold_key(clean_name(name)) in _demonyms()
    except ImportError:  # no country data: general_aliases already says what to install
        return False


def canonical_general(name: str) -> str:
    """`ActorIndex.canonical` without corpus people."""
    return general_actor(name) or clean_name(name)


def canonical(name: str, index: ActorIndex | None = None) -> str:
    return (index or ActorIndex()).canonical(name)
