"""`rag index | ask | watch | eval | ui`: verbs that follow the data flow.

`index` and `ask` live here, `watch` in rag/watch.py. Other packages add verbs through the `rag.commands` entry-point
group (see pyproject.toml): each entry names a `register(subparsers)` that adds its parser,
arguments and handler, so `rag/` never imports its own clients (`eval`, `ui`). Only the verb
being run is loaded: `rag ask` does not pay for importing Gradio.

Library errors become one line on stderr and a non-zero exit (2 for bad input, 1 otherwise);
`--debug` (before or after the verb) shows the traceback. Human output by default, `--json`
for machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

import index.offline  # noqa: F401  (offline switches before any hub library loads)
from index.errors import QuestionError, RagError
from rag.display import printable
from rag.progress import stderr_progress
from rag.settings import Settings

EXIT_ERROR, EXIT_USAGE = 1, 2
COMMAND_GROUP = "rag.commands"
BUILTIN_COMMANDS = ("index", "ask", "watch")
# A batch line longer than this many bytes per allowed character is refused without reading it
# whole (UTF-8 needs at most 4; the rest is room for surrounding spaces).
LINE_BYTES_PER_CHAR = 8


# -- arguments shared with registered commands ----------------------------------------------------


def add_index_arguments(p: argparse.ArgumentParser) -> None:
    """--corpus, --index-dir and --store, as every verb that opens an index takes them."""
    p.add_argument("--corpus", type=Path, help="corpus folder (RAG_CORPUS)")
    p.add_argument("--index-dir", type=Path, help="index folder (RAG_INDEX_DIR)")
    p.add_argument(
        "--store",
        help="faiss (default), milvus:///path/file.db or http://host:19530 (RAG_STORE; Milvus needs the scale extra)",
    )


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    """--backend, --model, --api-base and -k, as every verb that answers questions takes them."""
    p.add_argument("--backend", help="extractive (default), litellm or local (RAG_BACKEND)")
    p.add_argument("--model", help="litellm model string, e.g. openai/gpt-4o-mini (RAG_MODEL)")
    p.add_argument("--api-base", help="base URL of an OpenAI-compatible server (RAG_API_BASE)")
    p.add_argument("-k", type=int, help="passages to retrieve (RAG_TOP_K, default 5)")


def _add_global_options(p: argparse.ArgumentParser, *, in_command: bool) -> None:
    # After the verb the default is SUPPRESS, so `rag --debug ask` is not reset by the verb's parser.
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS if in_command else False, help="show tracebacks"
    )


class CommandParser(argparse.ArgumentParser):
    """The parser of one verb: it also takes the global flags, so `rag ask --debug ...` works."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _add_global_options(self, in_command=True)


# -- rag index ----------------------------------------------------------------------------------


def _open_engine(settings: Settings):
    from rag.engine import Engine

    progress, close = stderr_progress()
    try:
        return Engine.open(settings, progress=progress)
    finally:
        close()


def cmd_index(args: argparse.Namespace) -> int:
    from index.documents import load_corpus
    from index.milvus_store import parse_store
    from rag.opening import converted_dir

    settings = Settings.from_args(args)
    on_ray = args.workers is not None or bool(args.ray_address)
    if args.workers is not None:
        from index.ray_embed import check_workers

        check_workers(args.workers)  # before any work: --workers 0 is refused like -1
    corpus = load_corpus(settings.corpus_dir, settings.max_file_bytes, stored=converted_dir(settings))
    report_problems(corpus.problems)
    target = parse_store(settings.store)
    if target is not None:  # a refused path or an unreachable server fails before any model loads
        from index.milvus_store import connect

        connect(target, settings.corpus_dir)
    if not on_ray:
        return _index(args, settings, corpus)
    from index.ray_embed import local_ray

    with local_ray():  # shut down on the way out, also on Ctrl-C and SIGTERM
        return _index(args, settings, corpus)


