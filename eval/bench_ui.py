"""Load on the chat app: N simulated users asking at once through the real Gradio queue.

Starts the app on a free 127.0.0.1 port, then each user (its own `gradio_client` session) asks
questions from the dev and gold sets through the `/chat` endpoint, the same path the browser
uses. Bounded: at most users x questions requests, and no new request after `--max-seconds`.
Reports throughput, latency percentiles, and that nothing was dropped: every request submitted
must come back, with the same cited spans the engine gives when asked alone (a race between
concurrent answers would show up as a mismatch).

    python -m eval.bench_ui [--users 8] [--questions 6] [--max-seconds 300] [--out eval/reports/latest]

Exit status 1 when a request was dropped, failed or answered differently.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import index.offline  # noqa: F401
from eval.bench import percentile, questions
from rag import Engine, Settings
from rag.conversation import is_follow_up

HERE = Path(__file__).resolve().parent
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
    from ui.app import CHAT_CONCURRENCY, build_app, serve

    engine = Engine.open(settings)
    pool = [q for q in dict.fromkeys(questions()) if not is_follow_up(q)]
    expected = {q: [(c.source, c.start, c.end) for c in engine.ask(q, k=k).citations] for q in pool}
    app = build_app(engine)
    url = serve(app, "127.0.0.1", free_port(), block=False)
    run = Run()
    plans = [[pool[(u * per_user + i) % len(pool)] for i in range(per_user)] for u in range(users)]
    deadline = time.monotonic() + max_seconds
    t0 = time.perf_counter()
    threads = [threading.Thread(target=simulate_user, args=(url, u, plans[u], expected, deadline, k, run))
               for u in range(users)]
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
        "chat_concurrency": CHAT_CONCURRENCY,
        "cpus": os.cpu_count(),
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


def markdown(r: dict) -> str:
    lat = r["latency_ms"]
    fmt = lambda v: "-" if v is None else f"{v:.0f} ms"  # noqa: E731
    return "\n".join([
        "# Chat app under load",
        "",
        f"{r['users']} simulated users x {r['questions_per_user']} questions each, through the Gradio queue "
        f"(`/chat`, extractive backend, k={r['k']}); {r['chat_concurrency']} answers at a time; "
        f"{r['cpus']} CPUs, Python {r['python']}.",
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
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--questions", type=int, default=6, help="questions per user")
    parser.add_argument("--max-seconds", type=float, default=300, help="no new requests after this")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "reports" / "latest")
    args = parser.parse_args(argv)
    settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index_dir)
    report = run_load(args.users, args.questions, args.max_seconds, args.k, settings)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ui_load.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "ui_load.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    bad = report["requests_dropped_or_failed"] or report["answers_differing_from_alone"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
