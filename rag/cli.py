"""`rag index | ask | eval | ui`: verbs that follow the data flow.

Library errors become one line on stderr and a non-zero exit (2 for bad input, 1 otherwise);
`--debug` shows the traceback. Human output by default, `--json` for machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

import index.offline  # noqa: F401  (offline switches before any hub library loads)
from rag.display import printable
from rag.errors import QuestionError, RagError
from rag.settings import Settings

EXIT_ERROR, EXIT_USAGE = 1, 2


def _progress_bar(enabled: bool) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A tqdm bar on a terminal, nothing when piped."""
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="unit", desc="embedding", file=sys.stderr, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar.close


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        corpus_dir=getattr(args, "corpus", None),
        index_dir=getattr(args, "index_dir", None),
        backend=getattr(args, "backend", None),
        model=getattr(args, "model", None),
        api_base=getattr(args, "api_base", None),
        top_k=getattr(args, "k", None),
    )


def _open_engine(args: argparse.Namespace):
    from rag.engine import Engine

    progress, close = _progress_bar(sys.stderr.isatty())
    try:
        return Engine.open(_settings(args), progress=progress)
    finally:
        close()


def cmd_index(args: argparse.Namespace) -> int:
    from index.build import build_index
    from index.documents import load_corpus
    from index.embedding import SentenceTransformerEmbedder

    settings = _settings(args)
    corpus = load_corpus(settings.corpus_dir, settings.max_file_bytes)
    for problem in corpus.problems:
        print(f"rag: skipped {problem}", file=sys.stderr)
    progress, close = _progress_bar(sys.stderr.isatty())
    try:
        embedder = SentenceTransformerEmbedder(settings.embed_model)
        _, report = build_index(corpus, settings.resolved_index_dir, embedder, settings.chunking, progress=progress,
                                log=lambda m: print(f"rag: {m}", file=sys.stderr))
    finally:
        close()
    print(f"index at {settings.resolved_index_dir}: {report.summary()}")
    return EXIT_ERROR if corpus.problems else 0


def _print_human(answer) -> None:
    """The answer, then its citations in order: marker [n] in the text is the n-th line below."""
    print(printable(answer.text))  # article text may hold terminal escapes (rag.display)
    for c in answer.citations:
        print(printable(f'  [{c.label}] "{c.text}"'))
    if answer.verified is False:
        reason = answer.fallback_reason or "a figure or sentence lacks cited support (see --json, claims)"
        print(printable(f"  (not verified: {reason})"))


def cmd_ask(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from rag.engine import check_question

    if args.question == "-":
        questions = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    else:
        questions = [args.question]
    for q in questions:
        check_question(q, settings.max_question_chars)  # fail before loading any model
    from rag.backends import get_backend

    get_backend(settings.backend, settings)  # a missing --model or package fails before the index loads
    engine = _open_engine(args)
    for q in questions:
        answer = engine.ask(q, k=args.k, backend=args.backend)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            _print_human(answer)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.runner import main as eval_main

    return eval_main(args)


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import main as ui_main

    return ui_main(args)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="corpus folder (RAG_CORPUS)")
    p.add_argument("--index-dir", type=Path, help="index folder (RAG_INDEX_DIR)")


def _add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", help="extractive (default), litellm or local (RAG_BACKEND)")
    p.add_argument("--model", help="litellm model string, e.g. openai/gpt-4o-mini (RAG_MODEL)")
    p.add_argument("--api-base", help="base URL of an OpenAI-compatible server (RAG_API_BASE)")
    p.add_argument("-k", type=int, help="passages to retrieve (RAG_TOP_K, default 5)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or refresh the index (incremental)")
    _add_common(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question with exact citations")
    p.add_argument("question", help="the question, or - to read one per line from stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per answer")
    _add_common(p)
    _add_backend(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="run the Ragas evaluation suite and write a report")
    _add_common(p)
    _add_backend(p)
    p.add_argument("--judge", help="litellm model string of a judge model for LLM metrics")
    p.add_argument("--judge-api-base", help="base URL of the judge's OpenAI-compatible server")
    p.add_argument("--out", type=Path, help="report folder (default eval/reports/<timestamp>)")
    p.add_argument("--gate", action="store_true", help="exit 1 when a score is below eval/thresholds.toml")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("ui", help="launch the Gradio chat app")
    _add_common(p)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860)
    from ui.options import add_ui_arguments  # the ui verb's own flags: endpoints, allowed hosts
    add_ui_arguments(p)
    p.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except QuestionError as exc:
        print(f"rag: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RagError as exc:
        if args.debug:
            raise
        print(f"rag: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