def _index(args: argparse.Namespace, settings: Settings, corpus) -> int:
    from rag.opening import build_store, embedder_cache, embedder_for, store_location

    progress, close = stderr_progress()
    try:
        embedder = embedder_for(settings)
        embed = None
        if args.workers is not None or args.ray_address:
            from index.ray_embed import DEFAULT_WORKERS, RayEmbed, model_factory

            workers = DEFAULT_WORKERS if args.workers is None else args.workers
            cache = embedder_cache(settings)
            factory = model_factory(settings.embed_model, None if cache is None else str(cache), settings.embed_backend)
            ray_embed = RayEmbed(factory, embedder.dimension, workers, args.ray_address)
            ray_embed.log = lambda m: print(f"rag: {m}", file=sys.stderr, flush=True)

            def embed(texts, progress):
                # Called inside the build, after it claimed the index folder: an ONNX variant exports
                # there once, here, before the actors load it.
                embedder.embed_batch(["warm-up"])
                return ray_embed(texts, progress)

        _, report = build_store(
            settings,
            corpus,
            embedder,
            progress=progress,
            log=lambda m: print(f"rag: {m}", file=sys.stderr),
            embed=embed,
        )
    finally:
        close()
    print(f"index at {store_location(settings)}: {report.summary()}")
    return EXIT_ERROR if any(p.skipped for p in corpus.problems) else 0  # a date note alone is no failure


def report_problems(problems) -> None:
    """Each file or article the corpus could not use, one line each on stderr."""
    for problem in problems:
        print(f"rag: {'skipped' if problem.skipped else 'note'} {problem}", file=sys.stderr)


# -- rag ask ------------------------------------------------------------------------------------


def read_batch(stream: BinaryIO, max_chars: int) -> Iterator[tuple[int, str | None, str]]:
    """(line number, question or None, error) for every line of a stdin batch, in order.

    Read as bytes so that one line that is not UTF-8, empty or too long becomes that line's error
    instead of ending the batch. Every line counts, blank ones too, so answer n is line n.
    """
    from rag.stages.read import check_question

    limit = max_chars * LINE_BYTES_PER_CHAR + 2
    number = 0
    while raw := stream.readline(limit):
        number += 1
        if not raw.endswith(b"\n") and len(raw) == limit:  # over the limit: skip the rest of the line
            while (rest := stream.readline(limit)) and not rest.endswith(b"\n"):
                pass
            yield (
                number,
                None,
                (f"the question is longer than {max_chars} characters; shorten it or raise RAG_MAX_QUESTION_CHARS"),
            )
            continue
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            yield (
                number,
                None,
                (
                    f"the line is not valid UTF-8 (byte {raw[exc.start]:#04x} at byte {exc.start + 1}); "
                    "send questions as UTF-8 text"
                ),
            )
            continue
        try:
            yield number, check_question(text, max_chars), ""
        except QuestionError as exc:
            yield number, None, str(exc)


def _print_human(answer) -> None:
    """The answer, then its citations in order: marker [n] in the text is the n-th line below; then
    any "Sources differ" lines and the other sources' statements, numbered after the citations."""
    if answer.short is not None:
        print(printable(f"Short answer: {answer.short.text} [{answer.short.label}]"))
    print(printable(answer.text))  # article text may hold terminal escapes (rag.display)
    if answer.closest:
        print("  Closest passages, not an answer:")
    for c in answer.closest:
        print(printable(f'  [{c.label}] "{c.text}"'))
    for c in answer.citations:
        dated = f" ({c.published})" if c.published else ""
        print(printable(f'  [{c.label}]{dated} "{c.text}"'))
    if answer.verified is False:
        reason = answer.fallback_reason or "a figure or sentence lacks cited support (see --json, claims)"
        print(printable(f"  (not verified: {reason})"))
    for conflict in answer.conflicts:
        print(printable(f"  {conflict.text}"))
    if answer.statements:  # numbered after the citations, as conflicts refer to them
        print("  Other sources:")
    for n, s in enumerate(answer.statements, start=len(answer.citations) + 1):
        who = f", {s.speaker}" if s.speaker else ""
        dated = f" ({s.citation.published})" if s.citation.published else ""
        print(printable(f'    [{n}] {s.relation}{who}: [{s.citation.label}]{dated} "{s.citation.text}"'))


def _print_line_error(args: argparse.Namespace, number: int, error: str) -> None:
    if args.json:
        print(json.dumps({"line": number, "error": error}, ensure_ascii=False), flush=True)
    else:
        print(f"rag: line {number}: {error}", file=sys.stderr, flush=True)


