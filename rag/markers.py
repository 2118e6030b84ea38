"""Citation markers: the one grammar for them, and reading a model's reply back.

A marker names evidence (in a draft) or a citation (in a published answer) by number: "[2]". Models
write many styles ("[2]", "[2, 5]", "[2-3]", "[Evidence 2]", "[#2]", "【2】", "[^2]"); `parse_reply`
copes with stray text (preambles, "<think>" blocks, a trailing "Sources:" list, a made-up next
"Question:"), missing, duplicated and out-of-range ids, and normalises every marker to "[n]".
The engine renumbers them (`renumber`), verification reads claims with them (`read_claims`), and
the UI places the published "[n]" markers (`PUBLISHED_MARKER`) and hides draft ones while a reply
streams (`without_draft_markers`).

Quoted spans: a text may quote a cited span word for word (the extractive answer is one), and an
article may contain a literal "[2]". Markers are read only *outside* the occurrences of the cited
texts passed as `quoted`, so a bracketed number an article wrote is never taken for a citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Iterable, Sequence

# A citation marker: "[2]", "[2, 5]", "[2-3]", "[Evidence 2]", "[#2]", "【2】", "[^2]".
_MARKER = re.compile(
    r"[\[【]\s*(?:(?:evidence|sentence|source|passage|id|ref)\s*|[#^])?"
    r"(?P<ids>\d{1,3}(?:\s*(?:,|;|and|-|\u2013)\s*(?:(?:evidence|sentence|source|passage)\s*|#)?\d{1,3})*)\s*[\]】]",
    re.IGNORECASE,
)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^```[a-z]*\s*|\s*```$", re.MULTILINE)
_PREAMBLE = re.compile(r"^\s*(?:\*\*)?(?:final answer|answer)\s*(?:\*\*)?\s*[:\-]\s*", re.IGNORECASE)
# Where the answer proper ends: a sources list, or the model continuing the prompt's pattern.
_TAIL = re.compile(
    r"^\s*(?:\*\*)?(?:sources?|references?|citations?|evidence|question|notes?)\s*(?:\*\*)?\s*:",
    re.IGNORECASE | re.MULTILINE,
)
_ABBREVIATIONS = {
    "u.s",
    "u.k",
    "e.u",
    "u.n",
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "gen",
    "sen",
    "rep",
    "jr",
    "sr",
    "e.g",
    "i.e",
    "vs",
    "no",
    "approx",
    "est",
    "inc",
    "ltd",
    "co",
    "corp",
    "lt",
    "col",
    "gov",
    "pres",
}
_BULLET = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*\u2022])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+")


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer and the ids it cites (in the order written, no repeats)."""

    text: str  # the sentence without its markers
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Reply:
    """A model's reply read back: clean text with normalised markers, and what was dropped."""

    text: str
    claims: tuple[Claim, ...]
    ids: tuple[int, ...]  # every valid id, in order of first use
    dropped_ids: tuple[int, ...] = ()  # ids the model cited that name no evidence
    raw: str = ""


# A marker as published, after `renumber`/`parse_reply` normalised it: "[3]".
PUBLISHED_MARKER = re.compile(r"\[(\d{1,3})\]")
# A marker in a streamed draft, before normalisation: "[3]", "[1, 4]" (with the space before it).
_DRAFT_MARKER = re.compile(r"\s?\[\d{1,3}(?:\s*[,;]\s*\d{1,3})*\]")


def without_draft_markers(text: str) -> str:
    """Streamed LLM text minus its markers: those name prompt evidence ids, renumbered at the end."""
    return _DRAFT_MARKER.sub("", text)


# Brackets inside quoted spans are swapped for these noncharacters while markers are read, then
# swapped back: they never occur in text, so the round trip is exact.
_HIDE = str.maketrans({"[": "\ufdd0", "]": "\ufdd1", "\u3010": "\ufdd2", "\u3011": "\ufdd3"})
_SHOW = str.maketrans({v: k for k, v in _HIDE.items()})


def _masked(text: str, quoted: Iterable[str]) -> str:
    """`text` with the brackets inside every occurrence of a `quoted` span hidden from `_MARKER`."""
    chars = list(text)
    for q in {q for q in quoted if q and ("[" in q or "\u3010" in q)}:
        at = text.find(q)
        while at >= 0:
            chars[at : at + len(q)] = q.translate(_HIDE)
            at = text.find(q, at + 1)
    return "".join(chars)


def _unmasked(text: str) -> str:
    return text.translate(_SHOW)


def marker_ids(marker: str) -> list[int]:
    """The ids inside one marker; "[2-4]" is 2, 3, 4."""
    inner = _MARKER.fullmatch(marker).group("ids")  # type: ignore[union-attr]
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|and)\s*", inner, flags=re.IGNORECASE):
        numbers = [int(n) for n in re.findall(r"\d+", part)]
        if len(numbers) == 2 and re.search(r"[-\u2013]", part) and 0 <= numbers[1] - numbers[0] <= 10:
            out += range(numbers[0], numbers[1] + 1)
        else:
            out += numbers
    return out


def strip_markers(text: str, quoted: Iterable[str] = ()) -> str:
    """`text` without citation markers (none inside `quoted` spans), spaces tidied."""
    text = _MARKER.sub("", _masked(text, quoted))
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return _unmasked(" ".join(text.split()))


