"""Backends by name: the built-ins, anything `register`ed in process, and outside packages.

An outside package adds a backend without touching `rag/` by declaring an entry point in the
`rag.backends` group (simonw/llm finds its plugins the same way):

    [project.entry-points."rag.backends"]
    echo = "rag_echo_backend:EchoBackend"     # a subclass of rag.backends.base.Backend

after which `rag ask --backend echo "..."` uses it. The built-in names cannot be taken over.
Backend modules are imported only when asked for, so the default path never imports litellm or
llama.cpp.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Callable, TypeVar

from rag.backends.base import Backend, BackendOptions
from rag.errors import BackendError

if TYPE_CHECKING:
    from rag.settings import Settings

ENTRY_POINT_GROUP = "rag.backends"
# name -> "module:Class", imported on first use
_BUILTIN = {
    "extractive": "rag.backends.extractive:ExtractiveBackend",
    "litellm": "rag.backends.llm:LiteLLMBackend",
    "local": "rag.backends.local:LocalBackend",
}
_REGISTERED: dict[str, type[Backend]] = {}

B = TypeVar("B", bound=type[Backend])


def register(name: str) -> Callable[[B], B]:
    """Class decorator: make a `Backend` subclass answer to `name` in this process."""

    def wrap(cls: B) -> B:
        _check_class(name, cls, "register()")
        _REGISTERED[name] = cls
        return cls

    return wrap


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in _BUILTIN}


def available() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTERED) | set(_plugins()))


def backend_class(name: str) -> type[Backend]:
    """The class registered for `name`; `BackendError` when it is unknown or cannot be loaded."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name in _BUILTIN:
        try:
            cls = EntryPoint(name, _BUILTIN[name], ENTRY_POINT_GROUP).load()
        except ImportError as exc:
            raise BackendError(f"backend {name!r} is not installed ({exc}); see README, 'Backends'") from exc
        return _check_class(name, cls, _BUILTIN[name])
    plugin = _plugins().get(name)
    if plugin is None:
        raise BackendError(f"unknown backend {name!r}; choose one of: {', '.join(available())}")
    try:
        cls = plugin.load()
    except Exception as exc:
        where = f"{plugin.dist.name} " if plugin.dist is not None else ""
        raise BackendError(
            f"backend {name!r} from package {where}({plugin.value}) failed to load: {exc}; "
            "reinstall or upgrade that package"
        ) from exc
    return _check_class(name, cls, plugin.value)


def _check_class(name: str, cls: object, origin: str):
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise BackendError(
            f"backend {name!r} ({origin}) is not a subclass of rag.backends.base.Backend; "
            "its package must register a Backend class"
        )
    return cls


def get_backend(name: str, options: "BackendOptions | Settings | None" = None) -> Backend:
    """A new backend `name` built from `options` (settings are converted); the engine caches them."""
    from rag.settings import Settings

    if isinstance(options, Settings):
        options = BackendOptions.from_settings(options)
    return backend_class(name).create(options or BackendOptions())


__all__ = [
    "ENTRY_POINT_GROUP",
    "available",
    "backend_class",
    "get_backend",
    "register",
    "unregister",
]
