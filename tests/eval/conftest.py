"""Fixtures for the evaluation suite's tests: the gold items, and one real `rag eval` run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from eval.gold import load_gold


@pytest.fixture(scope="session")
def gold_items():
    return load_gold()


def eval_args(engine, out: Path, **overrides) -> argparse.Namespace:
    """The namespace `rag eval` builds, pointed at the session engine's corpus and index."""
    values = dict(corpus=engine.settings.corpus_dir, index_dir=engine.settings.index_dir, backend=None,
                  model=None, api_base=None, k=None, judge=None, judge_api_base=None, out=out, gate=True,
                  debug=False, external=None, ablate=False, ablate_external=None)
    values.update(overrides)
    return argparse.Namespace(**values)


@pytest.fixture(scope="session")
def make_eval_args():
    return eval_args


@pytest.fixture(scope="session")
def no_retrieval_quality():
    """The retrieval engineer's comparison builds a llama-index baseline (slow); its own tests cover it."""
    import eval.runner as runner

    original = runner._retrieval_quality
    runner._retrieval_quality = lambda engine, items: (None, "skipped in tests")
    yield
    runner._retrieval_quality = original


@pytest.fixture(scope="session")
def baseline_report(engine, tmp_path_factory, no_retrieval_quality):
    """`rag eval --gate` on the full gold set with the default backend, as CI runs it."""
    from eval.runner import main

    out = tmp_path_factory.mktemp("eval") / "report"
    code = main(eval_args(engine, out))
    return code, out, json.loads((out / "results.json").read_text(encoding="utf-8"))
