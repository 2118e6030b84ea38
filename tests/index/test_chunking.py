"""Offsets are the only truth: every sentence and chunk is an exact slice of its document."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import ChunkSettings, make_chunks, split_sentences
from index.documents import Document, load_corpus

# Characters the real articles contain and that a normalising splitter would rewrite.
TRICKY = ["\u2019", "\u201c", "\u201d", "\u2011", "\u00a0", "\u2014", "\n", "\n\n", "  ", ". ", "$", "%", "U.S. ", "- "]


def _check(doc: Document, chunking: ChunkSettings = ChunkSettings()) -> None:
    sentences = split_sentences(doc)
    for unit in sentences + make_chunks(doc, sentences, chunking):
        assert doc.text[unit.start : unit.end] == unit.text
        assert unit.text == unit.text.strip()


def test_every_corpus_sentence_and_chunk_slices_exactly(corpus_dir):
    corpus = load_corpus(corpus_dir)
    assert len(corpus.documents) == 5
    for doc in corpus.documents:
        _check(doc)
        _check(doc, ChunkSettings(max_chars=150, overlap_sentences=0))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=30)), min_size=1, max_size=40),
       st.integers(min_value=20, max_value=800), st.integers(min_value=0, max_value=3))
def test_slices_hold_for_arbitrary_text(parts, max_chars, overlap):
    text = "".join(parts)
    if not text.strip():
        return
    _check(Document("d", "d.txt", text), ChunkSettings(max_chars=max_chars, overlap_sentences=overlap))


def test_sentences_are_ordered_and_disjoint(corpus_dir):
    for doc in load_corpus(corpus_dir).documents:
        sentences = split_sentences(doc)
        assert all(a.end <= b.start for a, b in zip(sentences, sentences[1:]))


def test_chunks_cover_every_sentence_and_respect_the_size_limit(corpus_dir):
    chunking = ChunkSettings(max_chars=400, overlap_sentences=1)
    for doc in load_corpus(corpus_dir).documents:
        sentences = split_sentences(doc)
        chunks = make_chunks(doc, sentences, chunking)
        for s in sentences:
            assert any(c.start <= s.start and s.end <= c.end for c in chunks)
        for c in chunks:
            single_sentence = sum(1 for s in sentences if c.start <= s.start and s.end <= c.end) == 1
            assert len(c.text) <= chunking.max_chars or single_sentence


def test_abbreviations_do_not_end_sentences():
    doc = Document("d", "d.txt", "The U.S. delegation was led by Steve Witkoff. Then talks ended.")
    assert [s.text for s in split_sentences(doc)] == [
        "The U.S. delegation was led by Steve Witkoff.",
        "Then talks ended.",
    ]


def test_line_breaks_end_sentences_and_bullets_are_not_cited():
    doc = Document("d", "d.txt", "Key Highlights\n- Ukraine would keep 800,000 troops\n- Russia rejected it")
    assert [s.text for s in split_sentences(doc)] == [
        "Key Highlights", "Ukraine would keep 800,000 troops", "Russia rejected it"]
