"""The `rag ui` flags about who may use the app and which model servers it calls.

Kept apart from `ui.app` (which imports Gradio) so that building the CLI parser stays fast:
`rag.cli` calls `add_ui_arguments` on its `ui` subcommand.
"""

from __future__ import annotations

import argparse

from ui.endpoints import EndpointPolicy, operator_endpoints


def add_ui_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=MODEL[@APIBASE]",
        help="a model server users may pick by NAME (repeatable; also RAG_UI_ENDPOINTS, space-separated), "
        "e.g. small=openai/smollm2@http://127.0.0.1:8080/v1",
    )
    parser.add_argument(
        "--allow-client-endpoints",
        action="store_true",
        help="let users name their own OpenAI-compatible server (model and API base); refused while "
        "OPENAI_API_KEY is set, so the server's key never goes to an address a user typed",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="a host name browsers use to reach the app (repeatable), e.g. behind a proxy; "
        "the bound address, and localhost when bound to loopback, are always accepted",
    )


def endpoint_policy(args: argparse.Namespace) -> EndpointPolicy:
    """The endpoints and client permission from the flags and RAG_UI_ENDPOINTS (checked here)."""
    policy = EndpointPolicy(operator_endpoints(args.endpoint), args.allow_client_endpoints)
    policy.check_startup()
    return policy


__all__ = ["add_ui_arguments", "endpoint_policy"]