def _ask_batch(args: argparse.Namespace, settings: Settings) -> int:
    """Answer stdin line by line as it arrives; a bad line gets an error in its place and the rest go on.

    Exit 0 when every line was answered, 2 when some line was not a usable question, 1 when
    answering some line failed for another reason (a backend error): the worst one wins.
    """
    engine = None  # opened at the first usable line: a batch of bad lines loads no model
    code = 0
    for number, question, error in read_batch(sys.stdin.buffer, settings.max_question_chars):
        if question is None:
            _print_line_error(args, number, error)
            code = code or EXIT_USAGE
            continue
        if engine is None:
            engine = _open_engine(settings)
        try:
            answer = engine.ask(question, k=args.k, backend=args.backend)
        except QuestionError as exc:
            _print_line_error(args, number, str(exc))
            code = code or EXIT_USAGE
            continue
        except RagError as exc:
            if args.debug:
                raise
            _print_line_error(args, number, str(exc))
            code = EXIT_ERROR
            continue
        _print_answer(args, answer)
    return code


def _print_answer(args: argparse.Namespace, answer) -> None:
    if args.json:
        data = answer.to_dict()
        if args.debug:  # how the engine decided, and each stage's time
            data["trace"] = {**answer.trace, "timings": data["timings"]}
        print(json.dumps(data, ensure_ascii=False), flush=True)
    else:
        _print_human(answer)


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.backends import get_backend
    from rag.stages.read import check_question

    settings = Settings.from_args(args)
    if args.question != "-":
        check_question(args.question, settings.max_question_chars)  # fail before loading any model
    get_backend(settings.backend, settings)  # a missing --model or package fails before the index loads
    if args.question == "-":
        return _ask_batch(args, settings)
    engine = _open_engine(settings)
    _print_answer(args, engine.ask(args.question, k=args.k, backend=args.backend))
    return 0


# -- the parser and its registered verbs ---------------------------------------------------------


def installed_commands() -> dict[str, EntryPoint]:
    """The verbs other installed packages register under the `rag.commands` entry-point group."""
    return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP) if ep.name not in BUILTIN_COMMANDS}


def _register(sub: argparse._SubParsersAction, ep: EntryPoint) -> None:
    try:
        register = ep.load()
    except ImportError as exc:  # a broken client must not take `rag ask` down with it
        message = f"the {ep.name!r} command cannot load ({ep.value}: {exc}); reinstall with pip install -e ."

        def unavailable(_args: argparse.Namespace) -> int:
            raise RagError(message)

        sub.add_parser(ep.name, help=f"(unavailable: {exc})").set_defaults(func=unavailable)
        return
    register(sub)


def build_parser(commands: Iterable[EntryPoint] | None = None) -> argparse.ArgumentParser:
    """The `rag` parser with the built-in verbs and `commands` (default: every installed one)."""
    parser = argparse.ArgumentParser(prog="rag", description=__doc__.splitlines()[0])
    _add_global_options(parser, in_command=False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)

    p = sub.add_parser("index", help="build or refresh the index (incremental)")
    add_index_arguments(p)
    p.add_argument("--workers", type=int, help="embed with this many Ray actors (local Ray; needs the scale extra)")
    p.add_argument("--ray-address", help="embed on the Ray cluster at this address, e.g. ray://head:10001 or auto")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question with exact citations")
    p.add_argument("question", help="the question, or - to read one per line from stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per answer")
    add_index_arguments(p)
    add_backend_arguments(p)
    p.set_defaults(func=cmd_ask)

    from rag import watch

    watch.register(sub)

    for ep in installed_commands().values() if commands is None else commands:
        _register(sub, ep)
    return parser


def _verb(argv: list[str]) -> str | None:
    """The verb in `argv`: its first word that is not a flag (the global flags take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _commands_for(argv: list[str], installed: dict[str, EntryPoint]) -> list[EntryPoint]:
    """Load only the verb being run; all of them for help, a missing or an unknown verb."""
    verb = _verb(argv)
    if verb in BUILTIN_COMMANDS:
        return []
    if verb in installed:
        return [installed[verb]]
    return list(installed.values())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    installed = installed_commands()
    verb = _verb(argv)
    if verb is not None and verb not in BUILTIN_COMMANDS and verb not in installed:
        known = ", ".join([*BUILTIN_COMMANDS, *sorted(installed)])
        print(
            f"rag: unknown command {verb!r}; choose from {known} (commands of other packages register under "
            f"the {COMMAND_GROUP!r} entry-point group: reinstall with pip install -e . if eval or ui is missing)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    args = build_parser(_commands_for(argv, installed)).parse_args(argv)
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
