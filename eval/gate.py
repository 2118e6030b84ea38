"""The CI gate: minimum (and maximum) scores from `eval/thresholds.toml`, checked against a
run's summary.

A threshold is `[scope] metric = minimum`, where scope is a gold category, a group scope
(`answerable`, `answerable_all`, `unanswerable_offtopic`) or `all` (scores of the answers, per
backend), or `[retrieval.<mode>]` (recall of the retrieval variants over answerable items).
A metric where lower is better (`wrong_speaker`) is held by `[max.<scope>] metric = maximum`.
A metric with no value (every row NaN) fails: a gate that cannot measure must not pass.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from index.errors import RagError

THRESHOLDS_PATH = Path(__file__).resolve().parent / "thresholds.toml"


class ThresholdsError(RagError):
    """thresholds.toml is missing or malformed."""


@dataclass(frozen=True)
class Threshold:
    scope: str  # "figure", "answerable", "all", ... or "retrieval.hybrid"
    metric: str
    limit: float
    kind: str = "min"  # "min": the value must be >= limit; "max": <= limit ([max.<scope>] tables)

    @property
    def minimum(self) -> float:
        """The bound, under its historical name (for a "max" threshold it is the maximum)."""
        return self.limit

    def missed_by(self, value: float | None) -> bool:
        if value is None:
            return True
        return value > self.limit + 1e-9 if self.kind == "max" else value < self.limit - 1e-9

    @property
    def label(self) -> str:
        return f"max.{self.scope}" if self.kind == "max" else self.scope


@dataclass(frozen=True)
class GateFailure:
    where: str  # backend name, or "retrieval"
    threshold: Threshold
    value: float | None

    def __str__(self) -> str:
        shown = "no value" if self.value is None else f"{self.value:.3f}"
        side = "above its maximum" if self.threshold.kind == "max" else "below its threshold"
        return (
            f"{self.where}: {self.threshold.scope}.{self.threshold.metric} = {shown}, {side} {self.threshold.limit:.3f}"
        )


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
        kind = "min"
        if scope == "retrieval" and isinstance(table, dict):
            tables = {f"retrieval.{mode}": t for mode, t in table.items()}
        elif scope == "max" and isinstance(table, dict):
            kind, tables = "max", dict(table)
            if any(name.startswith("retrieval") for name in tables):
                raise ThresholdsError(f"{path}: [max.retrieval...] is not supported; retrieval recall takes minimums")
        else:
            tables = {scope: table}
        for name, metrics in tables.items():
            shown = f"max.{name}" if kind == "max" else name
            if not isinstance(metrics, dict):
                raise ThresholdsError(
                    f"{path}: [{shown}] must be a table of metric = {'maximum' if kind == 'max' else 'minimum'}"
                )
            for metric, limit in metrics.items():
                if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 <= limit <= 1:
                    raise ThresholdsError(f"{path}: {shown}.{metric} must be a number in 0..1, got {limit!r}")
                out.append(Threshold(name, metric, float(limit), kind))
    return out


def _value(table: dict, scope: str, metric: str) -> float | None:
    cell = table.get(scope, {}).get(metric)
    value = cell.get("mean") if isinstance(cell, dict) else cell
    return None if value is None or math.isnan(value) else float(value)


def check(summaries: dict[str, dict], retrieval: list[dict], thresholds: list[Threshold]) -> list[GateFailure]:
    """Every threshold missed, for every backend in `summaries` and for the retrieval rows."""
    by_mode: dict[str, dict] = {f"retrieval.{r['mode']}": {} for r in retrieval}
    for r in retrieval:
        if r["scope"] == "answerable":
            by_mode[f"retrieval.{r['mode']}"] = {"answerable": r}
    failures = []
    for t in thresholds:
        if t.scope.startswith("retrieval."):
            value = _value(by_mode.get(t.scope, {}), "answerable", t.metric)
            if t.missed_by(value):
                failures.append(GateFailure("retrieval", t, value))
            continue
        for backend, summary in summaries.items():
            value = _value(summary, t.scope, t.metric)
            if t.missed_by(value):
                failures.append(GateFailure(backend, t, value))
    return failures
