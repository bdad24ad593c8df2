"""Old-task capability: what did the adapter break on the task the base model already knew?

The base task's dev set, base vs tuned (see `accuracy`). Gates: an absolute exact-match floor for the tuned
model, and a maximum paired drop from the base whose message says whether the drop is beyond noise.
"""

from __future__ import annotations

from collections.abc import Mapping

from harness.evaluators.accuracy import (
    ItemResult,
    accuracy_metrics,
    accuracy_samples,
    change_verdict,
    exact_match_change,
)
from harness.gates import Gate, check_gates
from harness.results import GateResult, MetricSpec, MetricValue, Sample

CAPABILITY = "old_task"
METRICS = {
    "exact_match": MetricSpec(0, 1, True, "tuned model's exact match on the base task's dev set"),
    "token_f1": MetricSpec(0, 1, True, "tuned model's mean token F1 on the base task's dev set"),
    "exact_match_drop": MetricSpec(-1, 1, False, "base exact match minus tuned exact match, same items"),
}


def old_task_metrics(results: list[ItemResult]) -> list[MetricValue]:
    """EM and token F1 for base and tuned (overall and per group), and the paired EM drop."""
    return [*accuracy_metrics(CAPABILITY, results), exact_match_change(CAPABILITY, "exact_match_drop", results, -1)]


def drop_verdict(results: list[ItemResult]) -> str:
    """'N items lost, M gained, McNemar p=...: beyond noise | within noise' (noise judged for a loss)."""
    return change_verdict(results, expect_gain=False)


def old_task_gate_results(results: list[ItemResult], gates: Mapping[str, Gate],
                          metrics: list[MetricValue] | None = None) -> dict[str, GateResult]:
    """Every configured old-task gate checked on `metrics` (computed from `results` if not given), by gate id;
    messages carry the McNemar noise verdict."""
    verdict = drop_verdict(results)
    return check_gates(gates, CAPABILITY, metrics or old_task_metrics(results), lambda gate: verdict)


def old_task_samples(results: list[ItemResult]) -> list[Sample]:
    """Before/after rows; an item counts as passed unless the tuned model lost it."""
    return accuracy_samples(CAPABILITY, results, lambda r: r.tuned_correct or not r.base_correct)
