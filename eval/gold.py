"""The gold question set (`eval/gold.jsonl`): loading it, and checking it against the corpus.

One JSON object per line:

    {"id": "figure-01", "category": "figure", "question": ..., "reference": ...,
     "keys": ["$120 billion", ...], "evidence": [{"source": "000_...txt", "start": 347, "end": 499, "text": ...}]}

`source` is a file name relative to `corpus/`; `start`/`end` are Python string offsets into the
file decoded as UTF-8 (no normalisation), so `file_text[start:end] == text`. Evidence spans are
whole sentences, the unit the system cites. `unanswerable` items have no keys and no evidence.

To add an item, find the sentence's offsets with

    python -m eval.gold locate 003_44c35423e110a14f.txt "around 30 Western countries"

which prints the evidence object of the one sentence containing that snippet.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError

GOLD_PATH = Path(__file__).resolve().parent / "gold.jsonl"
CATEGORIES = ("figure", "position", "multi_source", "unanswerable")
_FIELDS = ("id", "category", "question", "reference", "keys", "evidence")


class GoldError(RagError):
    """The gold file is malformed or no longer matches the corpus."""


@dataclass(frozen=True)
class GoldSpan:
    source: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return {"source": self.source, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class GoldItem:
    id: str
    category: str
    question: str
    reference: str
    keys: tuple[str, ...]
    evidence: tuple[GoldSpan, ...]

    @property
    def answerable(self) -> bool:
        return self.category != "unanswerable"

    def to_dict(self) -> dict:
        return {"id": self.id, "category": self.category, "question": self.question,
                "reference": self.reference, "keys": list(self.keys),
                "evidence": [e.to_dict() for e in self.evidence]}


def _parse(line: str, where: str) -> GoldItem:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise GoldError(f"{where}: not valid JSON ({exc}); one JSON object per line") from exc
    missing = [f for f in _FIELDS if f not in raw]
    if missing:
        raise GoldError(f"{where}: missing field(s) {', '.join(missing)}")
    if raw["category"] not in CATEGORIES:
        raise GoldError(f"{where}: category {raw['category']!r} is not one of {', '.join(CATEGORIES)}")
    try:
        evidence = tuple(GoldSpan(e["source"], int(e["start"]), int(e["end"]), e["text"]) for e in raw["evidence"])
    except (KeyError, TypeError, ValueError) as exc:
        raise GoldError(f"{where}: evidence needs source, start, end, text ({exc})") from exc
    item = GoldItem(raw["id"], raw["category"], raw["question"], raw["reference"], tuple(raw["keys"]), evidence)
    if item.answerable and not (item.evidence and item.reference.strip()):
        raise GoldError(f"{where} ({item.id}): answerable items need a reference and evidence")
    if not item.answerable and (item.evidence or item.keys):
        raise GoldError(f"{where} ({item.id}): unanswerable items must have empty keys and evidence")
    return item


def load_gold(path: str | Path = GOLD_PATH) -> list[GoldItem]:
    """Every gold item in file order; raises `GoldError` naming the line that is wrong."""
    path = Path(path)
    if not path.is_file():
        raise GoldError(f"gold file {path} does not exist; pass the path to eval/gold.jsonl")
    items: list[GoldItem] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = _parse(line, f"{path.name} line {n}")
        if item.id in seen:
            raise GoldError(f"{path.name} line {n}: duplicate id {item.id}; ids must be unique")
        seen.add(item.id)
        items.append(item)
    return items


def span_problems(items: list[GoldItem], corpus_dir: str | Path) -> list[str]:
    """Evidence spans that no longer slice to their stated text from the corpus files."""
    corpus_dir = Path(corpus_dir)
    texts: dict[str, str | None] = {}
    problems = []
    for item in items:
        for ev in item.evidence:
            if ev.source not in texts:
                path = corpus_dir / ev.source
                texts[ev.source] = path.read_bytes().decode("utf-8") if path.is_file() else None
            text = texts[ev.source]
            if text is None:
                problems.append(f"{item.id}: {ev.source} is not in {corpus_dir}")
            elif text[ev.start : ev.end] != ev.text:
                problems.append(f"{item.id}: {ev.source}[{ev.start}:{ev.end}] is {text[ev.start:ev.end]!r}, "
                                f"gold says {ev.text!r}")
    return problems


def locate(corpus_dir: str | Path, source: str, snippet: str) -> GoldSpan:
    """The one sentence of `source` (as the system splits it) that contains `snippet` exactly."""
    from index.chunking import split_sentences
    from index.documents import load_corpus

    doc = next((d for d in load_corpus(corpus_dir).documents if d.source == source), None)
    if doc is None:
        raise GoldError(f"{source} is not in {corpus_dir}")
    starts = [m.start() for m in re.finditer(re.escape(snippet), doc.text)]
    if len(starts) != 1:
        raise GoldError(f"snippet occurs {len(starts)} times in {source}; copy a longer, unique piece of it")
    pos = starts[0]
    for s in split_sentences(doc):
        if s.start <= pos and pos + len(snippet) <= s.end:
            return GoldSpan(source, s.start, s.end, s.text)
    raise GoldError(f"snippet crosses a sentence boundary in {source}; quote within one sentence")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "locate":
        print(json.dumps(locate(Path("corpus"), sys.argv[2], sys.argv[3]).to_dict(), ensure_ascii=False))
    else:
        print("usage: python -m eval.gold locate SOURCE SNIPPET", file=sys.stderr)
        sys.exit(2)
