"""`rag ui`: a Gradio chat over the corpus where every `[n]` opens the exact cited words.

    app = build_app(engine)                  # an Engine, or a SharedEngine
    url = serve(app, "127.0.0.1", 7860, block=False)

Layout: the chat (with settings) on the left; on the right the source article with the cited
span highlighted, and the retrieved passages with their scores. A Corpus tab lists the articles
and rebuilds the index. The app only calls the public `rag` API; see `ui.chat` for behaviour,
`ui.privacy` for what it refuses to serve, `ui.endpoints` for which model servers users may
pick, `ui.http_guard` for the Host, Origin and body-size checks, and `ui.slots` for how
extractive answers stay quick while model calls are slow.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from ui import privacy  # noqa: F401  (offline switches before gradio is imported)

# isort: split
import gradio as gr

from rag import Engine, RagError, Settings
from rag.backends import available
from rag.progress import stderr_progress
from ui import render
from ui.assets import CLICK_BRIDGE, CSS, SCROLL_TO_MARK
from ui.chat import (
    EXAMPLE_QUESTION,
    MAX_K,
    ChatState,
    backend_of,
    friendly_error,
    in_background,
    respond,
    show_reference,
)
from ui.endpoints import EndpointPolicy
from ui.http_guard import MAX_BODY_BYTES, HostPolicy
from ui.options import add_ui_arguments, endpoint_policy
from ui.shared_engine import SharedEngine
from ui.slots import AnswerSlots

# Gradio starts every question at once (no Gradio limit): waiting happens in `ui.slots`, which
# keeps extractive answers and model calls apart and holds no thread while a request waits.
CHAT_CONCURRENCY = None
SESSIONS_KEPT = 1000  # browser sessions whose chat state stays in memory (each keeps <= MAX_TURNS answers)
SOURCE_HINT = "Select a [n] marker in an answer, or a passage below, to see the exact words in the article."


def _corpus_table(shared: SharedEngine) -> str:
    docs = shared.documents
    if not docs:
        return render.placeholder_html("No articles are loaded. Check the corpus folder, then press 'Rebuild index'.")
    return render.corpus_html(docs)


def _model_choice(settings: Settings, endpoints: EndpointPolicy) -> tuple[gr.Component, gr.Component]:
    """The Model and API base inputs: hidden, a list of the operator's servers, or free to type."""
    own = f"server default ({settings.model})" if settings.model else "server default"
    model: gr.Component
    if endpoints.allow_client:
        model = gr.Dropdown(
            [(own, ""), *((n, n) for n in endpoints.choices())],
            value="",
            allow_custom_value=True,
            label="Model (litellm backend)",
            elem_id="rag-model",
            info="blank: the server's own; or one offered; or openai/NAME of your own server",
        )
        api_base = gr.Textbox(
            "", label="API base of your own server", placeholder="e.g. http://127.0.0.1:8080/v1", elem_id="rag-api-base"
        )
    elif endpoints.endpoints:
        model = gr.Dropdown(
            [(own, ""), *((e.name, e.name) for e in endpoints.endpoints)],
            value="",
            label="Model (litellm backend)",
            info="the model servers this app offers",
            elem_id="rag-model",
        )
        api_base = gr.Textbox("", visible=False, elem_id="rag-api-base")
    else:
        model = gr.Textbox("", visible=False, elem_id="rag-model")
        api_base = gr.Textbox("", visible=False, elem_id="rag-api-base")
    return model, api_base


