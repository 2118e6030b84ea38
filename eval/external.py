"""`rag eval --external DIR`: score the reader on a question set nobody on this project wrote.

DIR holds `corpus/` (the texts) and `questions.jsonl`, one question a line: `id`, `source`,
`question`, `impossible` (true when the text does not answer it) and, for the others, `answers`
(each gold answer's `text` with `start`/`end` into `corpus/<source>`), the format of
`../shared/external/*` (SQuAD 2.0 re-cut). The corpus is indexed like any other.

Measured, from one index, side by side with two baselines that always answer with one sentence
(the top BM25 sentence and the top dense sentence):
- answer_hit: the answer holds a gold answer's text (folded: quotes, dashes, spaces, case);
- evidence_hit: a citation covers a gold answer's span;
- false_refusal: answerable questions refused;
- impossible_refused: questions the text does not answer that are refused.

Why a second measure beside gold: gold and dev were written on five articles by the people who
wrote the rules; a rule that only moves them is fitted to them.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import index.offline  # noqa: F401  (offline switches before torch)
from eval.gate import GateFailure, Threshold, load_thresholds
from index.errors import RagError
from index.terms import fold

EXTERNAL_THRESHOLDS = Path(__file__).resolve().parent / "external_thresholds.toml"
# The external dev set beside a checkout (`../shared/external/`), where the project keeps it.
DEFAULT_EXTERNAL = Path(__file__).resolve().parent.parent.parent / "shared" / "external" / "squad2-normans"
METRICS = ("answer_hit", "evidence_hit", "false_refusal", "impossible_refused")


class ExternalSetError(RagError):
    """The folder is not a question set in the shared format."""


@dataclass(frozen=True)
class GoldAnswer:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class ExternalItem:
    id: str
    source: str
    question: str
    impossible: bool
    answers: tuple[GoldAnswer, ...]


def load_set(folder: Path) -> list[ExternalItem]:
    """The questions of an external set; one line naming what is wrong for a malformed folder."""
    corpus, questions = folder / "corpus", folder / "questions.jsonl"
    if not corpus.is_dir() or not questions.is_file():
        raise ExternalSetError(
            f"{folder} is not an external question set: it needs corpus/ and questions.jsonl "
            "(see ../shared/external/*/README.md for the format)"
        )
    items = []
    for n, line in enumerate(questions.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            answers = tuple(GoldAnswer(a["text"], int(a["start"]), int(a["end"])) for a in raw.get("answers", []))
            item = ExternalItem(str(raw["id"]), raw["source"], raw["question"], bool(raw["impossible"]), answers)
        except (ValueError, KeyError, TypeError) as exc:
            raise ExternalSetError(f"{questions}:{n} is not a question line ({exc}); fix or remove that line") from exc
        if not item.impossible and not item.answers:
            raise ExternalSetError(f"{questions}:{n}: an answerable question needs at least one gold answer")
        items.append(item)
    return items


def holds_answer(text: str, item: ExternalItem) -> bool:
    """Whether `text` contains one of the item's gold answers, compared folded."""
    folded = fold(text).lower()
    return any(fold(a.text).lower() in folded for a in item.answers)


def covers_answer(spans: Iterable[tuple[str, int, int]], item: ExternalItem) -> bool:
    """Whether one of `(source, start, end)` covers a gold answer's span whole."""
    return any(
        source == item.source and start <= a.start and a.end <= end
        for source, start, end in spans
        for a in item.answers
    )


def answer_row(engine, item: ExternalItem) -> dict:
    """The system's answer and both baselines' sentences for one question."""
    answer = engine.ask(item.question)
    cited = [(c.source, c.start, c.end) for c in answer.citations]
    row = {
        "id": item.id,
        "question": item.question,
        "impossible": item.impossible,
        "abstained": answer.abstained,
        "answer": answer.text,
        "answer_hit": (not answer.abstained) and holds_answer(answer.text, item),
        "evidence_hit": (not answer.abstained) and covers_answer(cited, item),
        "gold": [a.text for a in item.answers[:1]],
    }
    for mode in ("bm25", "dense"):
        hits = engine.retriever.search(item.question, 1, "sentences", mode, collapse_duplicates=False)
        unit = hits[0].unit if hits else None
        text = engine.document(unit.doc_id).text[unit.start : unit.end] if unit else ""
        spans = [(engine.document(unit.doc_id).source, unit.start, unit.end)] if unit else []
        row[f"{mode}_answer_hit"] = bool(text) and holds_answer(text, item)
        row[f"{mode}_evidence_hit"] = covers_answer(spans, item)
    return row


