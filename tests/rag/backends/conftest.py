"""Fixtures for the LLM path: a scripted litellm backend for plumbing tests, and the real thing,
llama.cpp's OpenAI-compatible server on 127.0.0.1 serving the SmolLM2 GGUF from its package."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag import Engine, backends
from rag.backends.base import Backend
from rag.backends.llm import LiteLLMBackend


class ScriptedBackend(LiteLLMBackend):
    """The litellm backend with a queue of replies, served through litellm's `mock_response`
    (simonw/llm's MockModel pattern): the prompt plumbing is real, only the model is not."""

    def __init__(self, **kwargs):
        super().__init__("openai/scripted", name="scripted", retries=0, **kwargs)
        self.replies: list[str] = []
        self.prompts: list[list[dict]] = []

    def enqueue(self, *replies: str) -> "ScriptedBackend":
        self.replies.extend(replies)
        return self

    def open(self) -> None:  # no key check: nothing leaves the process
        pass

    def _kwargs(self, messages, evidence=()):
        if not self.replies:
            raise AssertionError("the scripted backend ran out of replies")
        self.prompts.append(messages)
        return {**super()._kwargs(messages, evidence), "mock_response": self.replies.pop(0)}


@pytest.fixture
def serve():
    """`serve(name, backend)`: the engine answers `backend=name` with this very instance, in this test."""
    names = []

    def register(name: str, instance: Backend) -> Backend:
        class Serving(type(instance)):  # a new class per test: the engine's cache never hands back an old one
            @classmethod
            def create(cls, options):
                return instance

        backends.register(name)(Serving)
        names.append(name)
        return instance

    yield register
    for name in names:
        backends.unregister(name)


@pytest.fixture
def scripted(serve):
    """A fresh scripted backend, reachable as `engine.ask(..., backend="scripted")` in this test."""
    return serve("scripted", ScriptedBackend())


def engine_with(engine: Engine, **settings) -> Engine:
    """The session engine's index and model under other settings (no rebuild)."""
    return Engine(replace(engine.settings, **settings), engine.corpus, engine.store, engine.embedder)


@pytest.fixture(scope="session")
def local_server(local_extra):
    """The packaged SmolLM2 behind llama.cpp's OpenAI-compatible server, for the whole session."""
    from rag.backends.local import LocalServer

    with LocalServer() as server:
        yield server


@pytest.fixture(scope="session")
def llm_engine(engine, local_server):
    """The session engine answering through litellm with the local server; short answers keep CI quick."""
    return engine_with(engine, backend="litellm", model=local_server.model, api_base=local_server.api_base,
                       max_tokens=120, timeout=300.0)


@pytest.fixture(scope="session")
def local_engine(engine, local_server):
    """The session engine with the `local` backend (its own server, with the citation grammar)."""
    local = engine_with(engine, backend="local", max_tokens=200, timeout=300.0)
    yield local
    local.close()
