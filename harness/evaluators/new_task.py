"""New-task capability: did the adapter learn the task it was trained on?

The adapter under test is evaluated on the newest increment's dev set (`fixtures/tasks/increment_N`, the
highest N), base vs tuned (see `accuracy`); on the built-in model that adapter is the gated sequence's last
stage, the one trained on that increment. Gates: an absolute exact-match floor for the tuned model, and a
minimum paired gain over the base whose message says whether the gain is beyond noise.
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

CAPABILITY = "new_task"
METRICS = {
    "exact_match": MetricSpec(0, 1, True, "tuned model's exact match on the new task's dev set"),
    "token_f1": MetricSpec(0, 1, True, "tuned model's mean token F1 on the new task's dev set"),
    "exact_match_gain": MetricSpec(-1, 1, True, "tuned exact match minus base exact match, same items"),
}


def new_task_metrics(results: list[ItemResult]) -> list[MetricValue]:
    """EM and token F1 for base and tuned (overall and per group), and the paired EM gain."""
    return [*accuracy_metrics(CAPABILITY, results), exact_match_change(CAPABILITY, "exact_match_gain", results, 1)]


def new_task_gate_results(results: list[ItemResult], gates: Mapping[str, Gate],
                          metrics: list[MetricValue] | None = None) -> dict[str, GateResult]:
    """Every configured new-task gate checked on `metrics` (computed from `results` if not given), by gate id;
    messages carry the McNemar verdict on the gain."""
    verdict = change_verdict(results, expect_gain=True)
    return check_gates(gates, CAPABILITY, metrics or new_task_metrics(results), lambda gate: verdict)


def new_task_samples(results: list[ItemResult]) -> list[Sample]:
    """Before/after rows; an item counts as passed when the tuned model answers it exactly."""
    return accuracy_samples(CAPABILITY, results, lambda r: r.tuned_correct)
