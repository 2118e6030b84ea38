"""Reading the corpus: every `*.txt` / `*.md` file becomes a `Document`, byte-exact; saved web
pages, feeds and JSON Lines dumps become one `Document` per article through their readers
(index/readers/).

Offsets everywhere in the project are Python string indices into `Document.text`. For a `.txt` or
`.md` file that is the file decoded as UTF-8 and nothing more: no newline, quote or whitespace
normalisation. For a converted article it is the text its reader extracted, which the index keeps
(index/converted.py): offsets point into that stored text, never into the HTML or the JSON.

The corpus is what the folder holds: a link that leads outside it is reported and never read (a
link to /etc/passwd is not an article), a file name that is not UTF-8 is reported with its bad
bytes escaped (it could not become a document id or be written to the index), and a file over
`max_file_bytes` is reported instead of tying up a build for minutes.

Reading and hashing every article whenever a process opens the index made a cold `rag ask` linear
in the corpus (2.4 s at 5,000 articles on a loaded machine). So a caller may pass what it
verified before (`Known`: a file's size, mtime, ctime and inode when its sha256 was checked, the
"stat stamp" the index store uses for its own files): a file whose stat still matches becomes a
`StoredDocument`, whose text is read (and checked against the sha256) only when used.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat as stat_module
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from index import converted
from index.errors import CorpusChanged, CorpusError
from index.readers import PLAIN_SUFFIXES, READERS, SUFFIXES
from index.readers.dates import DateError, iso_day

DOCUMENT_SUFFIXES = SUFFIXES
MANIFEST_NAME = "manifest.json"
# Largest file read as one article (Settings.max_file_bytes, RAG_MAX_FILE_BYTES). Build time is
# linear in size and ~99% embedding (profiled; nothing quadratic): a 1 MB article splits into
# ~8.6k sentences + ~1.9k chunks in under a second, then embeds those ~10.5k units at 30-35 units/s
# on 2 idle cores (322 s) and ~6/s on a busy machine (250 KB took 431 s). News articles are 4-6 KB
# here and long-form features ~60 KB, so 250 KB admits 4x the longest feature while capping one
# file at ~80 s of an idle build; anything bigger is likely a book, a log or a data dump.
MAX_FILE_BYTES = 250_000
# For pages, feeds and dumps the limit holds per article; the file itself may be this many times
# bigger (a page's markup and scripts, a feed's or dump's many articles) before it is refused unread.
CONTAINER_FACTOR = 400


@dataclass(frozen=True)
class Document:
    doc_id: str
    source: str  # path relative to the corpus folder, POSIX style
    text: str = field(repr=False)
    title: str = ""
    publisher: str = ""
    # When the article was published, as the corpus manifest writes it ("published" or "date");
    # shown beside a figure that another source contradicts, so a newer estimate reads as newer.
    # A converted article's comes from its page, feed entry or JSON line, as YYYY-MM-DD.
    published: str = ""
    author: str = ""
    url: str = ""
    # Where a converted article sits in its file: the feed entry's number or the JSON line's number,
    # from 1 ('' for a one-article file); `source` is then "file#entry".
    entry: str = ""

    @property
    def file(self) -> str:
        """The corpus file the article was read from (its `source` without the entry)."""
        return self.source[: -len(self.entry) - 1] if self.entry else self.source

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


class StoredDocument(Document):
    """A document whose file is unchanged since its sha256 was verified: the text is read on first use.

    It compares and hashes like the `Document` it stands for (by its text)."""

    known: Known  # the record that vouches for the file
    _path: str
    _text: str | None

    def __init__(self, doc_id: str, source: str, path: str, known: Known, title: str, publisher: str, published: str):
        for name, value in (
            ("doc_id", doc_id),
            ("source", source),
            ("title", title),
            ("publisher", publisher),
            ("published", published),
            ("known", known),
            ("_path", path),
            ("_text", None),
        ):
            object.__setattr__(self, name, value)

    @property  # a read-only field here: the text is read on first use
    def text(self) -> str:
        cached = self._text
        if cached is None:
            try:
                with open(self._path, "rb") as fh:
                    cached = fh.read().decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CorpusChanged(f"{self.source} can no longer be read ({exc}); run the command again") from exc
            if hashlib.sha256(cached.encode("utf-8")).hexdigest() != self.known.sha256:
                raise CorpusChanged(f"{self.source} changed while it was being used; run the command again")
            object.__setattr__(self, "_text", cached)
        return cached

    @property
    def sha256(self) -> str:
        return self.known.sha256

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return _key(self) == _key(other)

    def __hash__(self) -> int:
        return hash(_key(self))


def _key(doc: Document) -> tuple[str, ...]:
    return (doc.doc_id, doc.source, doc.text, doc.title, doc.publisher, doc.published, doc.author, doc.url, doc.entry)


@dataclass(frozen=True)
class Known:
    """A corpus file as last verified: its stat (size, mtime, ctime, inode), sha256 and default title."""

    stat: tuple[int, int, int, int]
    sha256: str
    title: str


@dataclass(frozen=True)
class CorpusProblem:
    """A file or article that was skipped (or, `skipped=False`, indexed with a flaw such as an
    unreadable date), with the reason a person can act on."""

    source: str
    reason: str
    skipped: bool = True

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(frozen=True)
class Corpus:
    root: Path
    documents: tuple[Document, ...]
    problems: tuple[CorpusProblem, ...] = ()
    # The stat of each file read in full, taken before reading it: what a caller may record as
    # verified once the text's sha256 is checked (`Known`).
    read_stats: dict[str, tuple[int, int, int, int]] = field(default_factory=dict, compare=False, repr=False)
    # The conversions this corpus uses (`index.converted` names), and of those the ones made now,
    # which the index does not hold yet (name -> JSON bytes), for the next build to store.
    converted: frozenset[str] = field(default_factory=frozenset, compare=False, repr=False)
    conversions: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    def get(self, doc_id: str) -> Document:
        for doc in self.documents:
            if doc.doc_id == doc_id:
                return doc
        raise KeyError(doc_id)

    @property
    def by_id(self) -> dict[str, Document]:
        return {doc.doc_id: doc for doc in self.documents}


TITLE_MAX_CHARS = 100


def default_title(text: str) -> str:
    """The article's first line (its headline); a lead paragraph is cut to its first words."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "").lstrip("\ufeff")
    if len(line) <= TITLE_MAX_CHARS:
        return line
    cut = line[:TITLE_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _manifest_date(info: dict) -> str:
    """The manifest's date for a file, as YYYY-MM-DD when it reads as a date (answers order by it),
    else as written."""
    raw = str(info.get("published") or info.get("date") or "")
    try:
        return iso_day(raw)
    except DateError:
        return raw


def _read_manifest(root: Path) -> dict[str, dict]:
    path = root / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{path}: corpus manifest is not valid JSON ({exc}); fix or delete it") from exc
    entries = data.get("documents", data) if isinstance(data, dict) else {}
    return entries if isinstance(entries, dict) else {}


def load_corpus(
    root: str | Path,
    max_file_bytes: int = MAX_FILE_BYTES,
    known: Mapping[str, Known] | None = None,
    stored: Path | None = None,
) -> Corpus:
    """Read every document file under `root`; unusable files and articles are listed, not fatal.

    A file in `known` (by source) whose stat still matches is not read: it becomes a `StoredDocument`.
    A page, feed or dump whose conversion the index keeps in the folder `stored` (by the file's
    sha256, `index.converted`) is not converted again: its articles' text is the stored text.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"corpus folder {root} does not exist; pass --corpus DIR or set RAG_CORPUS")
    real_root = root.resolve()
    meta = _read_manifest(root)
    documents: list[Document] = []
    problems: list[CorpusProblem] = []
    seen_ids: dict[str, str] = {}
    read_stats: dict[str, tuple[int, int, int, int]] = {}
    conversions: dict[str, bytes] = {}
    used: set[str] = set()
    for parts, path, link, st in _document_files(root):
        if not link and (st is None or not stat_module.S_ISREG(st.st_mode)):  # a broken link is reported
            continue
        source = "/".join(parts)
        suffix = os.path.splitext(path)[1].lower()
        limit = max_file_bytes if suffix in PLAIN_SUFFIXES else max_file_bytes * CONTAINER_FACTOR
        reason = _refusal(path, source, real_root, limit, link, st)
        if reason:
            problems.append(CorpusProblem(_printable(source), reason))
            continue
        if suffix not in PLAIN_SUFFIXES:
            found = _converted(path, source, suffix, max_file_bytes, stored, conversions, used)
            for doc in found.documents:
                if doc.doc_id in seen_ids:
                    problems.append(
                        CorpusProblem(doc.source, f"same document id as {seen_ids[doc.doc_id]}; rename one of them")
                    )
                    continue
                seen_ids[doc.doc_id] = doc.source
                documents.append(doc)
            problems.extend(found.problems)
            continue
        doc_id = source.rsplit(".", 1)[0]
        info = meta.get(source, {}) if isinstance(meta.get(source, {}), dict) else {}
        stat = None if st is None else (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        record = (known or {}).get(source)
        if record is not None and stat is not None and record.stat == stat and doc_id not in seen_ids:
            seen_ids[doc_id] = source
            documents.append(
                StoredDocument(
                    doc_id,
                    source,
                    path,
                    record,
                    info.get("title") or record.title,
                    info.get("publisher", ""),
                    _manifest_date(info),
                )
            )
            continue
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(CorpusProblem(source, f"not valid UTF-8 (byte {exc.start}); re-save it as UTF-8"))
            continue
        except OSError as exc:
            problems.append(CorpusProblem(source, f"unreadable ({exc.strerror or exc}); check its permissions"))
            continue
        if not text.strip():
            problems.append(CorpusProblem(source, "empty file; add text or remove it"))
            continue
        if doc_id in seen_ids:
            problems.append(CorpusProblem(source, f"same document id as {seen_ids[doc_id]}; rename one of them"))
            continue
        seen_ids[doc_id] = source
        if stat is not None:
            read_stats[source] = stat
        documents.append(
            Document(
                doc_id=doc_id,
                source=source,
                text=text,
                title=info.get("title") or default_title(text),
                publisher=info.get("publisher", ""),
                published=_manifest_date(info),
            )
        )
    if not documents and not problems:
        raise CorpusError(
            f"corpus folder {root} has no articles ({', '.join('*' + s for s in SUFFIXES)}); add articles to it"
        )
    return Corpus(
        root=root,
        documents=tuple(documents),
        problems=tuple(problems),
        read_stats=read_stats,
        converted=frozenset(used),
        conversions=conversions,
    )


@dataclass(frozen=True)
class _Found:
    documents: tuple[Document, ...]
    problems: tuple[CorpusProblem, ...]


def _converted(
    path: str,
    source: str,
    suffix: str,
    max_bytes: int,
    stored: Path | None,
    conversions: dict[str, bytes],
    used: set[str],
) -> _Found:
    """The articles of a page, feed or dump: from the index's stored conversion when it has this
    file's, else from its reader (and recorded in `conversions` for the index to store)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return _Found((), (CorpusProblem(source, f"unreadable ({exc.strerror or exc}); check its permissions"),))
    name = converted.name_for(data)
    used.add(name)
    reading = converted.load(stored, name) if stored is not None else None
    if reading is None:
        reading = READERS[suffix](data, source)
        conversions[name] = converted.encode(reading)
    stem = source.rsplit(".", 1)[0]
    documents, problems = [], []
    for problem in reading.problems:
        at = f"{source}#{problem.entry}" if problem.entry else source
        problems.append(CorpusProblem(at, problem.reason, skipped=problem.skipped))
    for article in reading.articles:
        at = f"{source}#{article.entry}" if article.entry else source
        size = len(article.text.encode("utf-8"))
        if size > max_bytes:
            problems.append(
                CorpusProblem(
                    at,
                    f"article of {size:,} bytes, over the limit of {max_bytes:,}; split it or raise RAG_MAX_FILE_BYTES",
                )
            )
            continue
        documents.append(
            Document(
                doc_id=f"{stem}#{article.key or article.entry}" if article.entry else stem,
                source=at,
                text=article.text,
                title=article.title or default_title(article.text),
                publisher=article.outlet,
                published=article.published,
                author=article.author,
                url=article.url,
                entry=article.entry,
            )
        )
    return _Found(tuple(documents), tuple(problems))


def _document_files(root: Path) -> list[tuple[tuple[str, ...], str, bool, os.stat_result | None]]:
    """Every `*.txt` / `*.md` entry under `root` as (path parts, path, is a link, stat or None),
    sorted by parts; links to folders are not followed (as `Path.rglob` does not).

    One `scandir` per folder and one `stat` per file: at 50,000 articles the `pathlib` walk with
    `resolve()` on every file took seconds of every cold `rag ask`."""
    found = []
    stack: list[tuple[str, tuple[str, ...]]] = [(str(root), ())]
    while stack:
        folder, parts = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            here = (*parts, entry.name)
            link = entry.is_symlink()
            try:
                folder_here = not link and entry.is_dir()
            except OSError:  # unreadable: not walked
                folder_here = False
            if folder_here:
                stack.append((entry.path, here))
            if os.path.splitext(entry.name)[1].lower() in DOCUMENT_SUFFIXES:
                try:
                    st: os.stat_result | None = entry.stat()
                except OSError:
                    st = None
                found.append((here, entry.path, link, st))
    return sorted(found, key=lambda f: f[0])


def _refusal(
    path: str, source: str, real_root: Path, max_file_bytes: int, link: bool, st: os.stat_result | None
) -> str:
    """Why `path` must not be read at all (bad name, link leaving the corpus, too big), or ''.

    Only a link can lead outside the corpus: folders reached through links are never walked."""
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8 (bad bytes shown as \\x..); rename it"
    if link:
        try:
            target = Path(path).resolve()
        except (OSError, RuntimeError):  # a link loop
            return "a link that never reaches a file (a loop); remove it"
        if target != real_root and real_root not in target.parents:
            return f"a link to {_printable(str(target))}, outside the corpus folder; not read. Copy the file in instead"
    if st is None:
        return ""  # reported as unreadable when read
    size = st.st_size
    if size > max_file_bytes:
        return (
            f"{size:,} bytes, over the limit of {max_file_bytes:,}; split it into articles or raise RAG_MAX_FILE_BYTES"
        )
    return ""


def _printable(name: str) -> str:
    """A file name with the bytes that are not UTF-8 escaped (`caf\\xe9.txt`), safe to print and store."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")