def build_app(
    source: Engine | SharedEngine, endpoints: EndpointPolicy | None = None, slots: AnswerSlots | None = None
) -> gr.Blocks:
    """The Gradio app over one engine; launch it with `serve`.

    `endpoints`: the model servers users may pick (default: only the server's own settings).
    """
    shared = source if isinstance(source, SharedEngine) else SharedEngine(source.settings, source)
    settings = shared.settings
    endpoints = endpoints or EndpointPolicy()
    endpoints.check_startup()
    slots = slots or AnswerSlots()

    async def on_ask(question, messages, state, backend, model, api_base, k):
        async for update in respond(
            shared, question, messages, state, backend, model, api_base, k, endpoints=endpoints, slots=slots
        ):
            passages = gr.skip() if update.passages is None else update.passages
            yield update.messages, update.state, passages, ""

    def on_reference(state, evt: gr.EventData):
        return show_reference(shared, getattr(evt, "ref", ""), state)

    def on_clear():
        return [], ChatState(), render.placeholder_html(SOURCE_HINT), ""

    def on_rebuild(progress=gr.Progress()):
        def report(done: int, total: int) -> None:
            progress((done, total), desc="Embedding new and changed text", unit="pieces")

        try:
            build = shared.rebuild(progress=report)
        except Exception as exc:  # shown next to the button; the app keeps serving
            return f"Rebuild failed: {friendly_error(exc)}", _corpus_table(shared)
        summary = build.summary() if build is not None else "The index was already up to date."
        return f"Index rebuilt: {summary}", _corpus_table(shared)

    async def answer(question: str, backend: str = "extractive", k: int = 5) -> dict:
        """One question, no history: the same JSON as `rag ask --json`."""
        name = backend_of(shared, backend)

        def work(engine, options, put) -> None:
            put(engine.ask(question, k=int(k), backend=name, options=options).to_dict())

        try:
            async for result in in_background(shared, slots, name, None, work):
                assert isinstance(result, dict)  # what `work` puts
                return result
        except Exception as exc:
            raise gr.Error(friendly_error(exc, name)) from None
        raise gr.Error("no answer was produced; try again")

    with gr.Blocks(title="rag: ask the news", analytics_enabled=False) as app:
        state = gr.State(ChatState())
        gr.Markdown("## Ask the news\nAnswers quote the articles; select a **[n]** to see the exact words.")
        with gr.Tab("Chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        label="Conversation",
                        elem_id="rag-chat",
                        height=520,
                        render_markdown=False,
                        latex_delimiters=[],
                        feedback_options=None,
                        buttons=["copy"],
                        placeholder=f"Ask about the articles, e.g. “{EXAMPLE_QUESTION}”",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            label="Question",
                            show_label=False,
                            placeholder="Your question",
                            scale=5,
                            elem_id="rag-question",
                            max_lines=4,
                        )
                        ask = gr.Button("Ask", variant="primary", scale=1, elem_id="rag-ask")
                    clear = gr.Button("New conversation", size="sm", elem_id="rag-clear")
                    with gr.Accordion("Settings", open=False):
                        backend = gr.Dropdown(
                            available(),
                            value=settings.backend,
                            label="Backend",
                            elem_id="rag-backend",
                            info="extractive quotes the articles (no model); local and litellm use an LLM",
                        )
                        model, api_base = _model_choice(settings, endpoints)
                        k = gr.Slider(1, MAX_K, value=settings.top_k, step=1, label="Passages to retrieve")
                with gr.Column(scale=2):
                    gr.Markdown("### Source")
                    source_view = gr.HTML(
                        render.placeholder_html(SOURCE_HINT), elem_id="rag-source", js_on_load=SCROLL_TO_MARK
                    )
                    gr.Markdown("### Retrieved passages")
                    passages = gr.HTML(
                        render.placeholder_html("Passages appear here after a question."),
                        elem_id="rag-passages",
                        js_on_load=None,
                    )
        with gr.Tab("Corpus"):
            corpus = gr.HTML(_corpus_table(shared), elem_id="rag-corpus", js_on_load=None)
            rebuild = gr.Button("Rebuild index", elem_id="rag-rebuild")
            status = gr.Markdown(elem_id="rag-rebuild-status")
        bridge = gr.HTML("", visible="hidden", elem_id="rag-bridge", js_on_load=CLICK_BRIDGE)

        gr.on(
            [ask.click, question.submit],
            on_ask,
            inputs=[question, chatbot, state, backend, model, api_base, k],
            outputs=[chatbot, state, passages, question],
            api_name="chat",
            concurrency_limit=CHAT_CONCURRENCY,
        )
        bridge.click(on_reference, inputs=[state], outputs=[source_view], api_visibility="private", queue=False)
        for cleared in (clear.click, chatbot.clear):  # our button and the chatbot's own bin icon
            cleared(on_clear, outputs=[chatbot, state, source_view, passages], api_visibility="private", queue=False)
        rebuild.click(on_rebuild, outputs=[status, corpus], api_name="rebuild", concurrency_limit=1)
        app.load(lambda: _corpus_table(shared), outputs=[corpus], api_visibility="private", queue=False)
        gr.api(answer, api_name="answer", concurrency_limit=CHAT_CONCURRENCY)
    app.queue(max_size=None)
    return app


def serve(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    block: bool = True,
    allowed_hosts: tuple[str, ...] = (),
    body_limit: int = MAX_BODY_BYTES,
) -> str:
    """Start the server (blocking unless `block=False`) and return its local URL.

    Only requests naming this server in their Host header (the bound address, localhost when
    bound to loopback, and `allowed_hosts`) and from its own pages are answered; see `ui.http_guard`.
    """
    options = privacy.private_launch_options(HostPolicy(host, port, tuple(allowed_hosts)), body_limit)
    try:
        _, url, _ = app.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=not block,
            quiet=True,
            css=CSS,
            state_session_capacity=SESSIONS_KEPT,
            **options,
        )
    except OSError as exc:
        raise RagError(f"cannot serve on {host}:{port} ({exc}); pass another --port") from exc
    return url


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(args: argparse.Namespace) -> int:
    """Entry point of `rag ui`: open the engine (or remember why not), then serve until Ctrl-C."""
    settings = Settings.from_args(args)
    endpoints = endpoint_policy(args)  # a malformed --endpoint, or client endpoints with a key, stop here
    print(f"rag ui: opening the index for {settings.corpus_dir} ...", file=sys.stderr)
    progress, close = stderr_progress()
    try:
        shared = SharedEngine(settings, Engine.open(settings, progress=progress))
    except RagError as exc:
        if args.debug:
            raise
        print(
            f"rag ui: {exc}\nrag ui: starting anyway; questions will explain the problem until it is fixed",
            file=sys.stderr,
        )
        shared = SharedEngine(settings)
    finally:
        close()
    if not _is_loopback(args.host):
        print(f"rag ui: listening on {args.host}: anyone who can reach this machine can use the app", file=sys.stderr)
    app = build_app(shared, endpoints)
    url = serve(app, args.host, args.port, block=False, allowed_hosts=tuple(args.allowed_host))
    print(f"rag ui: ready at {url} - open it in a browser (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `rag ui` to the `rag` command (the `rag.commands` entry point in pyproject.toml)."""
    from rag.cli import add_index_arguments

    p = subparsers.add_parser("ui", help="launch the Gradio chat app")
    add_index_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860)
    add_ui_arguments(p)  # endpoints offered to users, allowed hosts
    p.set_defaults(func=main)
