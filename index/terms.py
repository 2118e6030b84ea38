"""Search terms: the one tokenizer both the index (BM25 built at index time) and questions use.

It lives in `index/` because the index persists what it derives from text (BM25, same-story
groups) and `index/` imports nothing of `rag/`; the answer side (`rag.retrieval`, `rag.figures`,
`rag.verify`, ...) imports these pieces from here, so a unit is tokenised the same way at build and
at query time.

Numbers survive intact ("800,000" -> "800000", "0.25%" -> "0.25" + "percent", "$60" -> "60" +
"usd") because figures are what users ask about and what dense embeddings blur. The spelled-out
forms meet the symbols: "euros" -> "eur", "per cent" -> "percent", "bn" -> "billion", "ten" ->
"10". Curly quotes, Unicode dashes, no-break spaces and accents are folded first, then words are
Porter-stemmed. A unit also carries one answer-type token per kind of figure it states
(`<money>`, `<percent>`, `<count>`, `<date>`; `kinds_in` finds them with cheap pattern cues).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from index.language.words import IRREGULAR_PAST_FORMS, SEARCH_STOPWORDS, SMALL_NUMBER_WORDS, SPELLING_VARIANTS

if TYPE_CHECKING:
    from nltk.stem import PorterStemmer

_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u202f": " ",
        "\u2009": " ",
        "\u200b": "",
    }
)
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Canonical form for matching: NFKC, straight quotes, ASCII hyphens, single spaces."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).translate(_FOLD)).strip()


# Every written form of a currency, mapped to its ISO code (the tokenizer derives its search terms from it).
CURRENCY = {
    "$": "USD",
    "us$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "us dollars": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "pounds sterling": "GBP",
}

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# The order `asked_kind` tries them in: "how much of" asks for a share before an amount.
ASKED_ORDER = ("percent", "money", "count", "date")
# What a question says when it asks for each kind: a question phrase ("how much", "what share"),
# or for a date a question that opens with "when" ("Who led X when Y fell?" asks for a person).
# Words that merely name a kind ("assets", "funding", "budget") do not ask for it: "What motive lay
# behind the decision to freeze the assets?" asks for a reason.
KIND_ASKS = {
    "money": re.compile(r"\bhow much\b|\bwhat (?:amount|sum|price|value)\b"),
    "percent": re.compile(
        r"\bwhat (?:percentage|share|portion|fraction|proportion)\b|\bhow big a part\b|\bby how much\b|"
        r"\bhow many times\b|\bhow much of\b"
    ),
    "count": re.compile(r"\bhow many\b|\bhow large\b|\bhow big\b|\bhow strong\b|\bwhat number\b"),
    "date": re.compile(r"^\W*(?:since |by |until |till )?when\b|\b(?:what|which) (?:year|day|date|month)\b"),
}
_CURRENCY_SYMBOLS = "".join(sorted(c for c in CURRENCY if len(c) == 1))
# A quick test that a text states a kind of figure (looser than `figures`: "times", "doubles").
KIND_FIGURES = {
    "money": re.compile(
        r"[" + _CURRENCY_SYMBOLS + r"]\s?\d|\b\d[\d,.]*\s?(?:billion|million|trillion)\b|\bdollars?\b|\beuros?\b"
    ),
    "percent": re.compile(
        r"\d\s?%|\bper ?cent\b|\bhalf\b|\ba (?:fifth|quarter|third)\b|\bdoubles?\b|\btwice\b|\btimes\b"
    ),
    "count": re.compile(
        r"\b\d[\d,.]*\b|\b(?:two|three|four|five|six|seven|eight|nine|ten|dozen|twenty|thirty)\b", re.I
    ),
    # A year of the last two millennia, a decade ("the 1050s"), a century ("the 11th century",
    # "the eleventh century"), a three-digit year after a preposition ("in 911"), a weekday, a month.
    "date": re.compile(
        r"\b(?:1\d|20)\d\d\b|\b\d{2,3}0s\b|\b(?:\d{1,2}(?:st|nd|rd|th)|[a-z]+(?:th|st|nd|rd))[ -]centur(?:y|ies)\b|"
        r"\b(?:in|by|from|until|till|since|around|about|before|after|of)\s+\d{3}\b|"
        r"\b(?:" + "|".join(WEEKDAYS) + r")\b|\b(?:" + "|".join(MONTHS) + r")\b",
        re.I,
    ),
}


def asked_kind(question: str) -> str | None:
    """The kind of figure (one of `index.analysis.FIGURE_KINDS`) a question's wording asks for.

    Cue phrases, no parse. The question reader (`rag.question.analyse_question`) reads the parse
    first and takes this only where the parse finds no figure asked, so that `Ask.kind` is the one
    reading every stage uses; BM25's answer-type token (`rag.retrieval.question_terms`) uses this
    alone."""
    q = fold(question).lower()
    return next((kind for kind in ASKED_ORDER if KIND_ASKS[kind].search(q)), None)


def has_kind(text: str, kind: str | None) -> bool:
    """Whether `text` states a figure of `kind` (False for no kind)."""
    return kind is not None and bool(KIND_FIGURES[kind].search(fold(text)))


def kinds_in(text: str) -> list[str]:
    """Every kind of figure `text` states (one fold for all kinds: this runs on every unit)."""
    folded = fold(text)
    return [kind for kind in ASKED_ORDER if KIND_FIGURES[kind].search(folded)]


# Currency symbols and one-word currency names, from `CURRENCY` above (one table for both).
_CURRENCY = {c: code.lower() for c, code in CURRENCY.items() if len(c) == 1}
_CURRENCY_WORDS = {w: code.lower() for w, code in CURRENCY.items() if w.isalpha() and w != code.lower()}
_SYMBOLS = "".join(_CURRENCY)
_TOKEN = re.compile(r"[" + _SYMBOLS + r"]?\d+(?:[.,]\d+)*%?|[a-z]+")
# Words that name a unit the symbols above or a number already stand for, mapped to that form,
# so "210 billion euros" meets "€210 billion" and "ten leaders" meets "10 leaders".
_UNIT_WORDS = _CURRENCY_WORDS | {
    "percentage": "percent",
    "pct": "percent",
    "bn": "billion",
    "mn": "million",
    "tn": "trillion",
}
# "one" stays a word: it is mostly a pronoun ("the one who..."), not a count.
_NUMBER_WORDS = {w: str(i) for i, w in enumerate((*SMALL_NUMBER_WORDS, "twenty")) if w != "one"} | {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    "dozen": "12",
}
_PER_CENT = re.compile(r"\bper\s+cent\b", re.I)

# Country abbreviations that would otherwise vanish ("US" is the stopword "us", "U.S." splits
# into single letters). Applied case-sensitively before lower-casing.
_ALIASES = [
    (re.compile(r"\bU\.S\.(?:A\.)?|\bUSA?\b|\bUnited States\b|\bAmerica\b"), " usa "),
    (re.compile(r"\bU\.K\.|\bUK\b|\bUnited Kingdom\b|\bBritain\b"), " uk "),
    (re.compile(r"\bE\.U\.|\bEU\b|\bEuropean Union\b"), " eu "),
]


@lru_cache(maxsize=1)
def _stemmer() -> PorterStemmer:
    """nltk's Porter stemmer, imported at the first stemmed word: `import nltk` loads most of nltk
    and scipy (seconds), which a process that only loads or saves an index never needs."""
    from nltk.stem import PorterStemmer

    return PorterStemmer()


# Where llama-index-core keeps NLTK's English stopword list, inside its package folder.
STOPWORDS_FILE = ("_static", "nltk_cache", "corpora", "stopwords", "english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """NLTK's English stopwords, which llama-index-core ships (no download), plus ours.

    Read from the package folder: importing `llama_index.core` to ask it took about a second idle
    (3 s loaded) of the first question in every cold `rag ask`."""
    spec = importlib.util.find_spec("llama_index.core")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder).joinpath(*STOPWORDS_FILE)
        if path.is_file():
            return (
                frozenset(w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip())
                | SEARCH_STOPWORDS
            )
    from llama_index.core.utils import globals_helper  # another layout: ask the package

    return frozenset(globals_helper.stopwords) | SEARCH_STOPWORDS


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    word = IRREGULAR_PAST_FORMS.get(word, SPELLING_VARIANTS.get(word, word))
    if word.endswith(("ise", "ised", "ising", "isation")):
        word = word.replace("is", "iz", 1) if word.count("is") == 1 else word
    return _stemmer().stem(word)


def _strip_accents(text: str) -> str:
    if text.isascii():  # the common case once fold() has straightened quotes and dashes
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokenize(text: str, keep_stopwords: bool = False) -> list[str]:
    """Search terms of `text`: figures kept whole, words folded and stemmed, stopwords dropped."""
    out: list[str] = []
    stop = stopwords()
    # fold() keeps the currency symbols, which NFKD would not touch either.
    text = _strip_accents(fold(text))
    for pattern, alias in _ALIASES:
        text = pattern.sub(alias, text)
    text = _PER_CENT.sub(" percent ", text)
    for raw in _TOKEN.findall(text.lower()):
        if raw[0].isdigit() or raw[0] in _CURRENCY:
            currency = _CURRENCY.get(raw[0])
            number = raw.lstrip(_SYMBOLS)
            if number.endswith("%"):
                out += [number[:-1].replace(",", ""), "percent"]
            else:
                out.append(number.replace(",", "").rstrip("."))
            if currency:
                out.append(currency)
        elif raw in _UNIT_WORDS:
            out.append(_UNIT_WORDS[raw])
        elif raw in _NUMBER_WORDS:
            out.append(_NUMBER_WORDS[raw])
        elif keep_stopwords or (raw not in stop and len(raw) > 1):
            out.append(_stem(raw))
    return out


def numbers_in(text: str) -> list[str]:
    """The bare numbers a text states, normalised as `tokenize` does."""
    return [t for t in tokenize(text, keep_stopwords=True) if t[0].isdigit()]


def answer_type_token(kind: str) -> str:
    """The pseudo-term for a kind of figure; `tokenize` never produces '<'."""
    return f"<{kind}>"


def unit_terms(text: str) -> list[str]:
    """BM25 terms of a unit: its tokens plus one answer-type token per kind of figure it states."""
    return tokenize(text) + [answer_type_token(k) for k in kinds_in(text)]
