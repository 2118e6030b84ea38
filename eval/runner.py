"""`rag eval`: answer every gold question through the public API, score the answers with one
`ragas.evaluate` run per backend, compare retrieval variants, write the report, and gate.

    rag eval                                  # non-LLM suite, default backend, report in eval/reports/<time>/
    rag eval --gate --out eval/reports/ci     # what CI runs: exit 1 below eval/thresholds.toml
    rag eval --backend extractive,litellm --model openai/gpt-4o-mini --judge openai/gpt-4o-mini

Only `rag.Engine` (ask, retrieve), its `Answer`/`Passage` values and `index` readers are used.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import index.offline  # noqa: F401  (RAGAS_DO_NOT_TRACK, HF offline: before ragas, torch, litellm)
from eval.answer_facts import AnswerFacts, CorpusFiles, Span, is_nan
from eval.gate import check, load_thresholds
from eval.gold import ABSTAIN, ANSWERABLE, ANSWERABLE_ALL, CATEGORIES, GoldItem, load_gold
from eval.recall import MODES, retrieval_recall
from eval.results import BackendRun, EvalResult
from index.errors import RagError
from rag.backends import available as available_backends
from rag.settings import Settings

REPORTS = Path(__file__).resolve().parent / "reports"
CATEGORY_ORDER = CATEGORIES
# Scopes over several categories (eval/gold.py): `answerable` keeps its meaning (figure, position,
# multi_source: what the thresholds were set on); `answerable_all` adds attribution;
# `unanswerable_offtopic` is every category where abstaining is right.
GROUP_SCOPES = {"answerable": ANSWERABLE, "answerable_all": ANSWERABLE_ALL, "unanswerable_offtopic": ABSTAIN}


@dataclass(frozen=True)
class Judge:
    """The judge model for ragas' LLM metrics (litellm model string, optional server URL)."""

    model: str
    api_base: str | None = None
    max_tokens: int = 1024  # per reply; ragas' claim lists need room
    timeout: float = 120.0  # seconds per request


# -- answering -----------------------------------------------------------------------------------


def _answer_row(engine, item: GoldItem, backend: str, k: int | None) -> dict:
    """Ask one question; a backend failure becomes an error row rather than ending the run."""
    t0 = time.perf_counter()
    asked = {
        "id": item.id,
        "category": item.category,
        "question": item.question,
        "backend": backend,
        "keys": list(item.keys),
    }
    try:
        answer = engine.ask(item.question, k=k, backend=backend)
    except RagError as exc:
        return {
            **asked,
            "answer": "",
            "abstained": True,
            "citations": [],
            "passages": [],
            "error": str(exc),
            "seconds": time.perf_counter() - t0,
        }
    as_json = answer.to_dict()
    return {
        **asked,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [c.to_dict() for c in answer.citations],
        "passages": [p.to_dict() for p in answer.passages],
        # who the answer says said what, when its JSON has it (wrong_speaker reads these)
        "statements": as_json.get("statements", []),
        "claims": as_json.get("claims", []),
        "error": "",
        "seconds": time.perf_counter() - t0,
    }


def _sample(row: dict, item: GoldItem, judged: bool):
    from ragas.dataset_schema import SingleTurnSample

    reference = item.reference
    if item.expects_abstention and judged:
        from eval.judge import JUDGE_UNANSWERABLE_REFERENCE

        reference = JUDGE_UNANSWERABLE_REFERENCE
    return SingleTurnSample(
        user_input=item.question,
        response=row["answer"],
        retrieved_contexts=[p["text"] for p in row["passages"]],
        retrieved_context_ids=[f"{p['source']}:{p['start']}-{p['end']}" for p in row["passages"]],
        reference=reference,
        reference_contexts=[e.text for e in item.evidence],
        reference_context_ids=[f"{e.source}:{e.start}-{e.end}" for e in item.evidence],
    )


def answer_speakers(row: dict) -> tuple[str, ...]:
    """The `speaker` of every statement, claim and citation in an answer row, where present."""
    parts = [*row.get("statements", []), *row.get("claims", []), *row.get("citations", [])]
    return tuple(
        p["speaker"] for p in parts if isinstance(p, dict) and isinstance(p.get("speaker"), str) and p["speaker"]
    )


def _facts(row: dict, item: GoldItem) -> AnswerFacts:
    spans = lambda seq: tuple(Span(s["source"], s["start"], s["end"], s["text"]) for s in seq)  # noqa: E731
    return AnswerFacts(
        item.category,
        row["abstained"],
        spans(row["citations"]),
        spans(e.to_dict() for e in item.evidence),
        item.keys,
        asked_speaker=item.asked_speaker,
        true_speaker=item.true_speaker,
        speakers=answer_speakers(row),
    )


