"""Who may talk to the app, and how much one request may carry: two small ASGI middlewares.

`HostGuard`. A web page on another site can reach a server bound to 127.0.0.1 through DNS
rebinding: its own name is re-resolved to 127.0.0.1, so the browser treats our app as that
site ("same origin") and sends `Host: evil.example:7860`. Gradio's CORS layer trusts the Host
header, so a request whose Host is not this server's is answered 421 here before Gradio sees
it. This server's names are: when bound to loopback, 127.0.0.1 / localhost / [::1] at the bound
port; when bound to another address, also that address, any IP literal (rebinding needs a name),
this machine's host name, and the names the operator allows (`rag ui --allowed-host NAME`).
A browser also says which page sent a request (`Origin`); any origin other than the app's
own is refused with 403, so other sites (and other local apps on other ports) cannot drive it.

`BodyLimit`. Gradio reads whole request bodies into memory, and the memory is not given back
afterwards; one 300 MB POST grew the server by 1.8 GB. A body over `MAX_BODY_BYTES` is answered
413 without being read (declared length) or as soon as it passes the limit (chunked).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1_000_000  # the biggest request the app takes; a chat sends its history, about 1 KB a turn
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WRONG_HOST = (
    "This server answers only to its own address (Host header {host!r} refused). "
    "Open it at {url}, or start it with --allowed-host NAME."
)
WRONG_ORIGIN = "Requests from other web sites are refused (Origin {origin!r})."
TOO_LARGE = "Request body over {limit} bytes refused; this app only takes questions."


def _split_host(value: str, default_port: int) -> tuple[str, int] | None:
    """`name:port`, `[v6]:port` or `name` -> (lowercase name without brackets, port); None if malformed."""
    value = value.strip().lower()
    if not value:
        return None
    try:
        parts = urlsplit("//" + value)
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name:
        return None
    return name, default_port if port is None else port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return name == "localhost"


def _is_wildcard(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class HostPolicy:
    """The Host names (with ports) this server answers to; built once at launch."""

    bound_host: str
    port: int
    extra: tuple[str, ...] = ()  # operator-allowed names, `name` (any port) or `name:port`

    @property
    def loopback_only(self) -> bool:
        return _is_loopback(self.bound_host)

    @cached_property
    def _names(self) -> frozenset[str]:
        """Loopback names, the bound address, and (off loopback) this machine's names; looked up once."""
        names = {*LOOPBACK_NAMES, self.bound_host.strip("[]").lower()}
        if not self.loopback_only:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        return frozenset(names)

    def allows(self, host_header: str, default_port: int = 80) -> bool:
        parsed = _split_host(host_header, default_port)
        if parsed is None:
            return False
        name, port = parsed
        for extra in self.extra:
            wanted = _split_host(extra, port)
            if wanted == (name, port):
                return True
        if port != self.port:
            return False
        if self.loopback_only:
            return _is_loopback(name) and (name in LOOPBACK_NAMES or _is_ip(name))
        return name in self._names or _is_ip(name)

    def url(self) -> str:
        host = "127.0.0.1" if _is_wildcard(self.bound_host) else self.bound_host
        return f"http://{host}:{self.port}/"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await PlainTextResponse(text, status_code=status, headers={"Connection": "close"})(scope, receive, send)


class HostGuard:
    """ASGI middleware: 421 for a Host that is not this server's, 403 for a foreign Origin."""

    def __init__(self, app: ASGIApp, policy: HostPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") in ("https", "wss")
        default_port = 443 if secure else 80
        host = _header(scope, b"host") or ""
        if not self.policy.allows(host, default_port):
            await _refuse(scope, receive, send, 421, WRONG_HOST.format(host=host[:100], url=self.policy.url()))
            return
        origin = _header(scope, b"origin")
        if origin is not None and not self._same_origin(origin, host, default_port):
            await _refuse(scope, receive, send, 403, WRONG_ORIGIN.format(origin=origin[:100]))
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _same_origin(origin: str, host: str, default_port: int) -> bool:
        try:
            parts = urlsplit(origin.strip())
            origin_port = parts.port
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False  # includes "null", sent by sandboxed frames and file:// pages
        port = origin_port if origin_port is not None else (443 if parts.scheme == "https" else 80)
        return (parts.hostname.lower(), port) == _split_host(host, default_port)


class BodyLimit:
    """ASGI middleware: 413 for a request body over `limit` bytes, which is never held whole."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.limit
            except ValueError:
                too_big = True
            if too_big:
                await _refuse(scope, receive, send, 413, TOO_LARGE.format(limit=self.limit))
                return
        elif _header(scope, b"transfer-encoding") is not None:
            # No declared length: read it here, up to the limit, and hand the app the bytes.
            body = await self._read_bounded(receive)
            if body is None:
                await _refuse(scope, receive, send, 413, TOO_LARGE.format(limit=self.limit))
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_bounded(self, receive: Receive) -> bytes | None:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)
            size += len(message.get("body", b""))
            if size > self.limit:
                return None
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, then whatever the server sends next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def guard_middleware(policy: HostPolicy, body_limit: int = MAX_BODY_BYTES) -> list:
    """Starlette `Middleware` entries, outermost first: host and origin, then body size."""
    from starlette.middleware import Middleware

    return [Middleware(HostGuard, policy=policy), Middleware(BodyLimit, limit=body_limit)]


def allowed_hosts(values: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in values or () if v and v.strip())
