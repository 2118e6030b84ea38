"""Readers of the forms news arrives in (index/readers/) and the index's copy of their text
(index/converted.py): the seed articles written as pages, a feed and a dump read back as the same
articles with their dates; boilerplate never in the text; each bad input costs only itself."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import converted
from index.chunking import ChunkSettings, make_chunks, split_sentences
from index.documents import load_corpus
from index.readers import READERS, SUFFIXES, compose
from index.readers.dates import DateError, iso_day

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "news"
CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SEEDS = sorted(p.stem for p in CORPUS.glob("*.txt"))
# Words only the fixture pages' boilerplate holds (navigation, cookie banner, share bar, author
# box, related stories, footer): none may reach an article's text.
BOILERPLATE = ("cookie", "marmalade", "gazebo", "Horoscopes", "Crosswords", "Share on Facebook", "Tweet this",
               "tortoises", "Timbuktu", "Penguin choir", "trombone", "All rights reserved", "Related stories",
               "Sign in", "Staff Reporter")


def lines(text: str) -> list[str]:
    """The article's paragraphs without blank lines, spaces made plain (extractors turn a no-break
    space into a space); a headline the body repeats counts once."""
    out = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    return out[1:] if len(out) > 1 and out[0] == out[1] else out


def seed(stem: str) -> list[str]:
    return lines((CORPUS / f"{stem}.txt").read_text(encoding="utf-8"))


def read(path: Path):
    return READERS[path.suffix](path.read_bytes(), path.name)


@pytest.mark.parametrize("stem", SEEDS)
def test_a_saved_page_gives_the_article_text_and_metadata_without_boilerplate(stem):
    reading = read(FIXTURES / "html" / f"{stem}.html")
    assert reading.problems == ()
    (article,) = reading.articles
    assert lines(article.text) == seed(stem)
    for word in BOILERPLATE:
        assert word.lower() not in article.text.lower(), word
    assert re.fullmatch(r"2025-12-1[5-7]", article.published)
    assert article.outlet == "The Example Ledger" and article.author == "Staff Reporter"
    assert article.url == f"https://news.example.org/world/{stem}"
    assert article.text.startswith(article.title)  # the headline is citable, once


@pytest.mark.parametrize("form, name", [("feed", "ledger.rss"), ("jsonl", "ledger.jsonl")])
def test_a_feed_and_a_dump_give_one_dated_article_per_entry(form, name):
    reading = read(FIXTURES / form / name)
    assert reading.problems == ()
    assert [lines(a.text) for a in reading.articles] == [seed(s) for s in SEEDS]
    assert [a.entry for a in reading.articles] == ["1", "2", "3", "4", "5"]
    assert all(re.fullmatch(r"2025-12-1[5-7]", a.published) for a in reading.articles)
    assert {a.outlet for a in reading.articles} == {"The Example Ledger"}
    assert {a.author for a in reading.articles} == {"Staff Reporter"}
    assert [a.url for a in reading.articles] == [f"https://news.example.org/world/{s}" for s in SEEDS]


def test_dates_in_the_forms_sources_write_them():
    assert iso_day("2025-12-16") == "2025-12-16"
    assert iso_day("2025-12-16T23:05:00Z") == "2025-12-16"
    assert iso_day("2025-12-16T23:05:00+01:00") == "2025-12-16"
    assert iso_day("Tue, 16 Dec 2025 18:05:00 +0000") == "2025-12-16"
    assert iso_day("") == "" and iso_day(None) == ""
    for bad in ("next Tuesday", "2025-13-45", "0001-01-01", 20251216):
        with pytest.raises(DateError, match="cannot be read|is not text"):
            iso_day(bad)


def test_a_converted_article_is_headline_blank_line_body():
    assert compose("Title  here", "Body.\nMore.") == "Title here\n\nBody.\nMore."
    assert compose("", "Body.") == "Body."
    assert compose("Body", "Body starts with its title.") == "Body starts with its title."


# -- the corpus: sources, ids, bad input ------------------------------------------------------


def test_every_form_loads_with_sources_naming_file_and_entry(tmp_path):
    shutil.copy(FIXTURES / "html" / f"{SEEDS[0]}.html", tmp_path / "page.html")
    shutil.copy(FIXTURES / "feed" / "ledger.rss", tmp_path / "ledger.rss")
    shutil.copy(FIXTURES / "jsonl" / "ledger.jsonl", tmp_path / "dump.jsonl")
    corpus = load_corpus(tmp_path)
    assert corpus.problems == ()
    by_source = {d.source: d for d in corpus.documents}
    page = by_source["page.html"]
    assert page.doc_id == "page" and page.file == "page.html" and page.entry == ""
    assert page.url == f"https://news.example.org/world/{SEEDS[0]}" and page.published == "2025-12-16"
    third = by_source["ledger.rss#3"]
    assert third.doc_id == "ledger#3" and third.file == "ledger.rss" and third.publisher == "The Example Ledger"
    line = by_source["dump.jsonl#2"]
    assert line.doc_id == f"dump#{SEEDS[1]}" and line.file == "dump.jsonl"  # the dump's own id names it
    assert len(corpus.documents) == 11


def test_bad_input_costs_only_itself_and_is_named(tmp_path):
    shutil.copytree(FIXTURES / "html", tmp_path, dirs_exist_ok=True)
    page = (FIXTURES / "html" / f"{SEEDS[0]}.html").read_text(encoding="utf-8")
    (tmp_path / "malformed.html").write_bytes(b"\x00\x01\x02 \xff\xfe not markup at all")
    (tmp_path / "front-page.html").write_text(
        re.sub(r"<article>.*</article>", "", page, flags=re.S), encoding="utf-8"
    )  # the page's boilerplate, no article
    feed = (FIXTURES / "feed" / "ledger.rss").read_text(encoding="utf-8")
    items = feed.split("<item>")
    items[2] = re.sub(r"<content:encoded>.*?</content:encoded>", "", items[2], flags=re.S)  # entry 2: no text
    items[3] = re.sub(r"<pubDate>.*?</pubDate>", "<pubDate>sometime last week</pubDate>", items[3])  # entry 3
    (tmp_path / "wire.rss").write_text("<item>".join(items), encoding="utf-8")
    (tmp_path / "not-a-feed.xml").write_text("<config><a>1</a></config>", encoding="utf-8")
    good = json.dumps({"text": "A short article about harbour dredging in Lagos, Portugal, that ran on Monday."})
    (tmp_path / "dump.jsonl").write_text(
        "\n".join(
            [
                good,
                "{not json",
                json.dumps({"title": "headline only"}),
                json.dumps(["a", "list"]),
                json.dumps({"text": "A dated article about tides.", "published": "the day after tomorrow"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    corpus = load_corpus(tmp_path)
    problems = {p.source: p for p in corpus.problems}
    assert "no document tree" in problems["malformed.html"].reason
    assert "no main text" in problems["front-page.html"].reason
    assert "no content or summary" in problems["wire.rss#2"].reason
    assert "sometime last week" in problems["wire.rss#3"].reason and not problems["wire.rss#3"].skipped
    assert "not a readable RSS or Atom feed" in problems["not-a-feed.xml"].reason
    assert "not JSON" in problems["dump.jsonl#2"].reason
    assert 'no "text"' in problems["dump.jsonl#3"].reason
    assert "not an object" in problems["dump.jsonl#4"].reason
    assert "the day after tomorrow" in problems["dump.jsonl#5"].reason and not problems["dump.jsonl#5"].skipped
    assert len(problems) == 9
    sources = {d.source for d in corpus.documents}
    # The rest is read: the five pages, the feed's other four entries, the dump's good and dated lines.
    assert sources == {f"{s}.html" for s in SEEDS} | {f"wire.rss#{n}" for n in (1, 3, 4, 5)} | {
        "dump.jsonl#1",
        "dump.jsonl#5",
    }
    undated = {d.source: d.published for d in corpus.documents}
    assert undated["wire.rss#3"] == "" and undated["dump.jsonl#5"] == "" and undated["wire.rss#4"] == "2025-12-15"


def test_the_size_limit_holds_per_article(tmp_path):
    small = {"text": "A brief on port traffic in Valencia. " * 5}
    big = {"text": "A very long feature on shipping. " * 400}
    (tmp_path / "dump.jsonl").write_text(json.dumps(big) + "\n" + json.dumps(small) + "\n", encoding="utf-8")
    corpus = load_corpus(tmp_path, max_file_bytes=5_000)  # the file is bigger than this, one article too
    assert [d.source for d in corpus.documents] == ["dump.jsonl#2"]
    (problem,) = corpus.problems
    assert problem.source == "dump.jsonl#1" and "over the limit of 5,000" in problem.reason


# -- the index's copy of converted text ---------------------------------------------------------


def test_the_stored_conversion_is_the_text_used_not_a_new_extraction(tmp_path, monkeypatch):
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    shutil.copy(FIXTURES / "html" / f"{SEEDS[0]}.html", corpus_dir / "page.html")
    (tmp_path / "idx").mkdir()
    stored = tmp_path / "idx" / converted.FOLDER
    first = load_corpus(corpus_dir, stored=stored)
    assert converted.save(stored, first.conversions) == list(first.conversions)
    assert sorted(p.name for p in stored.iterdir()) == sorted(first.conversions)  # no temp file left

    def fails(data, name):
        raise AssertionError("converted again although the index holds the conversion")

    monkeypatch.setitem(READERS, ".html", fails)
    again = load_corpus(corpus_dir, stored=stored)
    assert again.documents == first.documents
    assert again.conversions == {} and again.converted == set(first.conversions)  # nothing new to store
    # The stored text is the truth: an edited copy is what the corpus reads (offsets point into it).
    (name,) = first.conversions
    data = json.loads((stored / name).read_bytes())
    data["articles"][0]["text"] = data["articles"][0]["text"].replace("BERLIN", "BERLIN (stored)")
    (stored / name).write_text(json.dumps(data), encoding="utf-8")
    assert "BERLIN (stored)" in load_corpus(corpus_dir, stored=stored).documents[0].text


def test_conversions_no_file_holds_are_pruned(tmp_path):
    stored = tmp_path / "converted"
    converted.save(stored, {"a-r1.json": b"{}", "b-r1.json": b"{}"})
    (stored / ".tmp-123-ab").write_bytes(b"half")
    (stored / "notes.txt").write_text("someone's", encoding="utf-8")
    assert converted.prune(stored, {"a-r1.json"}) == [".tmp-123-ab", "b-r1.json"]
    assert sorted(p.name for p in stored.iterdir()) == ["a-r1.json", "notes.txt"]


def test_every_suffix_has_a_reader_or_is_plain():
    assert set(SUFFIXES) == {".txt", ".md", ".html", ".htm", ".xml", ".rss", ".atom", ".jsonl"}


def test_an_article_container_named_like_boilerplate_is_kept():
    """A site may call the article's own container "share-enabled" or "social": an element holding
    the article (three or more paragraphs) is never cut as page furniture."""
    page = (FIXTURES / "html" / f"{SEEDS[2]}.html").read_text(encoding="utf-8")
    page = page.replace('<div class="article-body">', '<div class="article-body share-enabled social-tools">')
    (article,) = READERS[".html"](page.encode("utf-8"), "page.html").articles
    assert lines(article.text) == seed(SEEDS[2])


def test_an_atom_feed_reads_like_rss():
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Harbour Weekly</title>
  <entry>
    <title>Dredging begins at Sines</title>
    <link href="https://example.org/sines"/>
    <id>tag:example.org,2025:sines</id>
    <updated>2025-11-30T08:00:00Z</updated>
    <author><name>Ana Costa</name></author>
    <content type="html">&lt;p&gt;Dredging of the harbour at Sines began on Monday.&lt;/p&gt;&lt;p&gt;It will take three months.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Only a summary</title>
    <updated>2025-12-01</updated>
    <summary>The ferry timetable changes in January.</summary>
  </entry>
</feed>"""
    reading = READERS[".atom"](atom, "harbour.atom")
    assert reading.problems == ()
    first, second = reading.articles
    assert first.text == "Dredging begins at Sines\n\nDredging of the harbour at Sines began on Monday.\nIt will take three months."
    assert (first.published, first.author, first.outlet, first.url) == (
        "2025-11-30", "Ana Costa", "Harbour Weekly", "https://example.org/sines")
    assert second.text == "Only a summary\n\nThe ferry timetable changes in January." and second.published == "2025-12-01"


# -- invariants over any dump -------------------------------------------------------------------

_ARTICLE = st.fixed_dictionaries(
    {"text": st.text(min_size=1, max_size=400)},
    optional={"title": st.text(max_size=60), "published": st.text(max_size=30), "id": st.text(max_size=8)},
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_ARTICLE, min_size=1, max_size=5))
def test_any_dump_reads_into_articles_whose_chunks_and_sentences_slice_exactly(tmp_path_factory, records):
    """Whatever a dump holds (odd whitespace, any Unicode, bad dates, duplicate ids), reading it never
    fails, every line is an article or a named problem, and every unit's offsets slice its text."""
    folder = tmp_path_factory.mktemp("dump")
    (folder / "dump.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    corpus = load_corpus(folder)
    lines_seen = {d.entry for d in corpus.documents} | {p.source.split("#")[1] for p in corpus.problems}
    assert lines_seen == {str(n) for n in range(1, len(records) + 1)}
    for doc in corpus.documents:
        sentences = split_sentences(doc)
        for unit in (*sentences, *make_chunks(doc, sentences, ChunkSettings())):
            assert doc.text[unit.start : unit.end] == unit.text
