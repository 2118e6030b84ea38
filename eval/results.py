"""What one `rag eval` run produced: per-backend rows and summaries, retrieval recall, gate failures.

Its own module so that the runner (which fills it) and the report (which renders it) both import
it, and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eval.gate import GateFailure


@dataclass
class BackendRun:
    backend: str
    rows: list[dict]
    summary: dict[str, dict[str, dict]]  # scope -> metric -> {"mean": float | None, "n": int}


@dataclass
class EvalResult:
    config: dict
    runs: list[BackendRun]
    retrieval: list[dict]
    retrieval_quality: list[dict] | None = None
    retrieval_quality_note: str = ""
    # LlamaIndex's CitationQueryEngine beside rag (eval.llama_index_compare), one row per system.
    llama_index: list[dict] | None = None
    llama_index_note: str = ""
    failures: list[GateFailure] = field(default_factory=list)

    @property
    def summaries(self) -> dict[str, dict]:
        return {r.backend: r.summary for r in self.runs}
