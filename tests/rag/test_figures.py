"""Figures: found with exact offsets, and equal values compare equal whatever the written form."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from index.analysis import FIGURE_KINDS
from index.terms import asked_kind, has_kind, kinds_in
from rag.figures import figures, supported_by, supports


def only(text: str):
    found = figures(text)
    assert len(found) == 1, f"{text!r} -> {found}"
    return found[0]


@pytest.mark.parametrize("stated, claimed", [
    ("$60 billion", "60 billion dollars"),
    ("$60 billion", "USD 60bn"),
    ("€210 billion", "210 billion euros"),
    ("800,000", "800 000"),
    ("800,000", "800000"),
    ("800,000-strong", "800,000"),
    ("0.25%", "0.25 percent"),
    ("20%", "a fifth"),  # "a fifth" needs support, and 20% gives it
    ("a fifth", "20 per cent"),
    ("half", "50%"),
    ("Ten European leaders", "10"),
    ("thirty-four", "34"),
    ("nearly a dozen", "12"),
    ("$60 billion", "60 billion"),  # leaving the currency out states no new figure
    ("0.25%", "0.25"),
    ("March 2025", "March"),
    ("on Tuesday", "Tuesday"),
])
def test_equal_values_support_each_other(stated, claimed):
    assert supported_by(only(claimed), figures(stated)) is not None


@pytest.mark.parametrize("stated, claimed", [
    ("$60 billion", "$70 billion"),
    ("$60 billion", "60 billion euros"),  # a currency the source never states
    ("$60 billion", "60 million dollars"),
    ("60 billion", "$60 billion"),
    ("0.25%", "2.5%"),
    ("0.25%", "25%"),
    ("800,000", "80,000"),
    ("a fifth", "a quarter"),
    ("March", "May"),
    ("Tuesday", "Monday"),
    ("Wednesday", "March"),  # both the third of their calendar
    ("2026", "2027"),
])
def test_different_values_do_not(stated, claimed):
    found = figures(claimed)
    assert found and supported_by(found[-1], figures(stated)) is None


def test_bare_digits_are_stated_by_a_share_but_a_share_is_not_stated_by_bare_digits():
    assert supports(only("20%"), only("20"))
    assert not supports(only("20"), only("20%"))


@pytest.mark.parametrize("text", ["one of the leaders", "the third round", "it may rain", "often", "the tens"])
def test_words_that_are_not_figures(text):
    assert figures(text) == []


def test_worked_example_from_the_corpus():
    text = "“The remaining $60 billion must come from our partners,” Shmyhal said, asking the countries " \
           "present to each allocate at least 0.25% of their 2026 economic power to Ukraine’s defensive effort."
    found = [(f.text, f.kind, f.value, f.unit) for f in figures(text)]
    assert found == [("$60 billion", "money", 60e9, "USD"), ("0.25%", "percent", 0.0025, ""), ("2026", "count", 2026, "")]


def test_money_needs_the_same_currency_and_value():
    assert supports(only("$60 billion"), only("60 billion US dollars"))
    assert not supports(only("£60 billion"), only("$60 billion"))


@given(st.integers(min_value=1000, max_value=10**9))
def test_grouping_styles_are_the_same_number(n):
    plain, commas = str(n), f"{n:,}"
    spaced = commas.replace(",", " ")
    values = {only(t).value for t in (plain, commas, spaced)}
    assert values == {float(n)}


@given(st.integers(min_value=1, max_value=999), st.sampled_from(["million", "billion", "trillion"]))
def test_currency_symbol_and_word_are_the_same_amount(n, scale):
    a, b = only(f"${n} {scale}"), only(f"{n} {scale} dollars")
    assert (a.kind, a.unit, a.value) == (b.kind, b.unit, b.value) == ("money", "USD", b.value)
    assert supports(a, b) and supports(b, a)


_PIECES = list("0123456789 ,.$%€abc-") + ["billion", " percent", "half", "ten", "a fifth", "Tuesday", " dollars"]


@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_every_figure_slices_its_text(text):
    for f in figures(text):
        assert text[f.start:f.end] == f.text


def test_one_vocabulary_of_kinds_with_the_index():
    text = "On Monday, 2026, the $60 billion plan took 20% of 800,000 troops."
    assert {f.kind for f in figures(text)} <= set(FIGURE_KINDS)
    assert set(kinds_in(text)) == set(FIGURE_KINDS)


@pytest.mark.parametrize("question, kind", [
    ("How much of the budget goes to defence?", "percent"),
    ("How much must partners pay?", "money"),
    ("How many troops will deploy?", "count"),
    ("When was the summit held?", "date"),
    ("Who leads the delegation?", None),
    # Only a question phrase asks: words that name a kind of figure do not.
    ("Has the bloc agreed to freeze the assets?", None),
    ("What motive lay behind the decision to freeze the funds?", None),
    # "when" asks for a date where the question opens with it, not inside it.
    ("Who was the leader when the rebels entered the valley?", None),
    ("Since when has the border been closed?", "date"),
])
def test_asked_kind(question, kind):
    assert asked_kind(question) == kind


def test_has_kind_needs_a_figure_of_that_kind():
    assert has_kind("It costs $5 million.", "money")
    assert not has_kind("It costs a lot.", "money")
    assert not has_kind("It costs $5 million.", None)
