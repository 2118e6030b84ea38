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

    def __init__(self, source):
        from ui.app import build_app, serve

        self.app = build_app(source)
        self.url = serve(self.app, "127.0.0.1", free_port(), block=False)

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

    def launch(source) -> Served:
        launched.append(Served(source))
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
