"""The index's copy of each converted file's articles: the text every citation of them points into.

A page, feed or dump is converted by its reader (index/readers/); the result, text and metadata of
each article and the problems found, is kept in the index folder under `converted/`, one JSON file
named for the sha256 of the file's bytes and the reader version. So offsets stay exact even when
trafilatura or feedparser would now extract a page differently, and opening the index does not
convert every page again (measured on tests/fixtures/news, 2 cores under load: an 8 KB page takes
7 ms to convert, the 5-entry feed 14 ms; the 15 articles of the three forms 73 ms converted, 1.1 ms
read back from here). Files are written to a temp name and renamed (never half-written); being
named for their content they are never changed, only added, and removed by the next build once no
corpus file has those bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Iterable

from index.readers import READER_VERSION, Article, Problem, Reading

FOLDER = "converted"
_TEMP = ".tmp-"


def name_for(data: bytes) -> str:
    """The stored conversion's file name for a file holding `data`."""
    return f"{hashlib.sha256(data).hexdigest()}-r{READER_VERSION}.json"


def encode(reading: Reading) -> bytes:
    return json.dumps(
        {
            "reader": READER_VERSION,
            "articles": [a.to_dict() for a in reading.articles],
            "problems": [vars(p) for p in reading.problems],
        },
        ensure_ascii=False,
        indent=1,
    ).encode("utf-8")


def load(folder: Path, name: str) -> Reading | None:
    """The stored reading `name` in `folder`, or None when absent or unreadable (then convert again)."""
    try:
        data = json.loads((folder / name).read_bytes())
    except (OSError, ValueError):
        return None
    return decode(data)


def decode(data: object) -> Reading | None:
    """A reading from its stored JSON (parsed), or None when it has the wrong shape."""
    try:
        assert isinstance(data, dict)
        return Reading(
            tuple(Article(**a) for a in data["articles"]),
            tuple(Problem(**p) for p in data["problems"]),
        )
    except (AssertionError, TypeError, KeyError):
        return None


def save(folder: Path, conversions: dict[str, bytes]) -> list[str]:
    """Write the conversions `folder` lacks (temp file, fsync, rename); returns the names written."""
    written = []
    for name, data in sorted(conversions.items()):
        path = folder / name
        if path.is_file():
            continue
        folder.mkdir(exist_ok=True)
        tmp = folder / f"{_TEMP}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        written.append(name)
    return written


def prune(folder: Path, keep: Iterable[str]) -> list[str]:
    """Remove the stored conversions (and temp leftovers) not in `keep`; call with the write lock held."""
    keep = set(keep)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for path in entries:
        ours = path.name.startswith(_TEMP) or (path.suffix == ".json" and "-r" in path.name)
        if path.is_file() and ours and path.name not in keep:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return sorted(removed)
