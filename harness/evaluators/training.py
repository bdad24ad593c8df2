"""Training capability: did every adapter trained (or brought with its trainer log) in this run actually train?

From each training log (`run.training`: the harness's own adapters, an `--adapter`'s `trainer_state.json`, an
audited run's): the loss ratio (mean of the last tenth of the logged training losses over the mean of the first
tenth; a healthy run falls well below 1, a diverging one stays near or above it) and the steps whose loss was not
finite (a NaN run ends there, see `harness.training.loop`). The gates take the worst adapter; each adapter's
figures are breakdowns, and the evidence names the worst one with its losses and how its training stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue

CAPABILITY = "training"
METRICS = {
    "loss_ratio": MetricSpec(0, math.inf, False, "late training loss / early training loss, worst adapter"),
    "nonfinite_steps": MetricSpec(0, math.inf, False, "logged steps with a NaN or infinite training loss"),
}


def loss_ratio(losses: list[float | None]) -> float:
    """Mean of the last tenth of `losses` over the mean of the first tenth (at least one value each); inf when a
    late loss is not finite, nan with no loss.

    >>> loss_ratio([4.0, 3.0, 2.0, 1.0, 0.5, 0.5, 0.4, 0.4, 0.2, 0.4]), loss_ratio([1.0, None])
    (0.1, inf)
    """
    if not losses:
        return math.nan
    tenth = max(1, len(losses) // 10)
    early, late = losses[:tenth], losses[-tenth:]
    if any(v is None or not math.isfinite(v) for v in late):
        return math.inf
    start = sum(v for v in early if v is not None and math.isfinite(v)) / tenth
    return sum(v for v in late if v is not None) / tenth / start if start > 0 else math.nan


def _figures(name: str, training: Mapping[str, Any]) -> tuple[float, int, str] | None:
    """(loss ratio, non-finite steps, evidence line) of one adapter's log; None without training losses."""
    losses = [row.get("loss") for row in training.get("log", []) if "loss" in row]
    if not losses:
        return None
    nonfinite = sum(v is None or not math.isfinite(v) for v in losses)
    stop = training.get("stop") or {}
    how = f"; stopped: {stop['reason']}" + (f" ({stop['detail']})" if stop.get("detail") else "") if stop else ""
    first = next((v for v in losses if v is not None), None)
    return (loss_ratio(losses), nonfinite,
            f"{name}: loss {first:.4g} -> {losses[-1] if losses[-1] is None else f'{losses[-1]:.4g}'} over "
            f"{len(losses)} logged steps{how}")


NO_LOG = "no training loss log: an --adapter without trainer_state.json, or --tuned-model"


def evaluate(models: None, data: Mapping[str, Mapping[str, Any]], settings: Any = None) -> CapabilityResult:
    """`data` = {adapter name: its training record (`log`, `stop`)}: the worst loss ratio and the non-finite
    steps over every adapter, each adapter's figures as breakdowns; no verdict when no adapter has a loss log."""
    figures = {name: f for name, training in data.items() if (f := _figures(name, training)) is not None}
    if not figures:
        return CapabilityResult([], unmeasured=dict.fromkeys(METRICS, NO_LOG))
    worst = max(figures, key=lambda n: (figures[n][0] if figures[n][0] == figures[n][0] else -1, figures[n][1]))
    nonfinite = sum(f[1] for f in figures.values())
    metrics = [MetricValue(CAPABILITY, "loss_ratio", figures[worst][0], n=len(figures)),
               MetricValue(CAPABILITY, "nonfinite_steps", nonfinite, n=len(figures))]
    metrics += [MetricValue(CAPABILITY, f"{metric}[{name}]", value, n=1) for name, (ratio, bad, _) in figures.items()
                for metric, value in (("loss_ratio", ratio), ("nonfinite_steps", bad))]
    broken = "; ".join(f[2] for f in figures.values() if f[1]) or figures[worst][2]
    return CapabilityResult(metrics, evidence={"loss_ratio": f"worst {figures[worst][2]}", "nonfinite_steps": broken})