def clean_reply(raw: str) -> str:
    """The answer part of a raw reply: no reasoning block, fences, preamble or sources list."""
    text = _FENCE.sub("", _THINK.sub("", raw or ""))
    text = _PREAMBLE.sub("", text.strip())
    tail = _TAIL.search(text)
    if tail and tail.start() > 0:
        text = text[: tail.start()]
    elif tail:  # the reply *starts* with a label such as "Sources:": keep what follows it
        text = text[tail.end() :]
    return text.strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer. A marker written after a full stop on the same line ("... 2026. [1]")
    stays with the sentence it follows; one that opens a line ("[1] Ukraine ...") belongs to that
    line, as in a list. "U.S." and "0.25" do not end a sentence."""
    sentences: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line)
        for n, piece in enumerate(_line_sentences(line)):
            lead = re.match(r"(?:\s*" + _MARKER.pattern + r")+", piece, re.IGNORECASE)
            if lead and n > 0 and sentences:  # "[1]" after a full stop closes the previous sentence
                sentences[-1] += " " + lead.group(0).strip()
                piece = piece[lead.end() :].strip()
            if piece:
                sentences.append(piece)
    return sentences


def _line_sentences(line: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(line):
        last_word = _last_word(line, start, m.start())
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
            continue
        nxt = line[m.end() : m.end() + 1]
        if nxt and not (nxt.isupper() or nxt.isdigit() or nxt in "[【\"'\u201c(*-"):
            continue
        pieces.append(line[start : m.end()])
        start = m.end()
    pieces.append(line[start:])
    return [p.strip() for p in pieces if p.strip()]


_WORD_WINDOW = 64  # longer than any abbreviation a full stop may follow


def _last_word(line: str, start: int, end: int) -> str:
    """The lower-cased last word of `line[start:end]` without its closing punctuation, read from a
    bounded window: splitting the whole sentence so far at every full stop made a long sentence
    with many "x. y" quadratic. A word longer than the window is no abbreviation: ''."""
    lo = max(start, end - _WORD_WINDOW)
    words = line[lo:end].rstrip(".!?\"'\u201d\u2019)").split()
    if not words or (lo > start and len(words) == 1 and not line[lo - 1].isspace() and not line[lo].isspace()):
        return ""
    return words[-1].lower()


def _with_markers(body: str, ids: Sequence[int]) -> str:
    """A sentence with its markers placed before its final punctuation: "... 2026 [1][3]."."""
    if not ids:
        return body
    tags = "".join(f"[{i}]" for i in ids)
    m = re.search(r"[.!?][\"'\u201d\u2019)]*$", body)
    return f"{body[: m.start()]} {tags}{body[m.start() :]}" if m else f"{body} {tags}"


def read_claims(text: str, valid_ids: Collection[int], quoted: Iterable[str] = ()) -> tuple[list[Claim], list[int]]:
    """Claims of an answer and the out-of-range ids that were dropped from them; a bracketed
    number inside a `quoted` span is text, not a marker."""
    claims, dropped = [], []
    for sentence in split_sentences(_masked(text, quoted)):
        ids: list[int] = []
        for m in _MARKER.finditer(sentence):
            for i in marker_ids(m.group(0)):
                if i not in valid_ids:
                    dropped.append(i)
                elif i not in ids:
                    ids.append(i)
        body = _unmasked(strip_markers(sentence))
        if re.search(r"\w", body):
            claims.append(Claim(body, tuple(ids)))
    return claims, list(dict.fromkeys(dropped))


def parse_reply(raw: str, valid_ids: Collection[int]) -> Reply:
    """Read a model's reply: keep valid evidence ids per sentence, drop the rest, normalise markers.

    The text comes back one sentence per line, each with its markers before its full stop."""
    claims, dropped = read_claims(clean_reply(raw), set(valid_ids))
    # One claim per line: reading this text again gives exactly these claims (verification
    # re-reads it, and must see what the user sees).
    text = "\n".join(_with_markers(c.text, c.ids) for c in claims)
    ids = tuple(dict.fromkeys(i for c in claims for i in c.ids))
    return Reply(text, tuple(claims), ids, tuple(dropped), raw)


def renumber(text: str, mapping: dict[int, int], quoted: Iterable[str] = ()) -> str:
    """Rewrite every marker's ids through `mapping` (evidence id -> citation number); text inside
    `quoted` spans (the cited texts) is left exactly as the article wrote it."""

    def sub(m: re.Match) -> str:
        ids = list(dict.fromkeys(mapping.get(i, i) for i in marker_ids(m.group(0))))
        return "".join(f"[{i}]" for i in ids)

    return _unmasked(_MARKER.sub(sub, _masked(text, quoted)))


def has_markers(text: str, quoted: Iterable[str] = ()) -> bool:
    """Whether `text` has a citation marker outside its `quoted` spans."""
    return bool(_MARKER.search(_masked(text, quoted)))


__all__ = [
    "Claim",
    "PUBLISHED_MARKER",
    "Reply",
    "clean_reply",
    "has_markers",
    "marker_ids",
    "parse_reply",
    "read_claims",
    "renumber",
    "split_sentences",
    "strip_markers",
    "without_draft_markers",
]
