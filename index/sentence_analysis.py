"""Sentence analysis at index time: who speaks, who acts, and what each figure counts and whose it is.

Each document is parsed once with spaCy's small English pipeline (`index/language/pipeline.py`,
`en_core_web_sm`: tagger, dependency parser, lemmatizer, named entities). Our sentence boundaries (`index/chunking.py`) are
the truth: they are handed to the parser before it runs, so no spaCy sentence straddles two of
ours, and tokens are mapped to our sentences by character offset.

The rules read the dependency tree and know only English grammar and general vocabulary
(reporting verbs, titles, generic measure nouns: `index/language/words.py`), never a corpus' names.
This module puts one document's sentences together; each concern has its module:

- speakers (`index/speakers.py`): the subject of a reporting verb ("X said", "X warned", "X described ... as"), the object
  of "according to", a pronoun resolved to the last person named before it, and for a sentence
  that is nothing but a quotation, the speaker of the sentence before it;
- names (`index/people.py`): the fullest form the article gives ("Linnet" -> "Ada Linnet"), with an affiliation
  read from a title ("Estravan Premier Tomas Brell") or an apposition ("..., the Estravan
  minister of ports") anywhere in the article;
- actors (`index/speakers.py`): named subjects, possessors ("Ukraine's army"), "of" owners ("the army of Ukraine") and
  nationality modifiers of subjects ("Russian troops");
- figures (`index/figure_analysis.py`): spaCy's MONEY, PERCENT, CARDINAL, QUANTITY and DATE entities plus bare fractions and
  digits it missed, each with the noun it quantifies and that noun's owner.

Cost, measured on the five articles of corpus/ on a busy 2-core machine: loading the pipeline
takes 13-19 s once per process, parsing and analysing the articles ~5 s, so a full index build
took 45-48 s instead of 41 s. Unchanged documents are never parsed again (index/build.py).
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from index.analysis import SentenceAnalysis, Speaker
from index.documents import Document
from index.figure_analysis import sentence_figures
from index.language.pipeline import parse
from index.people import read_people
from index.speakers import sentence_actors, sentence_speakers

if TYPE_CHECKING:
    from spacy.tokens import Token

    from index.chunking import Sentence

CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM"})
OPENING_QUOTES = "\u201c\u00ab"
CLOSING_QUOTES = "\u201d\u00bb"


def _lemmas(tokens: list[Token]) -> tuple[str, ...]:
    # Names are kept even when they spell a stop word ("US").
    return tuple(
        t.lemma_.lower()
        for t in tokens
        if t.pos_ in CONTENT_POS and (t.pos_ == "PROPN" or not t.is_stop) and t.is_alpha
    )


def _quote_depth(text: str, depth: int) -> int:
    """Whether a quotation is still open after `text`, given whether one was open before it."""
    for ch in text:
        if ch in OPENING_QUOTES:
            depth = 1
        elif ch in CLOSING_QUOTES:
            depth = 0
        elif ch == '"':
            depth = 1 - depth
    return depth


def _quoted_only(text: str, open_before: int) -> bool:
    """A sentence that is all quotation: it opens with a quote mark or continues an open one."""
    return bool(open_before) or text[:1] in OPENING_QUOTES + '"'


def analyse(doc: Document, sentences: list[Sentence]) -> list[SentenceAnalysis]:
    """One `SentenceAnalysis` per sentence of `doc`, in order, from a single parse of its text."""
    parsed = parse(doc.text, (s.start for s in sentences))
    people = read_people(parsed)
    offsets = [t.idx for t in parsed]
    found: list[tuple[list[Token], list[Speaker], bool]] = []
    depth = 0
    for sentence in sentences:
        lo, hi = bisect.bisect_left(offsets, sentence.start), bisect.bisect_left(offsets, sentence.end)
        tokens = [t for t in parsed[lo:hi] if not t.is_space]
        previous = found[-1][1] if found else []
        quoted = _quoted_only(sentence.text, depth)
        depth = _quote_depth(sentence.text, depth)
        found.append((tokens, sentence_speakers(tokens, people, previous), quoted))
    # A sentence that is all quotation and names no speaker is spoken by whoever the next sentence
    # of the same quotation names ("“2026 could be ...", "This is good news,” he said."), or else
    # by the speaker of the sentence before it ("..., X said. “Now is the moment.”").
    speakers_of = [speakers for _, speakers, _ in found]
    for n in range(len(found) - 1, -1, -1):
        if (
            not speakers_of[n]
            and found[n][2]
            and n + 1 < len(found)
            and found[n + 1][2]
            and not sentences[n].text.rstrip().endswith(tuple(CLOSING_QUOTES + '"'))
        ):
            speakers_of[n] = speakers_of[n + 1]
    for n in range(1, len(found)):
        if not speakers_of[n] and found[n][2]:
            speakers_of[n] = speakers_of[n - 1]
    out: list[SentenceAnalysis] = []
    for sentence, (tokens, _, _), speakers in zip(sentences, found, speakers_of):
        figures = sentence_figures(parsed, sentence.start, sentence.end, people)
        actors = sentence_actors(tokens, people, parsed)
        for f in figures:
            if f.owner and f.owner not in actors:
                actors.append(f.owner)
        lo, hi = bisect.bisect_left(offsets, sentence.start), bisect.bisect_left(offsets, sentence.end)
        entities = tuple((e.label_, e.text) for e in parsed[lo:hi].ents)
        out.append(SentenceAnalysis(tuple(speakers), tuple(actors), tuple(figures), _lemmas(tokens), entities))
    return out
