"""The corpus is read byte-exactly; unusable files are named with a reason, the rest still load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from index.documents import MAX_FILE_BYTES, default_title, load_corpus
from index.errors import CorpusError
from rag.settings import Settings

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def test_corpus_is_byte_for_byte_the_shared_articles(corpus_dir):
    if not SHARED.is_dir():
        pytest.skip("../shared/corpus is not beside this checkout")
    ours = sorted(p.name for p in corpus_dir.glob("*.txt"))
    assert ours == sorted(p.name for p in SHARED.glob("*.txt"))
    for name in ours:
        assert (corpus_dir / name).read_bytes() == (SHARED / name).read_bytes()


def test_text_is_the_decoded_file_without_normalisation(corpus_dir):
    for doc in load_corpus(corpus_dir).documents:
        assert doc.text == (corpus_dir / doc.source).read_bytes().decode("utf-8")
    texts = "".join(d.text for d in load_corpus(corpus_dir).documents)
    assert "\u2011" in texts and "\u201c" in texts  # non-breaking hyphens and curly quotes kept


def test_manifest_titles_and_publishers(corpus_dir):
    corpus = load_corpus(corpus_dir)
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))["documents"]
    assert set(manifest) == {d.source for d in corpus.documents}
    assert corpus.get("003_44c35423e110a14f").publisher == "Reuters"
    assert corpus.get("000_75e6e878609b9bfe").title.startswith("US, Europe vow to secure Ukraine")


def test_bad_files_are_reported_by_name_and_the_rest_load(corpus_copy):
    (corpus_copy / "latin1.txt").write_bytes("Caf\xe9 au lait".encode("latin-1"))
    (corpus_copy / "empty.md").write_text("  \n\n", encoding="utf-8")
    (corpus_copy / "dangling.txt").symlink_to(corpus_copy / "does-not-exist.txt")
    (corpus_copy / "notes.json").write_text("{}", encoding="utf-8")  # not a document type: ignored
    corpus = load_corpus(corpus_copy)
    assert len(corpus.documents) == 5
    problems = {p.source: p.reason for p in corpus.problems}
    assert set(problems) == {"latin1.txt", "empty.md", "dangling.txt"}
    assert "UTF-8" in problems["latin1.txt"]
    assert "empty" in problems["empty.md"]
    assert "unreadable" in problems["dangling.txt"]


def test_nested_markdown_is_a_document_with_a_relative_source(corpus_copy):
    (corpus_copy / "more").mkdir()
    (corpus_copy / "more" / "note.md").write_text("# A note\n\nKyiv asked for help.", encoding="utf-8")
    doc = load_corpus(corpus_copy).get("more/note")
    assert doc.source == "more/note.md" and doc.title == "# A note"


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    with pytest.raises(CorpusError, match=r"no articles \(\*.txt, \*.md, \*.html, .*\*.jsonl\)"):
        load_corpus(tmp_path)


def test_long_first_lines_become_short_titles():
    assert default_title("\n\nShort headline\nBody") == "Short headline"
    title = default_title("word " * 100)
    assert len(title) <= 101 and title.endswith("\u2026")


def test_links_that_leave_the_corpus_are_reported_and_never_read(corpus_copy, tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("Private words that are not an article.", encoding="utf-8")
    (corpus_copy / "passwd.txt").symlink_to(secret)
    (corpus_copy / "inside.txt").symlink_to(corpus_copy / "000_75e6e878609b9bfe.txt")  # stays inside: read
    (corpus_copy / "loop.txt").symlink_to(corpus_copy / "loop.txt")
    corpus = load_corpus(corpus_copy)
    problems = {p.source: p.reason for p in corpus.problems}
    assert "outside the corpus" in problems["passwd.txt"] and str(secret) in problems["passwd.txt"]
    assert "loop" in problems["loop.txt"]
    assert not any("Private words" in d.text for d in corpus.documents)
    assert "inside" in corpus.by_id and len(corpus.documents) == 6


def test_a_file_name_that_is_not_utf8_is_named_escaped_and_skipped(corpus_copy):
    with open(os.fsencode(corpus_copy) + b"/caf\xe9.txt", "wb") as fh:
        fh.write(b"A fine article about coffee.")
    corpus = load_corpus(corpus_copy)
    assert len(corpus.documents) == 5
    (problem,) = corpus.problems
    assert problem.source == "caf\\xe9.txt" and "not valid UTF-8" in problem.reason
    str(problem).encode("utf-8")  # printable and storable as it is


def test_files_over_the_size_limit_are_skipped_with_the_setting_to_raise(corpus_copy, monkeypatch):
    (corpus_copy / "huge.txt").write_text("Words. " * 400, encoding="utf-8")
    corpus = load_corpus(corpus_copy, max_file_bytes=2000)
    problems = {p.source: p.reason for p in corpus.problems}
    assert "2,800 bytes" in problems["huge.txt"] and "RAG_MAX_FILE_BYTES" in problems["huge.txt"]
    assert "huge" not in corpus.by_id
    assert "huge" in load_corpus(corpus_copy).by_id  # under the default limit
    monkeypatch.setenv("RAG_MAX_FILE_BYTES", "2000")
    assert Settings.from_env().max_file_bytes == 2000
    assert Settings().max_file_bytes == MAX_FILE_BYTES


def test_manifest_dates_read_as_days_when_they_are_dates(corpus_copy):
    manifest = json.loads((corpus_copy / "manifest.json").read_text(encoding="utf-8"))
    names = sorted(manifest["documents"])
    manifest["documents"][names[0]]["published"] = "2025-12-16T18:05:00Z"
    manifest["documents"][names[1]]["published"] = "mid-December"
    (corpus_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    dates = {d.source: d.published for d in load_corpus(corpus_copy).documents}
    assert dates[names[0]] == "2025-12-16"  # ordered and shown by day
    assert dates[names[1]] == "mid-December"  # kept as written; never ordered by
