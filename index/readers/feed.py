"""RSS and Atom feeds: each entry an article, from its content, or its summary when that is all it has.

feedparser reads what it can of a damaged feed (`bozo`): the entries it recovered are indexed and
each entry without text is reported by its number, so one broken entry costs only itself. A feed
that yields no entry at all is reported with feedparser's reason.
"""

from __future__ import annotations

from index.readers import Article, Problem, Reading, compose
from index.readers.dates import DateError, iso_day
from index.readers.html import fragment_text


def read(data: bytes, name: str) -> Reading:
    try:
        import feedparser
    except ImportError as exc:
        return Reading(problems=(Problem("", f"reading feeds needs feedparser ({exc}); pip install feedparser"),))
    parsed = feedparser.parse(data)
    if not parsed.entries:
        why = f" ({type(parsed.bozo_exception).__name__}: {parsed.bozo_exception})" if parsed.get("bozo") else ""
        return Reading(
            problems=(Problem("", f"not a readable RSS or Atom feed: no entries{why}; check the file is a feed"),)
        )
    outlet = " ".join(str(parsed.feed.get("title", "")).split())
    articles: list[Article] = []
    problems: list[Problem] = []
    for number, entry in enumerate(parsed.entries, 1):
        where = str(number)
        body = _body(entry)
        title = " ".join(str(entry.get("title", "")).split())
        if not body:
            problems.append(Problem(where, f"entry {number} has no content or summary; nothing to index"))
            continue
        raw_date = dict.get(entry, "published") or dict.get(entry, "updated") or ""
        try:
            published = _day(entry, raw_date)
        except DateError as exc:
            published = ""
            problems.append(Problem(where, f"{exc}; indexed without a date", skipped=False))
        articles.append(
            Article(
                text=compose(title, body),
                title=title,
                published=published,
                author=" ".join(str(entry.get("author_detail", {}).get("name") or entry.get("author", "")).split()),
                outlet=outlet,
                url=str(entry.get("link", "")),
                entry=where,
            )
        )
    return Reading(tuple(articles), tuple(problems))


def _body(entry) -> str:
    """The entry's article text: its longest content, else its summary."""
    contents = [c.get("value", "") for c in entry.get("content", []) if c.get("value")]
    markup = max(contents, key=len) if contents else entry.get("summary", "")
    return fragment_text(str(markup)).strip()


def _day(entry, raw: str) -> str:
    """The entry's publication day; feedparser's parse first, ours for what it could not read."""
    # dict.get: feedparser's own lookup of a missing `updated_parsed` warns of a deprecated fallback.
    parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    if parsed:
        return f"{parsed.tm_year:04d}-{parsed.tm_mon:02d}-{parsed.tm_mday:02d}"
    return iso_day(raw)
