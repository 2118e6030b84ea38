"""The answer card: other independent sources' statements, and conflicts on one quantity only."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import pytest

from index.analysis import Figure, SentenceAnalysis, Speaker
from index.chunking import Sentence
from index.documents import Document
from rag import Engine, Settings
from rag.agreement import card
from rag.cli import _print_human
from rag.dedup import Stories
from rag.selection import SentenceFacts
from rag.spans import cite
from rag.tuning import DEFAULT
from rag.types import Conflict, Evidence

COSTS_2026 = "What will Ukraine's defence cost in 2026?"


# -- the pure function on hand-made analyses ---------------------------------------------------------


def _sentence(doc_id: str, text: str, figures: list[tuple[str, str, str | None, str | None]],
              actors: tuple[str, ...] = (), speaker: str | None = None) -> tuple[Document, Sentence]:
    """A one-sentence document; `figures` are (figure text, kind, measure, owner)."""
    found = []
    for fig, kind, measure, owner in figures:
        start = text.index(fig)
        found.append(Figure(fig, start, start + len(fig), kind, measure, owner))
    for m in re.finditer(r"\b20\d\d\b", text):  # years, as the parser records them
        found.append(Figure(m.group(), m.start(), m.end(), "date"))
    analysis = SentenceAnalysis((Speaker(speaker),) if speaker else (), actors, tuple(found))
    return Document(doc_id, f"{doc_id}.txt", text, title=f"Title {doc_id}"), Sentence(doc_id, 0, len(text), text, analysis)


class World:
    def __init__(self, *rows, story: dict[str, str] | None = None):
        self.docs = {d.doc_id: d for d, _ in rows}
        units = [s for _, s in rows]
        self.facts = SentenceFacts(units)
        self.stories = Stories(units, story or {d: d for d in self.docs}, {})

    def citation(self, doc_id: str):
        doc = self.docs[doc_id]
        return self.facts.with_speaker(cite(doc, 0, len(doc.text)))

    def card(self, lead: str, *others: str, scores: dict[str, float] | None = None):
        evidence = [Evidence(i + 1, self.citation(d), (scores or {}).get(d, 0.6)) for i, d in enumerate(others)]
        return card([self.citation(lead)], evidence, self.facts, self.stories, self.docs)


LEAD = _sentence("a", "Ukraine put its defence costs for 2026 at $120 billion.", [("$120 billion", "money", "cost", "Ukraine")],
                 ("Ukraine",), "Ukraine")
HIGHER = _sentence("b", "Kyiv now expects its defence spending in 2026 to reach $150 billion, the minister said.",
                   [("$150 billion", "money", "spending", "Kyiv")], ("Kyiv",), "the minister")
SAME = _sentence("c", "Ukraine's defence costs in 2026 will total $120 billion, officials said.",
                 [("$120 billion", "money", "cost", "Ukraine")], ("Ukraine",))
OTHER_YEAR = _sentence("d", "Ukraine's defence costs in 2027 will be $150 billion.",
                       [("$150 billion", "money", "cost", "Ukraine")], ("Ukraine",))
OTHER_OWNER = _sentence("e", "Poland's defence costs in 2026 will be $50 billion.",
                        [("$50 billion", "money", "cost", "Poland")], ("Poland",))
NO_YEAR = _sentence("f", "Ukraine's defence costs will be $150 billion next year.",
                    [("$150 billion", "money", "cost", "Ukraine")], ("Ukraine",))


def test_a_different_value_for_the_same_measure_owner_and_year_is_a_conflict():
    world = World(LEAD, HIGHER)
    statements, conflicts = world.card("a", "b")
    assert [s.relation for s in statements] == ["conflicts"]
    assert statements[0].speaker == "the minister"
    (conflict,) = conflicts
    assert (conflict.first.value, conflict.first.number) == ("$120 billion", 1)
    assert (conflict.second.value, conflict.second.number) == ("$150 billion", 2)  # numbered after the citations
    assert conflict.text == "Sources differ: Ukraine says $120 billion [1], the minister says $150 billion [2]"
    assert conflict.period == "2026"
    json.dumps(conflict.to_dict())
    plural = Conflict(conflict.measure, conflict.owner, conflict.period, replace(conflict.first, who="Ukrainian officials"),
                      replace(conflict.second, who="Reuters"))
    assert plural.text == "Sources differ: Ukrainian officials say $120 billion [1], Reuters says $150 billion [2]"


@pytest.mark.parametrize(("other", "shown"), [(OTHER_YEAR, ["adds"]), (OTHER_OWNER, ["adds"]), (NO_YEAR, [])],
                         ids=["other year", "other owner", "no year"])
def test_different_quantities_never_conflict(other, shown):
    """Another year or owner is another quantity and may add to the answer; another value with no
    year named is neither a conflict nor an addition: it is left off the card."""
    world = World(LEAD, other)
    statements, conflicts = world.card("a", other[0].doc_id)
    assert conflicts == ()
    assert [s.relation for s in statements] == shown


def test_the_same_value_agrees_and_a_weak_unrelated_sentence_is_left_out():
    weak = _sentence("g", "Talks went on in Berlin.", [])
    world = World(LEAD, SAME, weak)
    statements, conflicts = world.card("a", "c", "g", scores={"g": 0.1})
    assert conflicts == ()
    assert [(s.relation, s.citation.doc_id) for s in statements] == [("agrees", "c")]


def test_a_same_story_retelling_is_not_an_independent_source():
    world = World(LEAD, HIGHER, story={"a": "a", "b": "a"})
    assert world.card("a", "b") == ((), ())


def test_counts_at_different_meetings_are_not_a_conflict():
    paris = _sentence("p", "The meeting in Paris in 2026 brought together around 30 countries.",
                      [("around 30", "count", "country", None)])
    virtual = _sentence("v", "Zelenskyy spoke after a virtual meeting in 2026 with 34 countries.",
                        [("34", "count", "country", None)], ("Zelenskyy",), "Zelenskyy")
    world = World(paris, virtual)
    assert world.card("p", "v") == ((), ())  # not a conflict, and not shown as adding to the answer


def test_approximate_figures_differ_only_beyond_the_tolerance():
    about = _sentence("x", "Ukraine's army in 2026 will have about 800,000 troops.", [("about 800,000", "count", "troop", "Ukraine")])
    close = _sentence("y", "Ukraine's army in 2026 will have 850,000 troops.", [("850,000", "count", "troop", "Ukraine")])
    far = _sentence("z", "Ukraine's army in 2026 will have 400,000 troops.", [("400,000", "count", "troop", "Ukraine")])
    world = World(about, close, far)
    assert world.card("x", "y")[1] == ()
    assert len(world.card("x", "z")[1]) == 1


def test_at_most_three_statements_one_per_source():
    rows = [_sentence(f"s{i}", f"Ukraine's defence costs in 2026 will total $120 billion, report {i} says.",
                      [("$120 billion", "money", "cost", "Ukraine")], ("Ukraine",)) for i in range(5)]
    world = World(LEAD, *rows, story={"a": "a", "s0": "s0", "s1": "s0", "s2": "s2", "s3": "s3", "s4": "s4"})
    statements, _ = world.card("a", *(d.doc_id for d, _ in rows))
    docs = [s.citation.doc_id for s in statements]
    assert len(statements) == DEFAULT.max_statements and not {"s0", "s1"} <= set(docs)


# -- end to end: a planted conflicting article, and the seed corpus ----------------------------------

PLANTED = (
    "Kyiv raises its estimate of next year's war costs\n\n"
    "KYIV — Ukraine now expects its defence costs for 2026 to reach $150 billion, Finance Minister Serhiy "
    "Marchenko said on Friday, well above earlier estimates.\n"
    "The ministry said the higher figure reflects the price of air defence and drones.\n"
)


@pytest.fixture(scope="module")
def planted_engine(tmp_path_factory, embedder, corpus_dir):
    corpus = tmp_path_factory.mktemp("planted") / "corpus"
    shutil.copytree(corpus_dir, corpus)
    (corpus / "005_planted_estimate.txt").write_text(PLANTED, encoding="utf-8")
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    manifest["documents"]["005_planted_estimate.txt"] = {"title": "A newer estimate", "published": "2026-01-20"}
    (corpus / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return Engine.open(Settings(corpus_dir=corpus, index_dir=corpus.parent / "idx"), embedder=embedder, log=None)


def test_a_planted_conflicting_article_is_flagged(planted_engine, capsys):
    answer = planted_engine.ask(COSTS_2026)
    assert not answer.abstained
    assert answer.conflicts, answer.to_dict()
    conflict = answer.conflicts[0]
    assert {conflict.first.value, conflict.second.value} == {"$120 billion", "$150 billion"}
    assert "005_planted_estimate" in {conflict.first.citation.doc_id, conflict.second.citation.doc_id}
    # The manifest dates the planted article and not the seed ones: only its side shows a date.
    planted = next(s for s in (conflict.first, conflict.second) if s.citation.doc_id.startswith("005"))
    seed = conflict.second if planted is conflict.first else conflict.first
    assert (planted.published, seed.published) == ("2026-01-20", "")
    assert "(article of 2026-01-20)" in conflict.text
    refs = answer.references
    for side in (conflict.first, conflict.second):
        assert refs[side.number - 1] == side.citation
    for s in answer.statements:  # every statement's span slices exactly from its article
        doc = planted_engine.document(s.citation.doc_id)
        assert doc.text[s.citation.start:s.citation.end] == s.citation.text
    data = answer.to_dict()
    assert data["conflicts"][0]["text"].startswith("Sources differ: ")
    assert {"speaker", "actor", "relation", "citation"} <= set(data["statements"][0])
    _print_human(answer)
    assert "Sources differ: " in capsys.readouterr().out


def _rival_counts(engine, answer) -> list[str]:
    """Counts of the lead's measure that independent articles in the evidence state differently:
    what a comparer that ignored which meeting is meant would flag as a conflict."""
    lead, stories = answer.citations[0], engine.retriever.stories
    own = [f for f in engine.facts.analysis(lead.doc_id, lead.start, lead.end).figures if f.kind == "count"]
    measures, values = {f.measure for f in own if f.measure}, {f.text for f in own}
    _, evidence = engine.evidence(answer.question)
    return [
        f.text
        for e in evidence
        if e.citation.doc_id != lead.doc_id and not stories.same_story(e.citation.doc_id, lead.doc_id)
        for f in engine.facts.analysis(e.citation.doc_id, e.citation.start, e.citation.end).figures
        if f.kind == "count" and f.measure in measures and f.text not in values
    ]


def test_the_seed_articles_flag_no_conflict_on_meetings_or_costs(engine):
    # The card is on: an answer another independent article confirms shows that statement. With the
    # card switched off, this fails, and the "no conflict" checks below could not pass for nothing.
    assert [s.relation for s in engine.ask("How large will Ukraine's peacetime army be?").statements] == ["agrees"]
    assert engine.ask(COSTS_2026).conflicts == ()
    for question in ("How many countries joined the virtual meeting with Zelenskyy?",
                     "How many countries attended the Coalition of the Willing meeting in Paris?"):
        answer = engine.ask(question)
        # Other articles count the countries of other meetings: the card sees them and flags none.
        assert _rival_counts(engine, answer), question
        assert answer.conflicts == (), answer.to_dict()["conflicts"]


def test_statements_come_from_independent_articles_with_exact_spans(engine):
    answer = engine.ask("How large will Ukraine's peacetime army be?")
    assert answer.statements, answer.to_dict()
    lead = answer.citations[0].doc_id
    for s in answer.statements:
        assert s.citation.doc_id != lead and not engine.retriever.stories.same_story(lead, s.citation.doc_id)
        assert engine.document(s.citation.doc_id).text[s.citation.start:s.citation.end] == s.citation.text
    assert answer.to_dict()["statements"][0]["relation"] == "agrees"


def test_an_abstention_has_no_card(engine):
    answer = engine.ask("What is the boiling point of mercury?")
    assert answer.abstained and answer.statements == () and answer.conflicts == ()
    assert answer.to_dict()["statements"] == [] and answer.to_dict()["conflicts"] == []
