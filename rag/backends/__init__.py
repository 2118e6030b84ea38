"""Backends by name. Adding one is a module plus one `register` call; nothing else changes.

Factories receive the `Settings`, so a backend reads its own options (model, api base, timeout).
Backend modules are imported lazily so the default path never imports litellm or llama.cpp.
"""

from __future__ import annotations

import importlib
from typing import Callable

from rag.backends.base import Backend, Draft
from rag.errors import BackendError

_FACTORIES: dict[str, Callable[..., Backend]] = {}
# name -> module that registers it on import
_BUILTIN = {"extractive": "rag.backends.extractive", "litellm": "rag.backends.llm", "local": "rag.backends.local"}


def register(name: str):
    def wrap(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        _FACTORIES[name] = factory
        return factory

    return wrap


def available() -> list[str]:
    return sorted(set(_FACTORIES) | set(_BUILTIN))


def get_backend(name: str, settings) -> Backend:
    if name not in _FACTORIES and name in _BUILTIN:
        try:
            importlib.import_module(_BUILTIN[name])
        except ImportError as exc:
            raise BackendError(f"backend {name!r} is not installed ({exc}); see README, 'Backends'") from exc
    if name not in _FACTORIES:
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(available())}")
    return _FACTORIES[name](settings)


__all__ = ["Backend", "Draft", "available", "get_backend", "register"]
