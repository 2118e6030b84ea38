"""Search terms: figures survive whole, typography and spelling variants meet."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from index.terms import numbers_in, tokenize

DASHES = ["\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212"]


def test_figures_stay_whole_with_their_unit():
    assert tokenize("at least 0.25% of 2026 output") == ["least", "0.25", "percent", "2026", "output"]
    assert tokenize("€210 billion") == ["210", "eur", "billion"]
    assert tokenize("$60 billion") == ["60", "usd", "billion"]
    assert tokenize("800,000 troops") == ["800000", "troop"]
    assert tokenize("26 countries") == ["26", "countri"]


def test_spelled_out_units_and_numbers_meet_the_symbols():
    assert tokenize("210 billion euros") == tokenize("€210 billion")[:1] + ["billion", "eur"]
    assert set(tokenize("20 per cent")) == set(tokenize("20%"))
    assert tokenize("1.5bn dollars") == ["1.5", "billion", "usd"]
    assert tokenize("ten European leaders") == tokenize("10 European leaders")
    # "one" is a pronoun far more often than a count, so it never becomes "1".
    assert "1" not in tokenize("the one who leads", keep_stopwords=True)


def test_names_keep_their_letters_and_lose_their_accents():
    assert tokenize("Türkiye") == tokenize("Turkiye") == ["turkiy"]
    assert tokenize("Pedro Sánchez") == ["pedro", "sanchez"]
    assert tokenize("Bundestag approval") == ["bundestag", "approv"]
    assert tokenize("the Kiel Institute") == ["kiel", "institut"]


def test_country_abbreviations_survive():
    assert tokenize("U.S. troops") == tokenize("US troops") == tokenize("United States troops")
    assert tokenize("U.K. forces")[0] == "uk"


@given(st.lists(st.sampled_from(["2026", "full", "scale", "Article", "5", "like", "20", "point", "U.S.", "led"]),
                min_size=2, max_size=6), st.sampled_from(DASHES))
def test_unicode_dashes_tokenize_like_ascii_hyphens(words, dash):
    ascii_text = "-".join(words)
    assert tokenize(ascii_text.replace("-", dash)) == tokenize(ascii_text)


@given(st.text(alphabet="abc 0123456789.,%$", max_size=40))
def test_curly_quotes_and_no_break_spaces_change_nothing(text):
    plain = f'"{text}" it\'s'
    fancy = f"\u201c{text}\u201d it\u2019s".replace(" ", "\u00a0")
    assert tokenize(fancy) == tokenize(plain)


def test_numbers_in_reports_only_figures():
    assert numbers_in("The remaining $60 billion, 0.25% of 2026 output") == ["60", "0.25", "2026"]
    assert numbers_in("Ten leaders met") == ["10"]
