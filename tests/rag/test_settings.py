from __future__ import annotations

from pathlib import Path

import pytest

import rag
from rag import RagError, Settings


def test_environment_overrides_defaults_and_arguments_override_environment():
    env = {"RAG_TOP_K": "7", "RAG_BACKEND": "local", "RAG_INDEX_DIR": "/tmp/x"}
    s = Settings.from_env(env)
    assert (s.top_k, s.backend, s.index_dir) == (7, "local", Path("/tmp/x"))
    assert Settings.from_env(env, top_k=3).top_k == 3
    assert Settings.from_env({}).top_k == Settings().top_k


def test_bad_value_names_the_setting_and_variable():
    with pytest.raises(RagError, match="top_k.*RAG_TOP_K"):
        Settings.from_env({"RAG_TOP_K": "many"})


def test_default_index_dir_depends_on_the_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a = Settings(corpus_dir=tmp_path / "a").resolved_index_dir
    b = Settings(corpus_dir=tmp_path / "b").resolved_index_dir
    assert a != b and a.parent == tmp_path / "rag"


def test_exported_names_are_complete_and_sorted():
    assert rag.__all__ == sorted(rag.__all__)
    public = {n for n in dir(rag) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(rag.__all__)
