"""The gold question set (`eval/gold.jsonl`): loading it, and checking it against the corpus.

One JSON object per line:

    {"id": "figure-01", "category": "figure", "question": ..., "reference": ...,
     "keys": ["$120 billion", ...], "evidence": [{"source": "000_...txt", "start": 347, "end": 499, "text": ...}]}

`source` is a file name relative to `corpus/`; `start`/`end` are Python string offsets into the
file decoded as UTF-8 (no normalisation), so `file_text[start:end] == text`. Evidence spans are
whole sentences, the unit the system cites. `unanswerable` items have no keys and no evidence.

Categories, and what the right behaviour is:

* `figure`, `position`, `multi_source`: answer, citing the evidence. These three are the
  `answerable` scope of the report and of `eval/thresholds.toml` (its meaning is fixed: the
  thresholds were set on it).
* `attribution`: "what did X say (about Y)", where the articles do attribute it to X. Answer,
  citing X's sentence. Extra field `speaker`: X's full name. `answerable_all` = the three above
  plus `attribution`.
* `misattribution`: X (`asked_speaker`, as the question names them) never said it. Either
  someone else did (`true_speaker`, full name, with their sentence(s) as evidence) or nobody
  did (`true_speaker` null, no evidence). Right: never present X as the speaker; either say the
  articles do not quote X (naming and citing the true speaker) or abstain. Scored by
  `wrong_speaker` (eval/metrics.py), and by `evidence_hit` only when the answer does not abstain.
* `unanswerable`: about the story, but the articles do not say. Abstain. No keys, no evidence.
* `offtopic`: names the corpus' people and places but asks what it never says (weather,
  population, another actor's figures). Abstain. No keys, no evidence. `unanswerable_offtopic`
  = `unanswerable` + `offtopic`, the scope of `abstention_correct` for both.

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

from index.errors import RagError

GOLD_PATH = Path(__file__).resolve().parent / "gold.jsonl"
CATEGORIES = ("figure", "position", "multi_source", "attribution", "misattribution", "unanswerable", "offtopic")
ANSWERABLE = ("figure", "position", "multi_source")  # the `answerable` scope, as the thresholds know it
ANSWERABLE_ALL = ANSWERABLE + ("attribution",)  # every category whose right behaviour is to answer
ABSTAIN = ("unanswerable", "offtopic")  # every category whose right behaviour is to abstain
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
    speaker: str | None = None  # attribution: who said it (full name)
    asked_speaker: str | None = None  # misattribution: the speaker as the question names them
    true_speaker: str | None = None  # misattribution: who did say it (full name), None if nobody

    @property
    def answerable(self) -> bool:
        """In the `answerable` scope (figure, position, multi_source): the historical meaning the
        thresholds and the retrieval recall (eval/recall.py) were set on."""
        return self.category in ANSWERABLE

    @property
    def expects_answer(self) -> bool:
        """The right behaviour is to answer (answerable + attribution)."""
        return self.category in ANSWERABLE_ALL

    @property
    def expects_abstention(self) -> bool:
        """The right behaviour is to abstain (unanswerable + offtopic). Misattribution items are
        neither: correcting the speaker and abstaining are both right."""
        return self.category in ABSTAIN

    def to_dict(self) -> dict:
        out: dict[str, object] = {
            "id": self.id,
            "category": self.category,
            "question": self.question,
            "reference": self.reference,
            "keys": list(self.keys),
            "evidence": [e.to_dict() for e in self.evidence],
        }
        if self.category == "attribution":
            out["speaker"] = self.speaker
        if self.category == "misattribution":
            out["asked_speaker"] = self.asked_speaker
            out["true_speaker"] = self.true_speaker
        return out


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
    extra = _speaker_fields(raw, where)
    item = GoldItem(
        raw["id"], raw["category"], raw["question"], raw["reference"], tuple(raw["keys"]), evidence, **extra
    )
    if item.expects_answer and not (item.evidence and item.reference.strip()):
        raise GoldError(f"{where} ({item.id}): answerable items need a reference and evidence")
    if item.expects_abstention and (item.evidence or item.keys):
        raise GoldError(f"{where} ({item.id}): {item.category} items must have empty keys and evidence")
    if item.category == "misattribution":
        if not item.reference.strip():
            raise GoldError(f"{where} ({item.id}): misattribution items need a reference answer")
        if item.true_speaker and not item.evidence:
            raise GoldError(
                f"{where} ({item.id}): misattribution with true_speaker {item.true_speaker!r} needs "
                "the true speaker's sentence(s) as evidence"
            )
        if not item.true_speaker and item.evidence:
            raise GoldError(
                f"{where} ({item.id}): misattribution with true_speaker null (nobody said it) must have empty evidence"
            )
    return item


def _speaker_fields(raw: dict, where: str) -> dict:
    """`speaker` (attribution), `asked_speaker` and `true_speaker` (misattribution): required
    there, refused elsewhere, so a mislabelled category cannot slip through."""
    category = raw["category"]
    wanted = {"attribution": ("speaker",), "misattribution": ("asked_speaker", "true_speaker")}.get(category, ())
    stray = [f for f in ("speaker", "asked_speaker", "true_speaker") if f in raw and f not in wanted]
    if stray:
        raise GoldError(f"{where}: field(s) {', '.join(stray)} do not belong to a {category} item")
    missing = [f for f in wanted if f not in raw]
    if missing:
        raise GoldError(f"{where}: {category} items need field(s) {', '.join(missing)}")
    out = {f: raw[f] for f in wanted}
    for f, value in out.items():
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise GoldError(f"{where}: {f} must be a name (or null for true_speaker), got {value!r}")
    if out.get("speaker") is None and category == "attribution":
        raise GoldError(f"{where}: attribution items need speaker, the full name of who said it")
    if category == "misattribution" and out["asked_speaker"] is None:
        raise GoldError(f"{where}: misattribution items need asked_speaker, the speaker as the question names them")
    return out


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
                problems.append(
                    f"{item.id}: {ev.source}[{ev.start}:{ev.end}] is {text[ev.start : ev.end]!r}, gold says {ev.text!r}"
                )
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
