"""Which model servers the chat may call, and who chooses them: the operator, not the browser.

A model and API base typed by a user would make this server call an address the user picked
(a request relay into the operator's network), and send the server's provider key there: with
OPENAI_API_KEY set, litellm puts `Authorization: Bearer <key>` on every OpenAI-style call. So by
default a user only picks the backend; the model and API base are the server's own settings
(RAG_MODEL, RAG_API_BASE) or one of a list the operator offers by name:

    rag ui --endpoint small=openai/smollm2@http://127.0.0.1:8080/v1 --endpoint mini=openai/gpt-4o-mini
    RAG_UI_ENDPOINTS="small=openai/smollm2@http://127.0.0.1:8080/v1 mini=openai/gpt-4o-mini"

`rag ui --allow-client-endpoints` also lets users name their own OpenAI-compatible server
(`openai/NAME` plus an API base). The server's key must then stay out of those calls, so that
mode refuses to start, and refuses each such question, while OPENAI_API_KEY is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from rag import RagError

ENV_ENDPOINTS = "RAG_UI_ENDPOINTS"
# The key litellm sends to an OpenAI-compatible API base; client endpoints are limited to that
# provider so this is the one key that could travel with them.
CLIENT_PROVIDER = "openai/"
CLIENT_KEY_VARIABLE = "OPENAI_API_KEY"
MAX_FIELD_CHARS = 300  # a model string or URL longer than this is refused, not passed on
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,39}$")


class EndpointError(RagError):
    """An endpoint the operator wrote is malformed, or one a user sent is not allowed."""


@dataclass(frozen=True)
class Endpoint:
    """A model server: litellm model string and, for self-hosted servers, its API base."""

    name: str
    model: str
    api_base: str | None = None


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_FIELD_CHARS:
        raise EndpointError(f"{what} {url[:80]!r} is not an http(s) URL such as http://127.0.0.1:8080/v1")
    return url


def parse_endpoint(text: str) -> Endpoint:
    """`NAME=MODEL` or `NAME=MODEL@APIBASE`, as given to `--endpoint` or in RAG_UI_ENDPOINTS."""
    name, sep, rest = text.strip().partition("=")
    model, at, api_base = rest.partition("@")
    name, model, api_base = name.strip(), model.strip(), api_base.strip()
    if not sep or not _NAME.match(name) or not model or (at and not api_base):
        raise EndpointError(
            f"endpoint {text!r} is not NAME=MODEL or NAME=MODEL@APIBASE "
            "(e.g. small=openai/smollm2@http://127.0.0.1:8080/v1); NAME is letters, digits, _ . : -"
        )
    return Endpoint(name, model, _check_url(api_base, f"the API base of endpoint {name!r},") if at else None)


def operator_endpoints(given: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> tuple[Endpoint, ...]:
    """The endpoints from `--endpoint` flags, then RAG_UI_ENDPOINTS (whitespace-separated); names unique."""
    environ = os.environ if environ is None else environ
    texts = [*given, *environ.get(ENV_ENDPOINTS, "").split()]
    endpoints: dict[str, Endpoint] = {}
    for text in texts:
        endpoint = parse_endpoint(text)
        if endpoint.name in endpoints and endpoints[endpoint.name] != endpoint:
            raise EndpointError(f"endpoint name {endpoint.name!r} is given twice with different servers; rename one")
        endpoints[endpoint.name] = endpoint
    return tuple(endpoints.values())


def server_key_in_environment(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return bool(environ.get(CLIENT_KEY_VARIABLE, "").strip())


@dataclass(frozen=True)
class EndpointPolicy:
    """What a request may choose: one of `endpoints` by name, or (if allowed) its own server."""

    endpoints: tuple[Endpoint, ...] = ()
    allow_client: bool = False

    def check_startup(self, environ: Mapping[str, str] | None = None) -> None:
        """Refuse a configuration that would hand the server's key to user-chosen addresses."""
        if self.allow_client and server_key_in_environment(environ):
            raise EndpointError(
                f"--allow-client-endpoints would send this server's {CLIENT_KEY_VARIABLE} to addresses users "
                f"type; unset {CLIENT_KEY_VARIABLE} for the UI, or offer fixed servers with "
                "--endpoint NAME=MODEL@APIBASE instead"
            )

    def choices(self) -> list[str]:
        return [e.name for e in self.endpoints]

    def resolve(self, model: str | None, api_base: str | None) -> Endpoint | None:
        """The endpoint one request uses; None means the server's own settings.

        `model` is an offered endpoint's name, or (when allowed) an `openai/NAME` model string
        sent together with `api_base`. Anything else raises `EndpointError` saying what to do.
        """
        model, api_base = (model or "").strip(), (api_base or "").strip()
        if not model and not api_base:
            return None
        offered = {e.name: e for e in self.endpoints}
        if model in offered and not api_base:
            return offered[model]
        if not self.allow_client:
            listed = (
                f"pick one of the offered models ({', '.join(offered)})"
                if offered
                else "this server offers only its own model"
            )
            raise EndpointError(
                "this server does not take a model or API base from users; "
                + listed
                + " under Settings, or ask its operator to offer yours (rag ui --endpoint NAME=MODEL@APIBASE)"
            )
        if not model.startswith(CLIENT_PROVIDER) or len(model) > MAX_FIELD_CHARS or not api_base:
            raise EndpointError(
                f"name your own server as a model {CLIENT_PROVIDER}NAME together with its API base "
                "(e.g. http://127.0.0.1:8080/v1)"
            )
        if server_key_in_environment():
            raise EndpointError(
                "this server holds an API key and does not send it to addresses users choose; "
                "pick one of the offered models, or ask the operator to add yours"
            )
        return Endpoint("", model, _check_url(api_base, "the API base"))
