"""Readers: one per form news arrives in, each turning a corpus file into articles.

    .txt .md             the file itself is the article (index/documents.py reads it, byte-exact)
    .html .htm           a saved web page: its main text and metadata (trafilatura, htmldate)
    .xml .rss .atom      a feed: each entry an article (feedparser)
    .jsonl               a dump: each line an article with `text` and optional metadata

A converted article's citable text is what its reader returns here, not the bytes of its file:
the headline, a blank line, then the body, one paragraph a line, the shape a `.txt` article has.
The index stores that text (index/converted.py), and every offset points into it, never into the
HTML or the JSON. Boilerplate (navigation, cookie banners, related stories, share buttons, author
boxes) is left to the extractor, and nothing outside the extracted text can be cited.

A reader gives back what it could read and, for each part it could not, a reason a person can act
on: one broken feed entry or JSON line costs only itself. Readers are looked up by suffix in
`READERS`; one for a new form is a module with a `read(data, name)` function and one line there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

READER_VERSION = 1  # part of each stored conversion's name: a change of reader output re-reads files


@dataclass(frozen=True)
class Article:
    """One article read from a file: its citable text and what is known about it."""

    text: str
    title: str = ""
    published: str = ""  # ISO date, YYYY-MM-DD; '' when the source gives none that parses
    author: str = ""
    outlet: str = ""
    url: str = ""
    # Where in its file the article is: '' for a file holding one article, else the feed entry's
    # number or the JSON Lines line number (from 1).
    entry: str = ""
    # What names the article inside its file for good, when the file says (a dump's `id`): its
    # document id then survives lines moving. '' means the entry.
    key: str = ""

    def to_dict(self) -> dict[str, str]:
        return dict(vars(self))


@dataclass(frozen=True)
class Problem:
    """Something a reader could not use: the entry ('' for the whole file) and why. `skipped` is
    False for a flaw the article was indexed with (a date that cannot be read)."""

    entry: str
    reason: str
    skipped: bool = True


@dataclass(frozen=True)
class Reading:
    """What a reader made of one file: its articles and the problems it found."""

    articles: tuple[Article, ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)


Reader = Callable[[bytes, str], Reading]


def compose(title: str, body: str) -> str:
    """The citable text of a converted article: headline, blank line, body (as a `.txt` article)."""
    title, body = " ".join(title.split()), body.strip("\n")
    if not title or body.startswith(title):
        return body
    return f"{title}\n\n{body}"


def _html(data: bytes, name: str) -> Reading:
    from index.readers import html

    return html.read(data, name)


def _feed(data: bytes, name: str) -> Reading:
    from index.readers import feed

    return feed.read(data, name)


def _jsonl(data: bytes, name: str) -> Reading:
    from index.readers import jsonl

    return jsonl.read(data, name)


# Suffix -> reader, for the forms whose text must be converted; `.txt` and `.md` are read as they
# are by index/documents.py. The modules load on first use: a folder of .txt files never imports
# trafilatura or feedparser.
READERS: dict[str, Reader] = {
    ".html": _html,
    ".htm": _html,
    ".xml": _feed,
    ".rss": _feed,
    ".atom": _feed,
    ".jsonl": _jsonl,
}
PLAIN_SUFFIXES = (".txt", ".md")
SUFFIXES = (*PLAIN_SUFFIXES, *READERS)
