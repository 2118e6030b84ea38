"""The periods a text names, as spans of years: a year, a decade, a century.

A question that fixes a period ("in 2025", "in the 1990s", "in the 10th century", "in the 1100s")
is answered only by a sentence about that period. Reading each form as a span of years lets one
overlap test compare them all: "1066" lies in "the 11th century", "the 1050s" in "the 1000s".

Bare four-digit numbers from 1000 to 2099 read as years (as in news and encyclopaedic text alike);
a three-digit number reads as a year only after a word that introduces a date ("in 911", "by 980"),
since "30 troops" or "120 billion" are not years.
"""

from __future__ import annotations

import re

from index.language.words import ORDINAL_WORDS

Period = tuple[int, int]  # first and last year, inclusive

_YEAR = re.compile(r"(?<![\d,.$€£])(?:1\d|20)\d\d(?![\d%]|[.,]\d|'?s\b)")
_EARLY_YEAR = re.compile(
    r"\b(?:in|by|from|until|till|since|around|about|circa|c\.|AD|A\.D\.)\s+(\d{3})(?![\d%,.]|'?s\b)"
)
_DECADES = re.compile(r"\b((?:1\d|20)\d)0'?s\b")  # "1990s", "1990's"; "1100s" is a century (below)
_CENTURY_YEARS = re.compile(r"\b(\d{1,2})00'?s\b")  # "the 1100s" = 1100 to 1199
_ORDINALS = {word: n for n, word in enumerate(ORDINAL_WORDS, start=1)}
_CENTURY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)[\s-]+century\b|\b([a-z]+)[\s-]+century\b", re.I)
# Years told relative to the article's date: "next year" in an article of 2025 is 2026.
_RELATIVE_YEAR = {
    re.compile(r"\bnext year\b|\bthe coming year\b", re.I): 1,
    re.compile(r"\bthis year\b", re.I): 0,
    re.compile(r"\blast year\b|\bthe previous year\b", re.I): -1,
}


def _century(n: int) -> Period:
    """The n-th century, read generously: "the 10th century" is 901 to 1000 by the book and 900 to
    999 as most people write it, so both ends are in."""
    return (100 * (n - 1), 100 * n)


def periods_in(text: str, published: str = "") -> set[Period]:
    """Every period `text` names, and "next / this / last year" against the article's date
    (YYYY-MM-DD) when it has one."""
    found: set[Period] = set()
    for m in _CENTURY.finditer(text):
        n = int(m.group(1)) if m.group(1) else _ORDINALS.get(m.group(2).lower(), 0)
        if 0 < n <= 21:
            found.add(_century(n))
    for m in _CENTURY_YEARS.finditer(text):
        start = 100 * int(m.group(1))
        found.add((start, start + 99))
    for m in _DECADES.finditer(text):
        if not m.group(1).endswith("0"):
            start = 10 * int(m.group(1))
            found.add((start, start + 9))
    found |= {(int(y), int(y)) for y in _YEAR.findall(text)}
    found |= {(int(y), int(y)) for y in _EARLY_YEAR.findall(text)}
    if published[:4].isdigit():
        year = int(published[:4])
        found |= {(year + shift, year + shift) for pattern, shift in _RELATIVE_YEAR.items() if pattern.search(text)}
    return found


def overlap(asked: set[Period], stated: set[Period]) -> bool:
    """Whether any stated period falls, even in part, in an asked one."""
    return any(a0 <= s1 and s0 <= a1 for a0, a1 in asked for s0, s1 in stated)


__all__ = ["Period", "overlap", "periods_in"]
