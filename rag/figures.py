"""Finding the figures a text states, in one comparable form.

A *figure* is anything a reader could check against a source: a number ("800,000", "ten"), a
money amount ("$60 billion", "60 billion dollars"), a share ("0.25%", "a fifth", "half"), a
year, a month or a weekday. `figures(text)` finds them with their offsets; `supported_by`
decides whether one figure is stated by any of another text's figures.

Written forms are normalised so that equal values compare equal:
    "$60 billion" = "60 billion dollars" = "USD 60bn"     -> money 6e10 USD
    "800,000" = "800 000" = "800000"                      -> number 800000
    "20%" = "20 percent" = "a fifth"                      -> share 0.2
    "ten" = "10"                                          -> number 10

Kinds of figure are one vocabulary, `index.analysis.FIGURE_KINDS` ("money", "percent", "count",
"date"), and a `Figure` has one of them. Which kind a question asks for (`asked_kind`) and which
kinds a text states (`has_kind`, `kinds_in`) are cheap pattern cues, no parsing, that run on every
unit at index and query time: they live in `index.terms`, which the index uses to build BM25.

Detection is deliberately generous (a digit inside a name such as "G7" counts): the same
extractor runs over the answer and over the cited spans, so a name matches itself, and a figure
that slipped past detection could slip past verification.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable

from index.language.words import SMALL_NUMBER_WORDS, TENS_WORDS
from index.terms import CURRENCY, MONTHS, WEEKDAYS, fold

_SCALES = {
    "hundred": 1e2,
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "k": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "bn": 1e9,
    "b": 1e9,
    "tn": 1e12,
}
# A number as written: grouped thousands (comma, or a plain/thin/no-break space), or plain digits,
# with optional decimals. The look-behind stops a match starting inside another number.
_NUMBER = r"\d{1,3}(?:(?:,|[ \u00a0\u202f\u2009])\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?"
_NUMERIC = re.compile(
    r"(?P<cur1>US\$|[$€£]|\b(?:USD|EUR|GBP)\s?)?"
    r"(?<![\d.,])(?P<num>" + _NUMBER + r")"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|tn|mn)\b"
    r"|(?P<short>[kmb])\b)?"  # "$5m", "€3b": only counted as a scale next to a currency
    r"(?:\s?(?P<pct>%|per\s?cent\b|percent\b|percentage points?\b))?"
    r"(?:\s(?P<cur2>(?:US\s)?dollars?\b|euros?\b|pounds?(?:\ssterling)?\b|USD\b|EUR\b|GBP\b))?",
    re.IGNORECASE,
)

# "one" is left out: "one of the", "no one" are not figures.
_UNITS = {w: i for i, w in enumerate(SMALL_NUMBER_WORDS) if w != "one"}
_TENS = {w: 10 * (i + 2) for i, w in enumerate(TENS_WORDS)}
_WORD_NUMBER = (
    r"(?:(?:" + "|".join(_TENS) + r")(?:[-\s](?:one|" + "|".join(_UNITS) + r"))?"
    r"|" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r"|dozen|a dozen|hundred|a hundred)"
)
_WORDS = re.compile(
    r"\b(?P<word>" + _WORD_NUMBER + r")\b(?:\s(?P<scale>hundred|thousand|million|billion|trillion)\b)?"
    r"(?:\s(?P<pct>percent|per cent)\b)?",
    re.IGNORECASE,
)
_FRACTION_DENOMINATORS = {
    "half": 2,
    "halves": 2,
    "third": 3,
    "thirds": 3,
    "quarter": 4,
    "quarters": 4,
    "fourth": 4,
    "fourths": 4,
    "fifth": 5,
    "fifths": 5,
    "sixth": 6,
    "tenth": 10,
    "tenths": 10,
}
_FRACTIONS = re.compile(
    r"\b(?:(?P<count>a|an|one|two|three|four|nine)[\s-])?(?P<denominator>halves|half|thirds?|quarters?|fourths?|"
    r"fifths?|sixth|tenths?)\b",
    re.IGNORECASE,
)
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "nine": 9}

# Case-sensitive: "may" the verb is not May the month.
_CALENDAR = re.compile(r"\b(?P<name>" + "|".join(MONTHS + WEEKDAYS) + r")\b")


@dataclass(frozen=True)
class Figure:
    """One figure as written in a text, with the value it stands for."""

    text: str
    start: int
    end: int
    kind: str  # one of index.analysis.FIGURE_KINDS
    value: float  # absolute: 6e10 for "$60 billion", 0.0025 for "0.25%", 3 for "March"
    unit: str = ""  # currency code for money; "month" or "weekday" for a date
    mantissa: float | None = None  # the digits as written, before scale: 60 for "$60 billion"

    def to_dict(self) -> dict:
        return {"text": self.text, "kind": self.kind, "value": self.value, "unit": self.unit}


def _parse_number(raw: str) -> float:
    return float(re.sub(r"[,\s\u00a0\u202f\u2009]", "", raw))


def _currency(*raw: str | None) -> str:
    for r in raw:
        if r:
            return CURRENCY.get(fold(r).strip().lower(), "")
    return ""


def _numeric(text: str) -> list[Figure]:
    out = []
    for m in _NUMERIC.finditer(text):
        unit = _currency(m.group("cur1"), m.group("cur2"))
        mantissa = _parse_number(m.group("num"))
        scale_word = (m.group("scale") or (m.group("short") if unit else "") or "").lower()
        value = mantissa * _SCALES.get(scale_word, 1.0)
        end = m.end() if (scale_word or not m.group("short")) else m.end("num")
        if m.group("pct"):
            out.append(Figure(text[m.start("num") : end], m.start("num"), end, "percent", value / 100, "", mantissa))
        elif unit:
            out.append(Figure(text[m.start() : end], m.start(), end, "money", value, unit, mantissa))
        else:
            out.append(Figure(text[m.start("num") : end], m.start("num"), end, "count", value, "", mantissa))
    return out


def _word_value(word: str) -> float:
    word = word.lower().replace("-", " ")
    if word in ("dozen", "a dozen"):
        return 12
    if word in ("hundred", "a hundred"):
        return 100
    parts = word.split()
    value = _TENS.get(parts[0], _UNITS.get(parts[0], 0))
    if len(parts) > 1:
        value += 1 if parts[1] == "one" else _UNITS.get(parts[1], 0)
    return value


def _words(text: str) -> list[Figure]:
    out = []
    for m in _WORDS.finditer(text):
        value = _word_value(m.group("word")) * _SCALES.get((m.group("scale") or "").lower(), 1.0)
        kind = "percent" if m.group("pct") else "count"
        out.append(Figure(m.group(0), m.start(), m.end(), kind, value / 100 if m.group("pct") else value, "", value))
    for m in _FRACTIONS.finditer(text):
        denominator = _FRACTION_DENOMINATORS[m.group("denominator").lower()]
        count = _COUNTS.get((m.group("count") or "").lower())
        if count is None and denominator != 2:
            continue  # "the third round" is an ordinal, not a share
        out.append(Figure(m.group(0), m.start(), m.end(), "percent", (count or 1) / denominator))
    for m in _CALENDAR.finditer(text):
        name = m.group("name")
        unit, index = ("month", MONTHS.index(name) + 1) if name in MONTHS else ("weekday", WEEKDAYS.index(name) + 1)
        out.append(Figure(name, m.start(), m.end(), "date", index, unit))
    return out


def figures(text: str) -> list[Figure]:
    """Every figure in `text`, in order, with offsets into `text`; overlaps keep the longer one."""
    found = sorted(_numeric(text) + _words(text), key=lambda f: (f.start, -(f.end - f.start)))
    out: list[Figure] = []
    for f in found:
        if out and f.start < out[-1].end:
            continue
        out.append(f)
    return out


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def supports(stated: Figure, claimed: Figure) -> bool:
    """Whether `stated` (in a source) says what `claimed` (in an answer) says."""
    if claimed.kind == "money":
        # An answer's currency must be the source's: "$60 billion" is not "60 billion euros".
        return stated.kind == "money" and stated.unit == claimed.unit and _same(stated.value, claimed.value)
    if claimed.kind == "percent":
        return stated.kind == "percent" and _same(stated.value, claimed.value)
    if claimed.kind == "date":  # March is not Wednesday, though both are the third
        return stated.kind == "date" and stated.unit == claimed.unit and _same(stated.value, claimed.value)
    # A bare number is stated when the source has that value in any form ("60 billion" by
    # "$60 billion", "ten" by "10") or has those very digits before a scale or sign ("0.25" by "0.25%").
    if stated.kind in ("count", "money") and _same(stated.value, claimed.value):
        return True
    return (
        stated.mantissa is not None
        and claimed.mantissa is not None
        and _same(stated.mantissa, claimed.value)
        and _same(claimed.value, claimed.mantissa)
    )


def supported_by(claimed: Figure, stated: Iterable[Figure]) -> Figure | None:
    """The first of `stated` that supports `claimed`, or None."""
    return next((s for s in stated if supports(s, claimed)), None)


__all__ = [
    "Figure",
    "figures",
    "supported_by",
    "supports",
]
