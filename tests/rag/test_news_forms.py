"""The seed articles as saved pages, a feed and a dump answer the gold questions as the .txt corpus
does, citing exact spans of the text the index stores; boilerplate never answers; dated articles
order "latest" answers and conflicts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index.converted import FOLDER
from rag import Engine, Settings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "news"
GOLD = [json.loads(line) for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
# A fixed sample of the gold questions: every sixth, so each category is met (figures, positions,
# attributions, several sources, the unanswerable and off-topic ones).
SAMPLE = [item["question"] for item in GOLD[::6]]
FORMS = {
    "html": lambda into: [shutil.copy(p, into) for p in sorted((FIXTURES / "html").glob("*.html"))],
    "feed": lambda into: shutil.copy(FIXTURES / "feed" / "ledger.rss", into),
    "jsonl": lambda into: shutil.copy(FIXTURES / "jsonl" / "ledger.jsonl", into),
}
# Questions only the pages' boilerplate could answer (cookie banner, related stories, author box).
BOILERPLATE_QUESTIONS = [
    "Which festival drew record crowds in Timbuktu?",
    "What did the lighthouse keeper find on the Orkney beach?",
    "What does the site use cookies to personalise?",
    "How many tortoises does the reporter keep?",
]
BOILERPLATE_WORDS = ("cookie", "marmalade", "gazebo", "Timbuktu", "Orkney", "tortoise", "Horoscopes", "rights reserved")


def open_form(tmp_path_factory, embedder, form: str) -> Engine:
    corpus = tmp_path_factory.mktemp(form) / "corpus"
    corpus.mkdir()
    FORMS[form](corpus)
    return Engine.open(Settings(corpus_dir=corpus, index_dir=corpus.parent / "idx"), embedder=embedder, log=None)


@pytest.fixture(scope="module", params=sorted(FORMS))
def form_engine(request, tmp_path_factory, embedder):
    return open_form(tmp_path_factory, embedder, request.param)


def plain(text: str) -> str:
    return " ".join(text.split())


def exact(engine: Engine, citation) -> bool:
    return engine.document(citation.doc_id).text[citation.start : citation.end] == citation.text


def test_the_gold_sample_gets_the_same_answers_with_exact_spans_into_the_stored_text(form_engine, engine):
    stored = form_engine.settings.resolved_index_dir / FOLDER
    assert sorted(p.suffix for p in stored.iterdir()) == [".json"] * len(list(stored.iterdir())) != []
    for question in SAMPLE:
        want, got = engine.ask(question), form_engine.ask(question)
        assert got.abstained == want.abstained, (question, got.text, want.text)
        assert plain(got.text) == plain(want.text), question
        assert [plain(c.text) for c in got.citations] == [plain(c.text) for c in want.citations], question
        for c in got.citations:
            assert exact(form_engine, c) and c.published.startswith("2025-12-1"), (question, c)
            for twin in c.corroborated_by:
                assert exact(form_engine, twin) and twin.published, (question, twin)
            assert json.loads(json.dumps(c.to_dict()))["published"] == c.published


def test_the_index_folder_holds_the_text_every_citation_points_into(form_engine):
    stored = form_engine.settings.resolved_index_dir / FOLDER
    texts = {a["text"] for p in stored.iterdir() for a in json.loads(p.read_bytes())["articles"]}
    assert {d.text for d in form_engine.documents} == texts and len(texts) == 5


def test_a_converted_article_keeps_its_metadata(form_engine):
    doc = form_engine.documents[0]
    assert doc.published.startswith("2025-12-1") and doc.publisher == "The Example Ledger"
    assert doc.url.startswith("https://news.example.org/world/")
    assert doc.source.startswith(doc.file) and doc.file.endswith((".html", ".rss", ".jsonl"))


@pytest.fixture(scope="module")
def html_engine(tmp_path_factory, embedder):
    return open_form(tmp_path_factory, embedder, "html")


@pytest.mark.parametrize("question", BOILERPLATE_QUESTIONS)
def test_questions_only_the_boilerplate_answers_are_refused(html_engine, question):
    answer = html_engine.ask(question)
    assert answer.abstained, answer.to_dict()


def test_no_citation_touches_boilerplate(html_engine):
    for question in SAMPLE + BOILERPLATE_QUESTIONS:
        for c in html_engine.ask(question).references:
            assert not any(w.lower() in c.text.lower() for w in BOILERPLATE_WORDS), (question, c.text)


# -- two dated articles on one quantity ----------------------------------------------------------


@pytest.fixture(scope="module")
def dated_engine(tmp_path_factory, embedder):
    corpus = tmp_path_factory.mktemp("dated") / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURES / "dated" / "coast.jsonl", corpus)
    return Engine.open(Settings(corpus_dir=corpus, index_dir=corpus.parent / "idx"), embedder=embedder, log=None)


LATEST = "What is Portugal's latest coastal defence bill for 2026?"


@pytest.mark.parametrize(
    "question",
    [
        LATEST,
        "What is Portugal's current coastal defence bill for 2026?",
        "How much is Portugal's coastal defence bill for 2026 now?",
    ],
)
def test_a_latest_question_cites_the_newer_article_with_its_date(dated_engine, question):
    answer = dated_engine.ask(question)
    assert not answer.abstained, answer.to_dict()
    lead = answer.citations[0]
    assert lead.doc_id == "coast#coast-late" and lead.published == "2025-12-10"
    assert "$55 million" in lead.text and exact(dated_engine, lead)
    assert answer.text.startswith("As of 10 Dec 2025")


def test_a_question_without_latest_names_no_date(dated_engine):
    answer = dated_engine.ask("How much will Portugal's coastal defence works cost in 2026?")
    assert not answer.abstained and not answer.text.startswith("As of"), answer.text


def test_the_conflict_orders_its_sides_by_date_and_marks_the_older_superseded(dated_engine):
    answer = dated_engine.ask(LATEST)
    assert answer.conflicts, answer.to_dict()
    (conflict,) = answer.conflicts
    assert (conflict.first.published, conflict.second.published) == ("2025-12-03", "2025-12-10")
    assert (conflict.first.value, conflict.second.value) == ("$40 million", "$55 million")
    assert conflict.superseded
    assert conflict.text.startswith("Revised: on 3 Dec 2025 ")
    assert "; on 10 Dec 2025 " in conflict.text and "the newer figure" in conflict.text
    data = answer.to_dict()["conflicts"][0]
    assert data["superseded"] is True and data["newer"] == conflict.second.number
    # The older article on the card is a superseded figure, not a contradiction.
    older = [s for s in answer.statements if s.citation.doc_id == "coast#coast-early"]
    assert older and {s.relation for s in older} == {"superseded"}
    assert [s["published"] for s in data["sides"]] == ["2025-12-03", "2025-12-10"]


@pytest.mark.parametrize(
    "question",
    [
        "What did Portugal put its 2026 coastal defence bill at on 3 December 2025?",
        "How much did Portugal expect its 2026 coastal defence works to cost, as of December 3?",
    ],
)
def test_a_question_naming_the_older_day_cites_the_older_article(dated_engine, question):
    answer = dated_engine.ask(question)
    assert not answer.abstained, answer.to_dict()
    lead = answer.citations[0]
    assert lead.doc_id == "coast#coast-early" and lead.published == "2025-12-03"
    assert "$40 million" in lead.text and exact(dated_engine, lead)


def test_a_day_no_article_was_published_on_changes_nothing(dated_engine):
    plain = dated_engine.ask("How much will Portugal's coastal defence works cost in 2026?")
    other_day = dated_engine.ask("How much will Portugal's coastal defence works cost in 2026, as of 5 June?")
    assert [c.doc_id for c in plain.citations][:1] == [c.doc_id for c in other_day.citations][:1]


# -- the CLI: the index report names each bad input; answers carry the date ------------------------


@pytest.mark.subprocess
def test_rag_index_names_each_bad_input_indexes_the_rest_and_answers_carry_dates(tmp_path):
    import subprocess
    import sys

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FIXTURES / "dated" / "coast.jsonl", corpus)
    (corpus / "malformed.html").write_bytes(b"\x00\x01\x02 \xff\xfe not markup at all")
    page = (FIXTURES / "html" / "000_75e6e878609b9bfe.html").read_text(encoding="utf-8")
    start, end = page.index("<article>"), page.index("</article>") + len("</article>")
    (corpus / "front-page.html").write_text(page[:start] + page[end:], encoding="utf-8")
    (corpus / "wire.rss").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        "<item><title>Empty</title><link>https://example.org/1</link></item>"
        "<item><title>Harbour dredging starts</title><pubDate>around noon-ish</pubDate>"
        "<description>Dredging of the harbour at Sines began on Monday and will take three months.</description>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    (corpus / "dump.jsonl").write_text('{"text": broken\n{"title": "no text here"}\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr  # as for a skipped .txt file
    for named in (
        "skipped malformed.html: not readable as HTML",
        "skipped front-page.html: no main text found",
        "skipped wire.rss#1: entry 1 has no content or summary",
        "note wire.rss#2: date 'around noon-ish' cannot be read",
        "skipped dump.jsonl#1: line 1 is not JSON",
        'skipped dump.jsonl#2: line 2 has no "text"',
    ):
        assert named in result.stderr, (named, result.stderr)
    assert "3 added" in result.stdout  # the two dated articles and the feed's good entry
    asked = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "--json", "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx"),
         "What is Portugal's latest coastal defence bill for 2026?"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert asked.returncode == 0, asked.stderr
    data = json.loads(asked.stdout)
    assert data["citations"][0]["published"] == "2025-12-10" and data["citations"][0]["source"] == "coast.jsonl#2"
    assert data["answer"].startswith("As of 10 Dec 2025")


def test_a_revision_told_as_the_same_story_still_cites_the_newer_figure(tmp_path, embedder):
    """Two tellings of one story a week apart, the second with a revised figure: the index takes
    them for one story and folds the newer sentence into the older as corroboration (they share
    the year); a "latest" question still leads with the newer telling and its date."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    said = "Portugal's environment ministry said on Wednesday that its coastal defence works will cost {} in 2026."
    rows = [
        {"title": "Portugal puts its 2026 coastal defence bill at $40 million", "published": "2025-12-03",
         "text": said.format("$40 million") + "\nMost of the money is for sea walls, and dune work begins in spring."},
        {"title": "Portugal raises its 2026 coastal defence bill to $55 million", "published": "2025-12-10",
         "text": said.format("$55 million") + "\nWinter storms damaged two sea walls, and more storms could add to it."},
    ]
    (corpus / "wire.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    engine = Engine.open(Settings(corpus_dir=corpus, index_dir=tmp_path / "idx"), embedder=embedder, log=None)
    assert engine.retriever.stories.same_story("wire#1", "wire#2")
    answer = engine.ask(LATEST)
    assert not answer.abstained, answer.to_dict()
    lead = answer.citations[0]
    assert lead.doc_id == "wire#2" and "$55 million" in lead.text and exact(engine, lead)
    assert answer.text.startswith("As of 10 Dec 2025")
