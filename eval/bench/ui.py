"""Load on the chat app: N simulated users asking at once through the real Gradio queue.

Starts the app on a free 127.0.0.1 port, then each user (its own `gradio_client` session) asks
questions from the dev and gold sets through the `/chat` endpoint, the same path the browser
uses. Bounded: at most users x questions requests, and no new request after `--max-seconds`.
Reports throughput, latency percentiles, and that nothing was dropped: every request submitted
must come back, with the same cited spans the engine gives when asked alone (a race between
concurrent answers would show up as a mismatch).

Two more scenarios, for the abuse a public app meets:
- stall: `MODEL_SLOTS` chats to a model server on 127.0.0.1 that accepts and never replies
  (an operator endpoint), then extractive questions; their latency is compared with the same
  questions asked with no stall. Extractive answers have their own slots (`ui.slots`).
- big bodies: a server in its own process (`--serve-only`) gets requests of `--big-mb` MB, and
  its resident memory is read from /proc before and after; once with the body limit
  (`ui.http_guard.MAX_BODY_BYTES`), once without it, for comparison.

    python -m eval.bench.ui [--users 8] [--questions 6] [--max-seconds 300] [--out eval/reports/latest]

Exit status 1 when a request was dropped, failed or answered differently, when an extractive
answer failed during the stall, or when a big body was not refused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import index.offline  # noqa: F401
from eval.bench.core import percentile, questions
from rag import Engine, Settings
from rag.conversation import is_follow_up

HERE = Path(__file__).resolve().parent.parent  # eval/
CITED_SPAN = re.compile(r'class="rag-cite" href="#rag-c\d+-\d+" title="([^"]+) (\d+)-(\d+)"')


@dataclass
class Outcome:
    user: int
    question: str
    seconds: float = 0.0
    ok: bool = False
    matches_alone: bool = False
    error: str = ""


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cited_spans(messages) -> list[tuple[str, int, int]]:
    content = messages[-1]["content"]
    html = content if isinstance(content, str) else "".join(part.get("text", "") for part in content)
    seen = dict.fromkeys((s, int(a), int(b)) for s, a, b in CITED_SPAN.findall(html))
    return list(seen)


def simulate_user(url: str, user: int, asked: list[str], expected: dict, deadline: float, k: int, run: Run) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    for question in asked:
        outcome = Outcome(user, question)
        if time.monotonic() >= deadline:
            outcome.error = "not submitted: time limit reached"
            run.add(outcome)
            continue
        t0 = time.perf_counter()
        try:
            job = client.submit(question, [], "extractive", "", "", k, api_name="/chat")
            messages, _, _ = job.result(timeout=max(1.0, deadline - time.monotonic() + 60))
            outcome.seconds = time.perf_counter() - t0
            outcome.ok = True
            outcome.matches_alone = cited_spans(messages) == expected[question]
        except Exception as exc:  # a dropped or failed request is what this benchmark looks for
            outcome.seconds = time.perf_counter() - t0
            outcome.error = f"{type(exc).__name__}: {exc}"
        run.add(outcome)


def run_load(users: int, per_user: int, max_seconds: float, k: int, settings: Settings) -> dict:
    from ui.app import build_app, serve
    from ui.slots import EXTRACTIVE_SLOTS

    engine = Engine.open(settings)
    pool = [q for q in dict.fromkeys(questions()) if not is_follow_up(q)]
    expected = {q: [(c.source, c.start, c.end) for c in engine.ask(q, k=k).citations] for q in pool}
    app = build_app(engine)
    url = serve(app, "127.0.0.1", free_port(), block=False)
    run = Run()
    plans = [[pool[(u * per_user + i) % len(pool)] for i in range(per_user)] for u in range(users)]
    deadline = time.monotonic() + max_seconds
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    threads = [
        threading.Thread(target=simulate_user, args=(url, u, plans[u], expected, deadline, k, run))
        for u in range(users)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    app.close()

    done = [o for o in run.outcomes if o.ok]
    latencies = [o.seconds for o in done]
    submitted = [o for o in run.outcomes if not o.error.startswith("not submitted")]
    return {
        "users": users,
        "questions_per_user": per_user,
        "k": k,
        "chat_concurrency": EXTRACTIVE_SLOTS,
        "cpus": os.cpu_count(),
        "load_average_1min_at_start": load,
        "python": platform.python_version(),
        "requests_planned": users * per_user,
        "requests_submitted": len(submitted),
        "requests_completed": len(done),
        "requests_dropped_or_failed": len(submitted) - len(done),
        "answers_differing_from_alone": sum(1 for o in done if not o.matches_alone),
        "answers_with_citations": sum(1 for q in (o.question for o in done) if expected[q]),
        "wall_s": wall,
        "throughput_rps": len(done) / wall if wall else 0.0,
        "latency_ms": {
            "p50": 1000 * statistics.median(latencies) if latencies else None,
            "p95": 1000 * percentile(latencies, 0.95) if latencies else None,
            "max": 1000 * max(latencies) if latencies else None,
            "mean": 1000 * statistics.fmean(latencies) if latencies else None,
        },
        "errors": [asdict(o) for o in run.outcomes if o.error][:20],
    }


def _summary(latencies: list[float]) -> dict:
    return {
        "n": len(latencies),
        "p50": 1000 * statistics.median(latencies) if latencies else None,
        "p95": 1000 * percentile(latencies, 0.95) if latencies else None,
        "max": 1000 * max(latencies) if latencies else None,
    }


class StallServer:
    """A model server on 127.0.0.1 that reads each request and never answers until closed."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.count = 0
        self.arrived = threading.Condition()
        stall = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with stall.arrived:
                    stall.count += 1
                    stall.arrived.notify_all()
                stall.released.wait()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: self.count >= count, timeout)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def _timed_chats(url: str, asked: list[str], expected: dict, k: int) -> tuple[list[float], int]:
    """Extractive questions one after another from one session: latencies and how many failed."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    latencies, failed = [], 0
    for question in asked:
        t0 = time.perf_counter()
        try:
            messages, _, _ = client.predict(question, [], "extractive", "", "", k, api_name="/chat")
            latencies.append(time.perf_counter() - t0)
            failed += cited_spans(messages) != expected[question]
        except Exception:  # counted: the stall must not make extractive answers fail
            failed += 1
    return latencies, failed


def run_stall(asked_count: int, k: int, settings: Settings) -> dict:
    """Extractive latency alone, then while every model slot is held by a server that never replies."""
    from gradio_client import Client

    from ui.app import build_app, serve
    from ui.endpoints import Endpoint, EndpointPolicy
    from ui.slots import MODEL_SLOTS

    engine = Engine.open(settings)
    pool = [q for q in dict.fromkeys(questions()) if not is_follow_up(q)]
    asked = [pool[i % len(pool)] for i in range(asked_count)]
    expected = {q: [(c.source, c.start, c.end) for c in engine.ask(q, k=k).citations] for q in set(asked)}
    stall = StallServer()
    app = build_app(engine, endpoints=EndpointPolicy((Endpoint("stalled", "openai/stalled", stall.url),)))
    url = serve(app, "127.0.0.1", free_port(), block=False)
    try:
        _timed_chats(url, asked[:2], expected, k)  # warm-up
        alone, failed_alone = _timed_chats(url, asked, expected, k)
        client = Client(url, verbose=False)
        t_stall = time.perf_counter()
        jobs = [client.submit(asked[0], [], "litellm", "stalled", "", k, api_name="/chat") for _ in range(MODEL_SLOTS)]
        reached = stall.wait_for(MODEL_SLOTS, 120)
        during, failed_during = _timed_chats(url, asked, expected, k)
        still_stalled = sum(not job.done() for job in jobs)
        stalled_for = time.perf_counter() - t_stall
    finally:
        stall.close()
    for job in jobs:
        try:
            job.result(timeout=300)
        except Exception:  # the stalled chats end in an error message or an exception; either is fine
            pass
    app.close()
    return {
        "model_calls_stalled": MODEL_SLOTS,
        "stalled_calls_reached_server": reached,
        "model_calls_still_waiting_after_extractive": still_stalled,
        "stall_held_s": stalled_for,
        "llm_timeout_s": settings.timeout,
        "extractive_alone_ms": _summary(alone),
        "extractive_during_stall_ms": _summary(during),
        "extractive_failed": failed_alone + failed_during,
    }


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _send_body(port: int, size: int, chunked: bool) -> str:
    """POST `size` bytes of JSON to the queue, stopping once the server answers; its status line."""
    head = f"POST /gradio_api/queue/join HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
    prefix, suffix = b'{"data": ["', b'"], "fn_index": 0, "session_hash": "bench"}'
    filler = b"x" * (1 << 20)
    pieces = [prefix]
    left = size - len(prefix) - len(suffix)
    while left > 0:
        pieces.append(filler[:left])
        left -= len(filler)
    pieces.append(suffix)
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head.encode("latin-1"))
        try:
            for piece in pieces:
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while b"\r\n" not in answer and (piece := sock.recv(4096)):
                answer += piece
        except (ConnectionResetError, TimeoutError):
            pass
    return answer.split(b"\r\n", 1)[0].decode("latin-1", "replace")


def _start_server(settings: Settings, body_limit: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "eval.bench.ui",
        "--serve-only",
        str(port),
        "--body-limit",
        str(body_limit),
        "--corpus",
        str(settings.corpus_dir),
        "--index-dir",
        str(settings.resolved_index_dir),
    ]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=os.environ | {"PYTHONPATH": str(HERE.parent)},
    )
    assert proc.stdout is not None  # stdout=PIPE
    line = proc.stdout.readline()
    if "ready" not in line:
        proc.kill()
        raise RuntimeError(f"the bench server did not start: {line!r}")
    return proc, port


def run_big_bodies(settings: Settings, big_mb: int, count: int) -> dict:
    """Server RSS before and after `count` bodies of `big_mb` MB, with and without the body limit."""
    from ui.http_guard import MAX_BODY_BYTES

    size = big_mb * 1_000_000
    results: dict[str, Any] = {}
    for label, limit, kinds in (("with_limit", MAX_BODY_BYTES, (False, True)), ("without_limit", 10**12, (False,))):
        proc, port = _start_server(settings, limit)
        try:
            import httpx

            httpx.get(f"http://127.0.0.1:{port}/", timeout=60)  # warm: the page and its config built once
            before = _rss_bytes(proc.pid)
            statuses, t0 = [], time.perf_counter()
            for i in range(count):
                for chunked in kinds:
                    statuses.append(_send_body(port, size, chunked))
            time.sleep(2)  # let the server finish with the last request
            after = _rss_bytes(proc.pid)
            results[label] = {
                "body_limit_bytes": limit if limit < 10**12 else None,
                "requests": len(statuses),
                "statuses": sorted(set(statuses)),
                "rss_before_mb": before / 1e6,
                "rss_after_mb": after / 1e6,
                "rss_growth_mb": (after - before) / 1e6,
                "seconds": time.perf_counter() - t0,
            }
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    results["body_mb"] = big_mb
    return results


def serve_only(port: int, body_limit: int, settings: Settings) -> int:
    """The app alone in this process (for the memory scenario), until the parent stops it."""
    from ui.app import build_app, serve

    app = build_app(Engine.open(settings))
    serve(app, "127.0.0.1", port, block=False, body_limit=body_limit)
    print("ready", flush=True)
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


def markdown(r: dict) -> str:
    lat = r["latency_ms"]

    def fmt(v):
        return "-" if v is None else f"{v:.0f} ms"

    return "\n".join(
        [
            "# Chat app under load",
            "",
            f"{r['users']} simulated users x {r['questions_per_user']} questions each, through the Gradio queue "
            f"(`/chat`, extractive backend, k={r['k']}); {r['chat_concurrency']} answers at a time; "
            f"{r['cpus']} CPUs (load average {r.get('load_average_1min_at_start', 0):.1f} when it started: other "
            f"work shares them), Python {r['python']}.",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| requests submitted / completed | {r['requests_submitted']} / {r['requests_completed']} |",
            f"| dropped or failed | {r['requests_dropped_or_failed']} |",
            f"| answers differing from the same question asked alone | {r['answers_differing_from_alone']} "
            f"({r['answers_with_citations']} of the answers cite spans, the rest abstain) |",
            f"| throughput | {r['throughput_rps']:.2f} answers/s over {r['wall_s']:.1f} s |",
            f"| latency p50 / p95 / max | {fmt(lat['p50'])} / {fmt(lat['p95'])} / {fmt(lat['max'])} |",
            "",
            "Latency is per request as a user sees it: queue wait plus answering plus streaming.",
            "",
            *stall_markdown(r.get("stall")),
            *memory_markdown(r.get("big_bodies")),
        ]
    )


def stall_markdown(st: dict | None) -> list[str]:
    if not st:
        return []

    def fmt(v):
        return "-" if v is None else f"{v:.0f} ms"

    alone, during = st["extractive_alone_ms"], st["extractive_during_stall_ms"]
    return [
        "## Extractive answers while model calls are stalled",
        "",
        f"{st['model_calls_stalled']} chats go to an operator endpoint on 127.0.0.1 that accepts and never replies "
        f"(LLM timeout {st['llm_timeout_s']:g} s); all reached it: {st['stalled_calls_reached_server']}. Then the same "
        f"{during['n']} extractive questions are asked one after another, as before the stall. "
        f"{st['model_calls_still_waiting_after_extractive']} of the stalled chats were still waiting when the last "
        f"extractive answer came back ({st['stall_held_s']:.1f} s into the stall).",
        "",
        "| extractive latency | p50 | p95 | max |",
        "| --- | --- | --- | --- |",
        f"| no stall | {fmt(alone['p50'])} | {fmt(alone['p95'])} | {fmt(alone['max'])} |",
        f"| {st['model_calls_stalled']} model calls stalled | {fmt(during['p50'])} | {fmt(during['p95'])} | "
        f"{fmt(during['max'])} |",
        "",
        f"Extractive answers failed or differing: {st['extractive_failed']}.",
        "",
    ]


def memory_markdown(big: dict | None) -> list[str]:
    if not big:
        return []
    rows = []
    for label, what in (("with_limit", "with the body limit"), ("without_limit", "without it (for comparison)")):
        m = big.get(label)
        if m:
            rows.append(
                f"| {what} | {m['requests']} | {', '.join(m['statuses'])} | {m['rss_before_mb']:.0f} MB | "
                f"{m['rss_after_mb']:.0f} MB | {m['rss_growth_mb']:+.0f} MB |"
            )
    return [
        "## Server memory after big request bodies",
        "",
        f"Requests of {big['body_mb']} MB to `/gradio_api/queue/join`, sent to a server in its own process; "
        "its resident memory (VmRSS) is read before the first and 2 s after the last. With the limit, half "
        "declare their length (refused unread) and half are chunked (refused once past the limit).",
        "",
        "| server | requests | answers | RSS before | RSS after | growth |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--questions", type=int, default=6, help="questions per user")
    parser.add_argument("--max-seconds", type=float, default=300, help="no new requests after this")
    parser.add_argument(
        "--stall-questions", type=int, default=12, help="extractive questions per stall phase (0: skip)"
    )
    parser.add_argument("--big-mb", type=int, default=300, help="size of each big request body (0: skip)")
    parser.add_argument("--big-count", type=int, default=3, help="big bodies of each kind")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "reports" / "latest")
    parser.add_argument("--serve-only", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--body-limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index_dir)
    if args.serve_only:
        return serve_only(args.serve_only, args.body_limit, settings)
    report = run_load(args.users, args.questions, args.max_seconds, args.k, settings)
    if args.stall_questions:
        report["stall"] = run_stall(args.stall_questions, args.k, settings)
    if args.big_mb:
        report["big_bodies"] = run_big_bodies(settings, args.big_mb, args.big_count)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ui_load.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "ui_load.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    bad = report["requests_dropped_or_failed"] or report["answers_differing_from_alone"]
    bad = bad or (report.get("stall") or {}).get("extractive_failed")
    limited = (report.get("big_bodies") or {}).get("with_limit")
    bad = bad or (limited and any(" 413" not in status for status in limited["statuses"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
