"""Keys stay on the server, only this server's own pages may drive it, and no user can stall others.

Every test runs the real Gradio app on 127.0.0.1 and talks to it as a client would (gradio_client
or raw HTTP). Model servers are `Listener`s on 127.0.0.1 (see conftest) that record what they get.
"""

from __future__ import annotations

import json
import select
import socket

import httpx
import pytest
from gradio_client import Client

from rag.cli import build_parser
from ui.endpoints import Endpoint, EndpointError, EndpointPolicy, parse_endpoint
from ui.http_guard import MAX_BODY_BYTES, HostPolicy
from ui.options import endpoint_policy
from ui.slots import MODEL_SLOTS

QUESTION = "How much must partners pay for Ukraine's defence in 2026?"
FAKE_KEY = "sk-fake-server-key-0123456789"
REMOTE_TEXT = "REMOTE-SAYS-this-text-must-not-reach-the-user"
REFUSAL = json.dumps({"error": {"message": REMOTE_TEXT, "type": "invalid_request_error"}}).encode()


def last_text(messages) -> str:
    content = messages[-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def chat(url: str, backend="extractive", model="", api_base="", question=QUESTION) -> str:
    messages, _, _ = Client(url, verbose=False).predict(question, [], backend, model, api_base, 5, api_name="/chat")
    return last_text(messages)


def keys_sent(spy) -> list[str]:
    return [headers.get("authorization", "") for _, headers in spy.requests]


# -- keys stay on the server ----------------------------------------------------------------


def test_a_client_named_api_base_is_never_called_and_never_gets_the_key(engine, ui_server, serve_app, listener,
                                                                         monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    spy = listener(status=401, body=REFUSAL)
    for model, api_base in [("openai/gpt-4o-mini", spy.url), ("", spy.url), ("openai/gpt-4o-mini", "")]:
        text = chat(ui_server.url, "litellm", model, api_base)  # the app as `rag ui` serves it by default
        assert "does not take a model or API base from users" in text
    assert spy.requests == []
    # The control: the same server calling an address its operator chose does send the key,
    # so the refusal above is what kept it home.
    operated = serve_app(engine, endpoints=EndpointPolicy((Endpoint("spy", "openai/m", spy.url),)))
    text = chat(operated.url, "litellm", "spy")
    assert keys_sent(spy) and all(FAKE_KEY in k for k in keys_sent(spy))
    # The model server's own words and its address are not shown to the user.
    assert "the model server answered HTTP 401" in text
    assert REMOTE_TEXT not in text and spy.url not in text and "127.0.0.1" not in text


def test_allowed_client_endpoints_never_carry_the_server_key(engine, serve_app, listener, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spy = listener(status=401, body=REFUSAL)
    served = serve_app(engine, endpoints=EndpointPolicy(allow_client=True))
    text = chat(served.url, "litellm", "openai/mine", spy.url)
    assert spy.requests, "a user's own server is called when the operator allows it"
    assert "answered HTTP 401" in text and REMOTE_TEXT not in text
    # A key that appears later is not sent either: each question checks.
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    before = len(spy.requests)
    text = chat(served.url, "litellm", "openai/mine", spy.url)
    assert "holds an API key" in text and len(spy.requests) == before
    assert all(FAKE_KEY not in k for k in keys_sent(spy))
    # Only OpenAI-compatible servers, named with their API base.
    text = chat(served.url, "litellm", "anthropic/claude-x", spy.url)
    assert "openai/NAME" in text and len(spy.requests) == before
    # With the key in the environment such a server does not start at all.
    with pytest.raises(EndpointError, match="OPENAI_API_KEY"):
        serve_app(engine, endpoints=EndpointPolicy(allow_client=True))


def test_rag_ui_flags_and_environment_name_the_offered_endpoints(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("RAG_UI_ENDPOINTS", "mini=openai/gpt-4o-mini")
    args = build_parser().parse_args(["ui", "--endpoint", "small=openai/smollm2@http://127.0.0.1:8080/v1"])
    policy = endpoint_policy(args)
    assert policy.endpoints == (Endpoint("small", "openai/smollm2", "http://127.0.0.1:8080/v1"),
                                Endpoint("mini", "openai/gpt-4o-mini"))
    assert policy.allow_client is False
    assert policy.resolve("small", "") == policy.endpoints[0] and policy.resolve("", "") is None
    with pytest.raises(EndpointError, match="offered models \\(small, mini\\)"):
        policy.resolve("openai/other", "")
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    with pytest.raises(EndpointError, match="unset OPENAI_API_KEY"):
        endpoint_policy(build_parser().parse_args(["ui", "--allow-client-endpoints"]))


@pytest.mark.parametrize("text", ["small", "=openai/x", "small=", "small=openai/x@", "small=openai/x@ftp://h/",
                                  "bad name=openai/x", "small=openai/x@http://"])
def test_malformed_endpoints_are_refused_with_the_expected_form(text):
    with pytest.raises(EndpointError, match="NAME=MODEL|http"):
        parse_endpoint(text)


# -- only this server's pages may drive it ----------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "localhost.evil.example:{port}",
                                  "127.0.0.1:{other}", "10.0.0.1:{port}"])
def test_a_foreign_host_header_is_refused(ui_server, host):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends its own Host."""
    header = host.format(port=ui_server.port, other=ui_server.port + 1)
    page = httpx.get(ui_server.url, headers={"Host": header}, timeout=10)
    assert page.status_code == 421 and "<gradio-app" not in page.text
    join = httpx.post(ui_server.url + "gradio_api/queue/join", timeout=10, json={},
                      headers={"Host": header, "Origin": f"http://{header}"})
    assert join.status_code == 421


@pytest.mark.parametrize("origin", ["http://evil.example", "https://evil.example:{port}", "http://127.0.0.1:{other}",
                                    "http://localhost:{other}", "null", "file://"])
def test_requests_from_other_origins_are_refused(ui_server, origin):
    header = origin.format(port=ui_server.port, other=ui_server.port + 1)
    for response in (httpx.get(ui_server.url + "config", headers={"Origin": header}, timeout=10),
                     httpx.post(ui_server.url + "gradio_api/queue/join", json={}, headers={"Origin": header}, timeout=10)):
        assert response.status_code == 403 and "Requests from other web sites are refused" in response.text


def test_the_app_answers_at_its_own_names_and_origin(ui_server):
    for host in (f"127.0.0.1:{ui_server.port}", f"localhost:{ui_server.port}", f"LOCALHOST:{ui_server.port}"):
        assert httpx.get(ui_server.url, headers={"Host": host}, timeout=10).status_code == 200
    same = httpx.get(ui_server.url + "config", headers={"Origin": ui_server.url.rstrip("/")}, timeout=10)
    assert same.status_code == 200
    assert 'href="#rag-c1-1"' in chat(ui_server.url)  # and the normal client works


def test_host_policy_when_bound_to_every_interface():
    policy = HostPolicy("0.0.0.0", 7860, ("rag.example.org",))
    assert policy.allows("192.168.1.20:7860") and policy.allows("[::1]:7860") and policy.allows(f"{socket.gethostname()}:7860")
    assert policy.allows("rag.example.org") and policy.allows("rag.example.org:443")
    assert not policy.allows("evil.example:7860") and not policy.allows("192.168.1.20:7861")
    loopback = HostPolicy("127.0.0.1", 7860)
    assert loopback.allows("localhost:7860") and loopback.allows("127.0.0.1:7860")
    assert not loopback.allows("192.168.1.20:7860") and not loopback.allows(f"{socket.gethostname()}.invalid:7860")


# -- request size and memory ------------------------------------------------------------------


def raw_post(port: int, headers: str, chunks) -> bytes:
    """Send a request piece by piece, stopping as soon as the server answers; return its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(headers.encode("latin-1"))
        try:
            for chunk in chunks:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered (or closed): stop sending
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while piece := sock.recv(65536):
                answer += piece
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_big_declared_body_is_refused_without_reading_it(ui_server):
    headers = (f"POST /gradio_api/queue/join HTTP/1.1\r\nHost: 127.0.0.1:{ui_server.port}\r\n"
               f"Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n")
    answer = raw_post(ui_server.port, headers, [b"x" * 65536] * 16)
    assert answer.startswith(b"HTTP/1.1 413") and b"only takes questions" in answer


def test_a_big_chunked_body_is_refused_and_memory_stays_put(ui_server):
    """The app runs in this process, so this process's RSS is the server's (plus this small client)."""
    headers = (f"POST /gradio_api/queue/join HTTP/1.1\r\nHost: 127.0.0.1:{ui_server.port}\r\n"
               f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    body = [chunk] * (8 * MAX_BODY_BYTES // len(piece))  # eight times the limit, never all sent
    raw_post(ui_server.port, headers, body)  # warm up: the first request allocates what any request does
    before = rss_bytes()
    answers = [raw_post(ui_server.port, headers, body) for _ in range(20)]
    grown = rss_bytes() - before
    assert all(a.startswith(b"HTTP/1.1 413") for a in answers)
    assert grown < 20 * MAX_BODY_BYTES, f"the server kept {grown / 1e6:.0f} MB after 20 refused bodies"


def test_a_body_under_the_limit_still_reaches_the_app(ui_server):
    response = httpx.post(ui_server.url + "gradio_api/queue/join", timeout=30,
                          content=b'{"data": [], "fn_index": 0, "padding": "' + b"y" * 200_000 + b'"}',
                          headers={"Content-Type": "application/json"})
    assert response.status_code != 413


# -- one user cannot stall the others ---------------------------------------------------------


def test_an_extractive_answer_completes_while_model_calls_are_stalled(engine, serve_app, listener, monkeypatch):
    # Once the server is gone each model call fails after its retries; their backoff pauses test nothing here.
    monkeypatch.setattr("rag.backends.llm.BACKOFF_S", 0.0)
    stall = listener(stall=True)
    served = serve_app(engine, endpoints=EndpointPolicy((Endpoint("stalled", "openai/stalled", stall.url),)))
    client = Client(served.url, verbose=False)
    jobs = [client.submit(QUESTION, [], "litellm", "stalled", "", 5, api_name="/chat") for _ in range(MODEL_SLOTS + 2)]
    assert stall.wait_for(MODEL_SLOTS), "the model calls never reached the stalled server"
    text = chat(served.url)  # the extractive backend
    assert 'href="#rag-c1-1"' in text
    assert [job.done() for job in jobs] == [False] * len(jobs)  # every model call is still waiting
    assert len(stall.requests) == MODEL_SLOTS  # the extra ones wait for a model slot, not a thread
    stall.close()  # the stalled server goes away: the model calls fail, and each user is told so
    for job in jobs:
        messages = job.result(timeout=300)[0]
        assert "litellm backend failed" in last_text(messages) and stall.url not in last_text(messages)
    assert 'href="#rag-c1-1"' in chat(served.url)
