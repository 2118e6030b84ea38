"""`rag watch`: keep the index up to date with a corpus folder as files come, change and go.

Each batch of changes (watchfiles, which waits for writes to settle) runs the same incremental
build as `rag index`: unchanged articles keep their vectors, and the new generation is swapped in
under the index's write lock (index/store.py). A running `rag ui` or `Engine` takes it on its next
question (`Engine.follow`), without a restart. Progress and each build's report go to stderr.
Ctrl-C stops between or during builds; either way `CURRENT` names a whole generation, since a
build writes its generation aside and swaps the pointer last.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from index.documents import MANIFEST_NAME, load_corpus
from index.errors import RagError
from index.readers import SUFFIXES
from rag.settings import Settings

# watchfiles groups changes into one batch until `STEP_MS` pass without a new one, for at most
# `DEBOUNCE_MS`: editors and copies write a file in several steps, and one build per save is enough.
# A file still being written when its batch is built is read as it is then (a page cut short, a
# JSON line reported as broken) and read again on its next change, so the index catches up.
# Measured: a new JSON Lines article was in a new generation 0.6-0.8 s after it was written (2
# cores, load average 4.7).
STEP_MS = 200
DEBOUNCE_MS = 1_600


def log(message: str) -> None:
    print(f"rag watch: {message}", file=sys.stderr, flush=True)


def wanted(path: str) -> bool:
    """Whether a changed path can change the corpus: an article of a known form, or the manifest."""
    name = os.path.basename(path)
    return name == MANIFEST_NAME or os.path.splitext(name)[1].lower() in SUFFIXES


def build_once(settings: Settings, embedder) -> None:
    """Read the corpus and bring the index up to date, reporting to stderr."""
    from rag.cli import report_problems
    from rag.opening import build_store, converted_dir, store_location

    started = time.perf_counter()
    corpus = load_corpus(settings.corpus_dir, settings.max_file_bytes, stored=converted_dir(settings))
    report_problems(corpus.problems)
    if not corpus.documents:
        log(f"no usable articles in {settings.corpus_dir}; the index is left as it is")
        return
    _, report = build_store(settings, corpus, embedder, log=log)
    log(f"index at {store_location(settings)}: {report.summary()} ({time.perf_counter() - started:.1f} s)")


def cmd_watch(args: argparse.Namespace) -> int:
    import watchfiles

    from rag.opening import embedder_for

    settings = Settings.from_args(args)
    corpus_dir = Path(settings.corpus_dir)
    if not corpus_dir.is_dir():
        raise RagError(f"corpus folder {corpus_dir} does not exist; pass --corpus DIR or set RAG_CORPUS")
    embedder = embedder_for(settings)  # loaded once, for every build
    build_once(settings, embedder)
    log(f"watching {corpus_dir} for changes (Ctrl-C to stop)")
    for changes in watchfiles.watch(
        corpus_dir,
        watch_filter=lambda _change, path: wanted(path),
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        raise_interrupt=True,
    ):
        names = sorted({os.path.relpath(path, corpus_dir) for _, path in changes})
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        log(f"{len(names)} changed: {shown}")
        try:
            build_once(settings, embedder)
        except RagError as exc:  # one bad build (a corpus gone for a moment) does not end the watch
            log(f"{exc}; waiting for the next change")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from rag.cli import add_index_arguments

    p = sub.add_parser("watch", help="re-index the corpus folder as files are added, changed or removed")
    add_index_arguments(p)
    p.set_defaults(func=cmd_watch)
