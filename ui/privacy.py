"""Keep the app offline and private: no share link, no analytics, no files in or out.

Gradio serves some routes this app never needs and a private deployment should not expose:
file downloads by path (`/file=`), a URL proxy that makes the *server* fetch other sites
(`/proxy=`, and `/file=` with a URL), uploads, media streams, screen recordings, the run
history (which can sync to a hosted bucket), the vibe editor, profiling and monitoring.
`RefuseFileRoutes` answers all of those with 403 before Gradio sees them. The launch options
also install `ui.http_guard`: only this server's Host and its own pages' Origin are answered,
and request bodies are capped.
"""

from __future__ import annotations

import re

from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

import index.offline  # noqa: F401  (GRADIO_ANALYTICS_ENABLED and friends, before gradio loads)
from ui.http_guard import MAX_BODY_BYTES, HostPolicy, guard_middleware

BLOCKED_ROUTES = re.compile(
    r"^(?:/gradio_api)?/(?:file=|file/|proxy=|upload|process_recording|stream/|runs\b|run-history|"
    r"vibe-|undo-vibe-edit|profiling|monitoring)"
)
REFUSAL = "This app does not accept, serve or fetch files; only questions and answers go through it."


class RefuseFileRoutes:
    """ASGI middleware: 403 for every route in `BLOCKED_ROUTES`."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and BLOCKED_ROUTES.match(scope.get("path", "")):
            await PlainTextResponse(REFUSAL, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def private_launch_options(hosts: HostPolicy, body_limit: int = MAX_BODY_BYTES) -> dict:
    """`Blocks.launch` arguments that keep the app on this machine and its data to itself.

    `hosts` says which Host headers the app answers to (see `ui.http_guard`).
    """
    return {
        "share": False,
        "run_history": False,
        "enable_monitoring": False,
        "mcp_server": False,
        "pwa": False,
        "ssr_mode": False,
        "allowed_paths": [],
        "max_file_size": "1b",
        "show_error": False,
        "footer_links": ["api"],
        "app_kwargs": {"middleware": [*guard_middleware(hosts, body_limit), Middleware(RefuseFileRoutes)]},
    }
