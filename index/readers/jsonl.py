"""JSON Lines dumps: one article a line, `text` required; `title`, `url`, `published`, `author`,
`outlet` and `id` taken when present.

A line that is not JSON, is not an object or has no text is reported by its number and skipped;
the other lines are read. An article's document id is the file's name and the article's `id` when the dump gives one (stable when lines
move), else its line number; its source is the file and line number either way. Two lines with
one id are reported, the later skipped.
"""

from __future__ import annotations

import json

from index.readers import Article, Problem, Reading, compose
from index.readers.dates import DateError, iso_day

FIELDS = ("text", "title", "url", "published", "author", "outlet", "id")


def read(data: bytes, name: str) -> Reading:
    articles: list[Article] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        where = str(number)
        try:
            record = json.loads(raw)
        except UnicodeDecodeError as exc:
            problems.append(
                Problem(where, f"line {number} is not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8")
            )
            continue
        except ValueError as exc:
            problems.append(Problem(where, f"line {number} is not JSON ({exc}); write one JSON object per line"))
            continue
        if not isinstance(record, dict):
            problems.append(
                Problem(
                    where, f"line {number} is a JSON {type(record).__name__}, not an object; write one object a line"
                )
            )
            continue
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(
                Problem(where, f'line {number} has no "text" (required); add the article\'s text or remove the line')
            )
            continue
        given = record.get("id")
        key = str(given).strip() if isinstance(given, (str, int)) and not isinstance(given, bool) else ""
        if key and key in seen:
            problems.append(Problem(where, f"same id {key!r} as line {seen[key]}; give each article its own id"))
            continue
        seen[key or where] = number
        try:
            published = iso_day(record.get("published"))
        except DateError as exc:
            published = ""
            problems.append(Problem(where, f"{exc}; indexed without a date", skipped=False))
        title = " ".join(_text(record, "title").split())
        articles.append(
            Article(
                text=compose(title, text),
                title=title,
                published=published,
                author=_text(record, "author"),
                outlet=_text(record, "outlet"),
                url=_text(record, "url"),
                entry=where,
                key=key,
            )
        )
    return Reading(tuple(articles), tuple(problems))


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    return value.strip() if isinstance(value, str) else ""
