"""The CI gate: minimum scores from `eval/thresholds.toml`, checked against a run's summary.

A threshold is `[scope] metric = minimum`, where scope is a gold category, `answerable` or
`all` (scores of the answers, per backend), or `[retrieval.<mode>]` (recall of the retrieval
variants over answerable items). A metric with no value (every row NaN) fails: a gate that
cannot measure must not pass.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import RagError

THRESHOLDS_PATH = Path(__file__).resolve().parent / "thresholds.toml"


class ThresholdsError(RagError):
    """thresholds.toml is missing or malformed."""


@dataclass(frozen=True)
class Threshold:
    scope: str  # "figure", "answerable", "all", ... or "retrieval.hybrid"
    metric: str
    minimum: float


@dataclass(frozen=True)
class GateFailure:
    where: str  # backend name, or "retrieval"
    threshold: Threshold
    value: float | None

    def __str__(self) -> str:
        shown = "no value" if self.value is None else f"{self.value:.3f}"
        return (f"{self.where}: {self.threshold.scope}.{self.threshold.metric} = {shown}, "
                f"below its threshold {self.threshold.minimum:.3f}")


def load_thresholds(path: str | Path = THRESHOLDS_PATH) -> list[Threshold]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ThresholdsError(f"thresholds file {path} does not exist; restore eval/thresholds.toml") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ThresholdsError(f"{path} is not valid TOML ({exc})") from exc
    out = []
    for scope, table in data.items():
        if scope == "retrieval":
            tables = {f"retrieval.{mode}": t for mode, t in table.items()}
        else:
            tables = {scope: table}
        for name, metrics in tables.items():
            if not isinstance(metrics, dict):
                raise ThresholdsError(f"{path}: [{name}] must be a table of metric = minimum")
            for metric, minimum in metrics.items():
                if not isinstance(minimum, (int, float)) or not 0 <= minimum <= 1:
                    raise ThresholdsError(f"{path}: {name}.{metric} must be a number in 0..1, got {minimum!r}")
                out.append(Threshold(name, metric, float(minimum)))
    return out


def _value(table: dict, scope: str, metric: str) -> float | None:
    cell = table.get(scope, {}).get(metric)
    value = cell.get("mean") if isinstance(cell, dict) else cell
    return None if value is None or math.isnan(value) else float(value)


def check(summaries: dict[str, dict], retrieval: list[dict], thresholds: list[Threshold]) -> list[GateFailure]:
    """Every threshold missed, for every backend in `summaries` and for the retrieval rows."""
    by_mode = {f"retrieval.{r['mode']}": {} for r in retrieval}
    for r in retrieval:
        if r["scope"] == "answerable":
            by_mode[f"retrieval.{r['mode']}"] = {"answerable": r}
    failures = []
    for t in thresholds:
        if t.scope.startswith("retrieval."):
            value = _value(by_mode.get(t.scope, {}), "answerable", t.metric)
            if value is None or value < t.minimum - 1e-9:
                failures.append(GateFailure("retrieval", t, value))
            continue
        for backend, summary in summaries.items():
            value = _value(summary, t.scope, t.metric)
            if value is None or value < t.minimum - 1e-9:
                failures.append(GateFailure(backend, t, value))
    return failures
