"""The app served for real on a free 127.0.0.1 port, and Debian's Chromium driven by Playwright.

Playwright's own browser download (`playwright install`) cannot work offline, so the browser is
the system one at /usr/bin/chromium (apt-get install chromium). Without it the browser tests
fail with that instruction rather than silently skipping.
"""

from __future__ import annotations


import socket
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking switches Chromium phones Google, which is refused here.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A 127.0.0.1 port where nothing listens, for backends that must fail to connect."""
    return free_port()


class Served:
    """A launched app: its URL and the Blocks, closed at teardown."""

    def __init__(self, source, **build):
        from ui.app import build_app, serve

        self.app = build_app(source, **build)
        self.port = free_port()
        self.url = serve(self.app, "127.0.0.1", self.port, block=False)

    def close(self) -> None:
        self.app.close()


@pytest.fixture(scope="session")
def ui_server(engine):
    """The chat app over the session's real engine."""
    served = Served(engine)
    yield served
    served.close()


@pytest.fixture
def serve_app():
    """Launch extra apps (over other engines) inside a test; all are closed afterwards."""
    launched: list[Served] = []

    def launch(source, **build) -> Served:
        """`build`: keyword arguments of `ui.app.build_app` (endpoints, slots)."""
        launched.append(Served(source, **build))
        return launched[-1]

    yield launch
    for served in launched:
        served.close()


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed for the browser tests: sudo apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser tab that records every request it makes."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.requests = []
    tab.on("request", lambda request: tab.requests.append(request.url))
    yield tab
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class Listener:
    """A tiny HTTP server on 127.0.0.1 standing in for a model server; it records every request.

    It answers each POST with `status` and `body`, or (`stall=True`) accepts it and never
    replies until `release()`, like a model server that hangs.
    """

    def __init__(self, status: int = 401, body: bytes = b"", stall: bool = False):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[str, dict[str, str]]] = []
        self.released = threading.Event()
        self.arrived = threading.Condition()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with listener.arrived:
                    listener.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                    listener.arrived.notify_all()
                if stall:
                    listener.released.wait()
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 120) -> bool:
        """True once `count` requests have arrived (a hang guard, not a time limit on the app)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    """Start `Listener`s inside a test; all are closed afterwards."""
    started: list[Listener] = []

    def start(**kw) -> Listener:
        started.append(Listener(**kw))
        return started[-1]

    yield start
    for one in started:
        one.close()