def score_rows(
    rows: list[dict],
    items: Sequence[GoldItem],
    corpus_dir: Path,
    judge: Judge | None = None,
    show_progress: bool = False,
) -> list[dict[str, float | None]]:
    """One `ragas.evaluate` over the answers: per-row scores, in row order (None: not scored)."""
    from ragas import EvaluationDataset, evaluate
    from ragas.dataset_schema import EvaluationResult
    from ragas.run_config import RunConfig

    from eval.metrics import non_llm_metrics

    by_question = {i.question: i for i in items}
    facts = {r["question"]: _facts(r, by_question[r["question"]]) for r in rows}
    metrics = non_llm_metrics(facts, CorpusFiles(corpus_dir))
    llm = None
    if judge is not None:
        from eval.judge import judge_llm, judge_metrics

        llm = judge_llm(judge.model, judge.api_base, timeout=judge.timeout, max_tokens=judge.max_tokens)
        metrics += judge_metrics()
    dataset = EvaluationDataset([_sample(r, by_question[r["question"]], judge is not None) for r in rows])
    with warnings.catch_warnings():
        # evaluate() is marked deprecated in favour of @experiment; it is still ragas' batch API.
        warnings.simplefilter("ignore", DeprecationWarning)
        result = evaluate(
            dataset,
            metrics=metrics,
            llm=llm,
            show_progress=show_progress,
            run_config=RunConfig(max_workers=2 if judge else 16, timeout=int(judge.timeout * 4) if judge else 60),
            raise_exceptions=judge is None,
        )
    assert isinstance(result, EvaluationResult)  # an Executor only with return_executor=True
    return [{k: (None if is_nan(v) else round(float(v), 6)) for k, v in s.items()} for s in result.scores]


def summarise(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """Mean of every metric per category, per `GROUP_SCOPES` group, and over all, ignoring NaN."""
    scopes: dict[str, list[dict]] = {c: [r for r in rows if r["category"] == c] for c in CATEGORY_ORDER}
    for scope, categories in GROUP_SCOPES.items():
        scopes[scope] = [r for r in rows if r["category"] in categories]
    scopes["all"] = rows
    metrics = list(dict.fromkeys(m for r in rows for m in r["scores"]))
    out: dict[str, dict[str, dict]] = {}
    for scope, chosen in scopes.items():
        if not chosen:
            continue
        out[scope] = {}
        for m in metrics:
            values = [r["scores"].get(m) for r in chosen]
            values = [v for v in values if v is not None and not math.isnan(v)]
            out[scope][m] = {"mean": sum(values) / len(values) if values else None, "n": len(values)}
    return out


def _retrieval_quality(engine, items: Sequence[GoldItem]) -> tuple[list[dict] | None, str]:
    """The retrieval engineer's wider comparison, when that module is present and works."""
    try:
        from eval.retrieval_quality import compare
    except ImportError as exc:
        return None, f"eval.retrieval_quality is not available ({exc})"
    try:
        return compare(engine, [i.to_dict() for i in items]), ""
    except Exception as exc:  # a broken optional table must not hide the suite's own results
        return None, f"eval.retrieval_quality.compare raised {type(exc).__name__}: {exc}"


def _llama_index_compare(engine, items: Sequence[GoldItem]) -> tuple[list[dict] | None, str]:
    """LlamaIndex's own CitationQueryEngine beside ours (eval.llama_index_compare), when it works."""
    try:
        from eval.llama_index_compare import compare

        return compare(engine, items), ""
    except Exception as exc:  # an optional comparison must not hide the suite's own results
        return None, f"eval.llama_index_compare raised {type(exc).__name__}: {exc}"


def run_eval(
    engine,
    items: Sequence[GoldItem],
    backends: Sequence[str],
    k: int | None = None,
    judge: Judge | None = None,
    retrieval_modes: Sequence[str] = MODES,
    with_retrieval_quality: bool = True,
    progress: Callable[[str], None] | None = None,
) -> EvalResult:
    """Answer, score and summarise every item for every backend; compare retrieval variants."""
    say = progress or (lambda _msg: None)
    corpus_dir = Path(engine.settings.corpus_dir)
    runs = []
    for backend in backends:
        say(f"answering {len(items)} questions with the {backend} backend")
        rows = [_answer_row(engine, item, backend, k) for item in items]
        say(f"scoring {backend} answers with ragas" + (f" and judge {judge.model}" if judge else ""))
        for row, scores in zip(rows, score_rows(rows, items, corpus_dir, judge)):
            row["scores"] = scores
        runs.append(BackendRun(backend, rows, summarise(rows)))
    say(f"comparing retrieval variants ({', '.join(retrieval_modes)})")
    retrieval = retrieval_recall(engine, items, retrieval_modes)
    quality, note = (None, "skipped")
    if with_retrieval_quality:
        say("running eval.retrieval_quality.compare")
        quality, note = _retrieval_quality(engine, items)
    llama, llama_note = (None, "skipped")
    if with_retrieval_quality:  # the other wide comparison rides on the same switch
        say("running eval.llama_index_compare")
        llama, llama_note = _llama_index_compare(engine, items)
    config = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "corpus": str(corpus_dir),
        "backends": list(backends),
        "k": engine.settings.top_k if k is None else k,
        "retrieval": engine.settings.retrieval,
        "min_support": engine.settings.min_support,
        "min_support_figure": engine.settings.min_support_figure,
        "embed_model": engine.settings.embed_model,
        "model": engine.settings.model,
        "judge": judge.model if judge else None,
        "items": len(items),
    }
    return EvalResult(config, runs, retrieval, quality, note, llama_index=llama, llama_index_note=llama_note)