def summarise(rows: Sequence[dict]) -> dict[str, dict[str, float]]:
    """The four measures for the system and each baseline (baselines never refuse)."""
    answerable = [r for r in rows if not r["impossible"]]
    impossible = [r for r in rows if r["impossible"]]
    share = lambda xs: round(sum(xs) / len(xs), 4) if xs else float("nan")  # noqa: E731
    out = {
        "system": {
            "answer_hit": share([r["answer_hit"] for r in answerable]),
            "evidence_hit": share([r["evidence_hit"] for r in answerable]),
            "false_refusal": share([r["abstained"] for r in answerable]),
            "impossible_refused": share([r["abstained"] for r in impossible]),
        }
    }
    for mode in ("bm25", "dense"):
        out[f"{mode}_top_sentence"] = {
            "answer_hit": share([r[f"{mode}_answer_hit"] for r in answerable]),
            "evidence_hit": share([r[f"{mode}_evidence_hit"] for r in answerable]),
            "false_refusal": 0.0,
            "impossible_refused": 0.0,
        }
    out["counts"] = {"answerable": len(answerable), "impossible": len(impossible)}
    return out


def load_external_thresholds(name: str, path: Path = EXTERNAL_THRESHOLDS) -> list[Threshold]:
    """The thresholds for set `name` (`[name]` minimums, `[max.name]` maximums); none for another set."""
    return [t for t in load_thresholds(path) if t.scope == name] if path.is_file() else []


def check(name: str, summary: dict, thresholds: list[Threshold]) -> list[GateFailure]:
    system = summary["system"]
    return [GateFailure(name, t, system.get(t.metric)) for t in thresholds if t.missed_by(system.get(t.metric))]


def markdown(name: str, summary: dict, thresholds: list[Threshold], rows: Sequence[dict], seconds: float) -> str:
    counts = summary["counts"]
    lines = [
        f"# External question set: {name}",
        "",
        f"{counts['answerable']} answerable and {counts['impossible']} impossible questions, written by other "
        "people on a text the rules were not written on. Baselines answer every question with one sentence.",
        "",
        "| measure | system | top BM25 sentence | top dense sentence | gate |",
        "| --- | --- | --- | --- | --- |",
    ]
    limits = {t.metric: ("≤ " if t.kind == "max" else "≥ ") + f"{t.limit:.2f}" for t in thresholds}
    for m in METRICS:
        cells = [summary[s][m] for s in ("system", "bm25_top_sentence", "dense_top_sentence")]
        lines.append(f"| {m} | " + " | ".join(f"{v:.3f}" for v in cells) + f" | {limits.get(m, '')} |")
    lines += ["", f"{len(rows)} questions in {seconds:.1f} s.", ""]
    misses = [r for r in rows if not r["impossible"] and not r["answer_hit"]][:15]
    if misses:
        lines += ["## First answerable questions missed", "", "| question | gold | answer |", "| --- | --- | --- |"]
        for r in misses:
            answer = "(refused)" if r["abstained"] else r["answer"][:160].replace("|", "/").replace("\n", " ")
            lines.append(f"| {r['question']} | {r['gold'][0] if r['gold'] else ''} | {answer} |")
    return "\n".join(lines) + "\n"


def run_external(args: argparse.Namespace) -> int:
    """Index the set's corpus, answer every question, write the report; 1 on a missed gate."""
    from rag.engine import Engine
    from rag.settings import Settings

    folder = Path(args.external).expanduser()
    items = load_set(folder)
    name = folder.resolve().name
    settings = Settings.from_args(args, backend=None, corpus_dir=folder / "corpus")
    t0 = time.perf_counter()
    engine = Engine.open(settings)
    rows = [answer_row(engine, item) for item in items]
    seconds = time.perf_counter() - t0
    summary = summarise(rows)
    thresholds = load_external_thresholds(name)
    failures = check(name, summary, thresholds)
    out = Path(args.out) if args.out else Path(__file__).resolve().parent / "reports" / "latest"
    out.mkdir(parents=True, exist_ok=True)
    (out / "external.md").write_text(markdown(name, summary, thresholds, rows, seconds), encoding="utf-8")
    (out / "external.json").write_text(json.dumps({"set": name, "summary": summary}, indent=1), encoding="utf-8")
    with open(out / "external_rows.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    for who, values in summary.items():
        if who != "counts":
            print(f"{name} {who}: " + "  ".join(f"{m}={values[m]:.3f}" for m in METRICS))
    print(f"report: {out / 'external.md'}")
    if failures:
        print(f"{'gate FAILED' if args.gate else 'below thresholds (not gating)'}: {len(failures)} metric(s)")
        for f in failures:
            print(f"  {f}")
        return 1 if args.gate else 0
    if thresholds:
        print(f"gate passed: {len(thresholds)} thresholds met")
    return 0
