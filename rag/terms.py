"""Turning text into search terms for BM25 and lexical overlap.

Numbers survive intact ("800,000" -> "800000", "0.25%" -> "0.25" + "percent", "$60" -> "60" +
"usd") because figures are what users ask about and what dense embeddings blur. The spelled-out
forms meet the symbols: "euros" -> "eur", "per cent" -> "percent", "bn" -> "billion", "ten" ->
"10". Curly quotes, Unicode dashes, no-break spaces and accents ("Sánchez", "Türkiye") are folded
first, then words are Porter-stemmed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from nltk.stem import PorterStemmer

from rag.figures import CURRENCY
from rag.spans import fold

# Currency symbols and one-word currency names, from `rag.figures.CURRENCY` (one table for both).
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
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero _ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
    if w != "_"
} | {"thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "dozen": "12"}
# "one" stays a word: it is mostly a pronoun ("the one who..."), not a count.
_PER_CENT = re.compile(r"\bper\s+cent\b", re.I)
# British/American spellings that the articles mix.
_SPELLING = {"defence": "defense", "favour": "favor", "programme": "program", "labour": "labor"}
# Irregular verb forms Porter cannot join to their base ("led" vs "lead").
_IRREGULAR = {
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
_EXTRA_STOP = {"also", "would", "could", "said", "say", "says", "according", "one", "much", "many", "whose"}

# Country abbreviations that would otherwise vanish ("US" is the stopword "us", "U.S." splits
# into single letters). Applied case-sensitively before lower-casing.
_ALIASES = [
    (re.compile(r"\bU\.S\.(?:A\.)?|\bUSA?\b|\bUnited States\b|\bAmerica\b"), " usa "),
    (re.compile(r"\bU\.K\.|\bUK\b|\bUnited Kingdom\b|\bBritain\b"), " uk "),
    (re.compile(r"\bE\.U\.|\bEU\b|\bEuropean Union\b"), " eu "),
]

_stemmer = PorterStemmer()


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    # llama-index-core ships NLTK's stopword list; no download.
    from llama_index.core.utils import globals_helper

    return frozenset(globals_helper.stopwords) | _EXTRA_STOP


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    word = _IRREGULAR.get(word, _SPELLING.get(word, word))
    if word.endswith(("ise", "ised", "ising", "isation")):
        word = word.replace("is", "iz", 1) if word.count("is") == 1 else word
    return _stemmer.stem(word)


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