# -- the command --------------------------------------------------------------------------------


def _print_summary(result: EvalResult, out: Path) -> None:
    for run in result.runs:
        parts = []
        for scope, metric in (
            ("answerable", "context_recall"),
            ("answerable", "evidence_hit"),
            ("figure", "string_present"),
            ("all", "citation_exact"),
            ("unanswerable", "abstention_correct"),
        ):
            cell = run.summary.get(scope, {}).get(metric, {})
            value = cell.get("mean")
            parts.append(f"{scope}.{metric}={'n/a' if value is None else f'{value:.3f}'}")
        errors = sum(1 for r in run.rows if r["error"])
        print(f"{run.backend}: " + "  ".join(parts) + (f"  ({errors} errors)" if errors else ""))
    for r in result.retrieval:
        if r["scope"] == "answerable":
            print(f"retrieval {r['mode']}: " + "  ".join(f"{k}={r[k]:.3f}" for k in r if k.startswith("recall@")))
    for r in result.llama_index or []:
        print(
            f"{r['system']}: citation_exact={r['citation_exact']}  evidence_hit={r['evidence_hit']}  "
            f"evidence_hit_located={r['evidence_hit_located']}  cited_chars={r['cited_chars']}"
        )
    print(f"report: {out}")


def main(args: argparse.Namespace) -> int:
    """Run the suite; exit 1 when `--gate` and a threshold is missed."""
    from eval.report import write_latest, write_report
    from rag.engine import Engine
    from rag.progress import stderr_progress

    if args.external is not None:
        from eval.external import run_external

        return run_external(args)
    if args.ablate:
        from eval.ablation import run_ablation

        return run_ablation(args)
    settings = Settings.from_args(args, backend=None)  # --backend here is a comma-separated list
    backends = [b.strip() for b in (args.backend or settings.backend).split(",") if b.strip()]
    unknown = [b for b in backends if b not in available_backends()]
    if unknown:  # fail now, not with one error row per question
        raise RagError(
            f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(available_backends())}, "
            "comma-separated, e.g. --backend extractive,local"
        )
    items = load_gold()
    thresholds = load_thresholds()  # fail on a broken thresholds file before the slow part
    judge = Judge(args.judge, args.judge_api_base) if args.judge else None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else REPORTS / stamp
    tty = sys.stderr.isatty()
    say = (lambda msg: print(f"rag eval: {msg}", file=sys.stderr, flush=True)) if tty else None

    t0 = time.perf_counter()
    progress, close = stderr_progress()
    try:
        engine = Engine.open(settings, progress=progress)
    finally:
        close()
    result = run_eval(engine, items, backends, k=args.k, judge=judge, progress=say)
    result.failures = check(result.summaries, result.retrieval, thresholds)
    result.config["seconds"] = round(time.perf_counter() - t0, 1)
    result.config["gate"] = bool(args.gate)
    write_report(result, out, thresholds)
    if not args.out:
        write_latest(result, out, thresholds, REPORTS / "latest")
    _print_summary(result, out)
    if result.failures:
        label = "gate FAILED" if args.gate else "below thresholds (not gating)"
        print(f"{label}: {len(result.failures)} metric(s)")
        for failure in result.failures:
            print(f"  {failure}")
        return 1 if args.gate else 0
    print(f"gate passed: {len(thresholds)} thresholds met")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rag eval` to the `rag` command (the `rag.commands` entry point in pyproject.toml)."""
    from rag.cli import add_backend_arguments, add_index_arguments

    p = subparsers.add_parser("eval", help="run the Ragas evaluation suite and write a report")
    add_index_arguments(p)
    add_backend_arguments(p)
    p.add_argument("--judge", help="litellm model string of a judge model for LLM metrics")
    p.add_argument("--judge-api-base", help="base URL of the judge's OpenAI-compatible server")
    p.add_argument("--out", type=Path, help="report folder (default eval/reports/<timestamp>)")
    p.add_argument("--gate", action="store_true", help="exit 1 when a score is below eval/thresholds.toml")
    p.add_argument(
        "--external",
        type=Path,
        metavar="DIR",
        help="score a question set in the shared format (DIR/corpus/, DIR/questions.jsonl) instead of gold; "
        "report external.md, gate on eval/external_thresholds.toml",
    )
    p.add_argument(
        "--ablate",
        action="store_true",
        help="switch each question-form rule (rag/forms.py) off in turn; write eval/reports/latest/ablation.md",
    )
    p.add_argument(
        "--ablate-external",
        metavar="DIR",
        help="an external question set to add to --ablate (default ../shared/external/squad2-normans if present)",
    )
    p.set_defaults(func=main)
