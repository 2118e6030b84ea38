"""Span overlap: one rule for the engine, dedup, the UI and eval."""

from __future__ import annotations

import pytest

from rag.spans import Range, overlaps
from rag.types import Citation


@pytest.mark.parametrize("a, b, expected", [
    (Range("a.txt", 0, 10), Range("a.txt", 9, 20), True),
    (Range("a.txt", 0, 10), Range("a.txt", 10, 20), False),  # end is exclusive: touching is not sharing
    (Range("a.txt", 5, 6), Range("a.txt", 0, 100), True),
    (Range("a.txt", 0, 10), Range("b.txt", 0, 10), False),  # another article
])
def test_overlaps_is_symmetric_and_end_exclusive(a, b, expected):
    assert overlaps(a, b) is expected and overlaps(b, a) is expected


def test_a_citation_and_a_gold_range_compare_by_source():
    c = Citation("a", "a.txt", 3, 6, "abc")
    assert overlaps(c, Range("a.txt", 5, 9)) and not overlaps(c, Range("b.txt", 5, 9))
