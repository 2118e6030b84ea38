"""The LLM path measured: local-model latency, how answers fare under verification, and proof
that the guard rejects invented figures. Writes a report; asserts nothing.

    python -m eval.bench.llm [--limit 30] [--backends local,litellm] [--out eval/reports/latest]

1. Asks answerable gold questions through each backend with `Engine.ask_stream` until `--limit`
   of them were answered (questions the engine abstains on never reach a model; they are
   listed, not counted), recording time to first token, generation, repair and total time, and
   the outcome: verified first time, verified after one repair, or fell back to the extractive
   answer. `local` is the packaged SmolLM2 GGUF on llama.cpp's server with the citation
   grammar; `litellm` is the same server through the plain `litellm` backend (no grammar),
   which is what any OpenAI-compatible endpoint gets.
2. Plants wrong figures and checks that `rag.verify.check` rejects every one: each figure of
   each answer from step 1, and each figure of every sentence of the corpus, is altered
   (value x7+3, another currency, another fraction, weekday or month) and the altered text is
   checked against the span it cites.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import index.offline  # noqa: F401
from index.chunking import split_sentences
from index.terms import MONTHS, WEEKDAYS, fold
from rag import Answer, Engine, Settings, spans
from rag.backends.local import LocalServer, packaged_model_path
from rag.figures import Figure, figures
from rag.markers import strip_markers
from rag.verify import FAILED, FALLBACK, REPAIRED, VERIFIED, check

HERE = Path(__file__).resolve().parent.parent  # eval/
OUT = HERE / "reports" / "latest"

_OTHER_WORD = {
    "half": "a third",
    "a fifth": "a quarter",
    "a quarter": "a fifth",
    "a third": "half",
    "two": "seven",
    "three": "eight",
    "four": "nine",
    "five": "eleven",
    "six": "nine",
    "ten": "twelve",
    "a dozen": "twenty",
    "twenty": "forty",
    "thirty": "sixty",
}
_OTHER_CURRENCY = {"$": "€", "€": "£", "£": "$"}


# -- questions ------------------------------------------------------------------------------


def load_questions() -> list[dict]:
    """Answerable questions from the gold set (else the dev set), categories interleaved."""
    for name in ("gold.jsonl", "dev_questions.jsonl"):
        path = HERE / name
        if path.exists():
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            break
    else:
        raise SystemExit("no eval/gold.jsonl or eval/dev_questions.jsonl to take questions from")
    by_category: dict[str, list[dict]] = {}
    for row in rows:
        if row["category"] != "unanswerable":
            by_category.setdefault(row["category"], []).append(row)
    out: list[dict] = []
    while any(by_category.values()):
        for items in by_category.values():
            if items:
                out.append(items.pop(0))
    return out


# -- part 1: answers from the local model ---------------------------------------------------


def _has_key(answer: Answer, keys: list[str]) -> bool:
    text = fold(strip_markers(answer.text)).lower()
    return any(fold(k).lower() in text for k in keys)


def _problem_kinds(reason: str) -> list[str]:
    kinds = []
    for kind, pattern in (
        ("invented or altered figure", r"figure \""),
        ("sentence without citation", r"cites no evidence"),
        ("sentence unrelated to its citation", r"too few words"),
        ("marker naming no evidence", r"names no evidence"),
        ("unfinished sentence", r"is unfinished"),
        ("answer only repeats the question", r"only repeats the question"),
    ):
        if re.search(pattern, reason):
            kinds.append(kind)
    return kinds


def ask_all(engine: Engine, items: list[dict], limit: int) -> list[dict]:
    """Ask until `limit` questions were answered (abstentions are recorded but not counted)."""
    rows: list[dict] = []
    for item in items:
        if sum(r["outcome"] != "abstained" for r in rows) >= limit:
            break
        started = time.perf_counter()
        pieces, answer = [], None
        for piece in engine.ask_stream(item["question"]):
            if isinstance(piece, Answer):
                answer = piece
            else:
                pieces.append(piece)
        assert answer is not None
        wall = time.perf_counter() - started
        row = {
            "id": item["id"],
            "category": item["category"],
            "question": item["question"],
            "outcome": "abstained" if answer.abstained else answer.verification,
            "verified": answer.verified,
            "key_in_answer": _has_key(answer, item.get("keys", [])),
            "draft": "".join(pieces),
            "answer": answer.text,
            "fallback_reason": answer.fallback_reason,
            "problem_kinds": _problem_kinds(answer.fallback_reason),
            "timings": {k: round(v, 3) for k, v in answer.timings.items()},
            "wall_s": round(wall, 3),
            "_answer": answer,
        }
        rows.append(row)
        print(
            f"[{engine.settings.backend} {len(rows)}] {row['outcome']:<9} {wall:6.1f}s  {item['question'][:70]}",
            file=sys.stderr,
        )
    return rows


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(values),
        "mean_s": round(statistics.fmean(values), 2),
        "median_s": round(statistics.median(values), 2),
        "p90_s": round(ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))], 2),
        "max_s": round(ordered[-1], 2),
    }


def summarise(rows: list[dict]) -> dict:
    answered = [r for r in rows if r["outcome"] != "abstained"]
    outcomes = {k: sum(r["outcome"] == k for r in rows) for k in (VERIFIED, REPAIRED, FALLBACK, FAILED, "abstained")}
    kinds: dict[str, int] = {}
    for r in rows:
        for k in r["problem_kinds"]:
            kinds[k] = kinds.get(k, 0) + 1
    return {
        "questions_answered": len(answered),
        "questions_abstained": outcomes.pop("abstained"),
        "outcomes": outcomes,
        "verified_share": round((outcomes["verified"] + outcomes["repaired"]) / max(len(answered), 1), 3),
        "fallback_problem_kinds": kinds,
        "key_in_answer": {
            "verified_or_repaired": sum(r["key_in_answer"] for r in rows if r["outcome"] in ("verified", "repaired")),
            "fallback": sum(r["key_in_answer"] for r in rows if r["outcome"] == "fallback"),
        },
        "latency": {
            "first_token": _stats([r["timings"]["first_token_s"] for r in answered if "first_token_s" in r["timings"]]),
            "generate": _stats([r["timings"]["generate_s"] for r in answered if "generate_s" in r["timings"]]),
            "repair": _stats([r["timings"]["repair_s"] for r in answered if "repair_s" in r["timings"]]),
            "answer_total": _stats([r["timings"]["total_s"] for r in answered]),
        },
    }


# -- part 2: planted figures ----------------------------------------------------------------


def altered(f: Figure) -> list[str]:
    """Ways to write `f` with a different value."""
    text, out = f.text, []
    digits = re.search(r"\d+(?:[.,]\d+)*", text)
    if digits:
        raw = digits.group()
        new = float(raw.replace(",", "")) * 7 + 3
        shown = f"{new:,.2f}".rstrip("0").rstrip(".") if "." in raw else f"{int(new):,}"
        out.append(text[: digits.start()] + shown + text[digits.end() :])
        if text[0] in _OTHER_CURRENCY:
            out.append(_OTHER_CURRENCY[text[0]] + text[1:])
    if f.unit == "month":
        out.append(MONTHS[(int(f.value) + 4) % 12])
    elif f.unit == "weekday":
        out.append(WEEKDAYS[(int(f.value) + 3) % 7])
    elif text.lower() in _OTHER_WORD:
        out.append(_OTHER_WORD[text.lower()])
    return out


def _stated_anyway(wrong: str, cited: str) -> bool:
    """The altered figure happens to be written in the cited text too (then it is not invented)."""
    squash = lambda s: re.sub(r"[,\s]", "", s).lower()  # noqa: E731
    return squash(wrong) in squash(cited)


def plant(text: str, cited: dict, documents: dict) -> dict:
    """Alter each figure of `text` in turn and check each altered text; count the rejections."""
    planted = rejected = 0
    escaped = []
    cited_text = " ".join(c.text for c in cited.values())
    body = text
    for f in figures(body):
        for wrong in altered(f):
            if _stated_anyway(wrong, cited_text):
                continue
            planted += 1
            candidate = body[: f.start] + wrong + body[f.end :]
            if check(candidate, cited, documents).ok:
                escaped.append(candidate)
            else:
                rejected += 1
    return {"planted": planted, "rejected": rejected, "escaped": escaped}


def plant_in_answers(engine: Engine, rows: list[dict]) -> dict:
    total: dict[str, Any] = {"planted": 0, "rejected": 0, "escaped": []}
    for row in rows:
        answer: Answer = row["_answer"]
        if answer.abstained or not answer.citations:
            continue
        result = plant(answer.text, dict(enumerate(answer.citations, 1)), engine.corpus.by_id)
        for k in ("planted", "rejected"):
            total[k] += result[k]
        total["escaped"] += result["escaped"]
    return total


def plant_in_corpus(engine: Engine) -> dict:
    total: dict[str, Any] = {"planted": 0, "rejected": 0, "escaped": [], "sentences": 0}
    for doc in engine.documents:
        for s in split_sentences(doc):
            citation = spans.cite(doc, s.start, s.end)
            if not figures(citation.text):
                continue
            total["sentences"] += 1
            result = plant(citation.text + " [1].", {1: citation}, engine.corpus.by_id)
            for k in ("planted", "rejected"):
                total[k] += result[k]
            total["escaped"] += result["escaped"]
    return total


# -- the report -----------------------------------------------------------------------------


def _backend_md(name: str, run: dict) -> list[str]:
    s = run["summary"]
    return [
        f"### `{name}` backend: {s['questions_answered']} answered questions "
        f"({s['questions_abstained']} more abstained before any model call)",
        "",
        "| outcome | answers |",
        "| --- | ---: |",
        *(f"| {k} | {v} |" for k, v in s["outcomes"].items()),
        "",
        f"Verified (first time or after repair): {100 * s['verified_share']:.0f}%. "
        f"Problems behind the fallbacks: {', '.join(f'{k} ({v})' for k, v in s['fallback_problem_kinds'].items()) or 'none'}. "
        f"Answers containing a gold key: {s['key_in_answer']['verified_or_repaired']} of the verified, "
        f"{s['key_in_answer']['fallback']} of the fallbacks (extractive text).",
        "",
        "Latency per answer, seconds:",
        "",
        "| stage | n | mean | median | p90 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {k} | {v['n']} | {v.get('mean_s', '-')} | {v.get('median_s', '-')} | {v.get('p90_s', '-')} | {v.get('max_s', '-')} |"
            for k, v in s["latency"].items()
        ),
        "",
    ]


def markdown(report: dict) -> str:
    setup, p = report["setup"], report["planted"]
    lines = [
        "# LLM backend benchmark",
        "",
        f"Model: `{setup['model_file']}` on llama.cpp's OpenAI-compatible server at 127.0.0.1 (start-up "
        f"{setup['server_start_s']} s), called through litellm; temperature 0, max_tokens {setup['max_tokens']}, "
        f"{setup['llm_evidence']} evidence sentences shown. {setup['cpus']} CPUs shared with other work "
        f"(load average {setup['load_before']} before, {setup['load_after']} after), so latencies are noisy.",
        "",
        "## Verification outcomes and latency",
        "",
    ]
    for name, run in report["runs"].items():
        lines += _backend_md(name, run)
    lines += [
        "## Planted wrong figures (all must be rejected)",
        "",
        "| set | planted | rejected | escaped |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {k} | {v['planted']} | {v['rejected']} | {len(v['escaped'])} |" for k, v in p.items()),
        "",
    ]
    for name, run in report["runs"].items():
        lines += [
            f"## Answers: `{name}`",
            "",
            "| id | outcome | total s | model draft | final answer |",
            "| --- | --- | ---: | --- | --- |",
        ]
        lines += [
            f"| {r['id']} | {r['outcome']} | {r['timings'].get('total_s', '-')} | {_cell(r['draft'])} | {_cell(r['answer'])} |"
            for r in run["answers"]
        ]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str, limit: int = 110) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30, help="answered questions per backend (default 30)")
    parser.add_argument("--backends", default="local", help="comma-separated: local, litellm (default local)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    engine = Engine.open(settings)
    items = load_questions()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    model_file = packaged_model_path()
    server = LocalServer(model_file).start()  # for the litellm run; `local` starts its own
    server_start = time.perf_counter() - started
    runs, all_rows = {}, []
    for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
        chosen = replace(
            settings,
            backend=name,
            model=server.model if name == "litellm" else settings.model,
            api_base=server.api_base if name == "litellm" else settings.api_base,
        )
        rows = ask_all(Engine(chosen, engine.corpus, engine.store, engine.embedder), items, args.limit)
        all_rows += rows
        runs[name] = {
            "summary": summarise(rows),
            "answers": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
        }
    report = {
        "setup": {
            "model_file": model_file.name,
            "model": server.model,
            "max_tokens": settings.max_tokens,
            "llm_evidence": settings.llm_evidence,
            "timeout_s": settings.timeout,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": round(load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
            "server_start_s": round(server_start, 2),
        },
        "runs": runs,
        "planted": {
            "answers from these runs": plant_in_answers(engine, all_rows),
            "every corpus sentence": plant_in_corpus(engine),
        },
    }
    server.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llm_bench.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "llm_bench.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
