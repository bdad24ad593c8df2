"""Latency capability: what does the adapter cost at inference time, unmerged and merged?

Greedy generation throughput (new tokens per second, exactly `new_tokens` per prompt, one batch) and time to
first token (prefill plus one token), for the base view, the tuned (unmerged) view and a merged copy, all
measured in the same run, built to survive a busy shared machine:

* every timing lasts long enough to measure: the first-token step is repeated until one timing takes at least
  `min_unit_s`;
* rounds interleave the views (in a rotating order), so drifting load hits them alike;
* the estimator is the mean of each view's fastest half of rounds (load bursts only ever slow a round down),
  and a gated ratio is the ratio of those means, with a bootstrap 95% CI over rounds;
* rounds continue past `min_rounds` until every ratio's CI is narrow or the time budget is spent;
* on CPU the timing runs on one thread (an oversubscribed core cannot stall a thread barrier) and reads the
  process's CPU time, which other processes competing for the cores do not inflate (on a GPU: wall time,
  synchronised);
* a FAIL is re-measured once; only a failure that the re-measurement confirms counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from harness.cpu import single_thread
from harness.gates import Gate, check_gates
from harness.metrics import bootstrap_draws, percentile_interval
from harness.model.lm import Conversation, LanguageModel
from harness.results import GateResult, MetricSpec, MetricValue

CAPABILITY = "latency"
INF = float("inf")
METRICS = {
    "throughput_ratio": MetricSpec(0, INF, True, "tuned (unmerged) / base new tokens per second"),
    "merged_throughput_ratio": MetricSpec(0, INF, True, "merged / base new tokens per second"),
    "ttft_ratio": MetricSpec(0, INF, False, "tuned (unmerged) / base time to first token"),
    "merged_ttft_ratio": MetricSpec(0, INF, False, "merged / base time to first token"),
}
VIEWS = ("base", "tuned", "merged")


@dataclass(frozen=True)
class LatencySettings:
    """How latency is measured: prompts per batch, tokens generated, rounds, and when to stop."""

    prompts: int = 16
    new_tokens: int = 16
    min_rounds: int = 5
    max_rounds: int = 30
    budget_s: float = 3.0
    min_unit_s: float = 0.03
    target_ci: float = 0.15  # stop early once every ratio's 95% CI is narrower than this, relative to the ratio

    def __post_init__(self) -> None:
        for key in ("prompts", "new_tokens", "min_rounds", "max_rounds", "budget_s", "min_unit_s", "target_ci"):
            if not getattr(self, key) > 0:
                raise ValueError(f"LatencySettings.{key} must be > 0, got {getattr(self, key)}")
        if self.max_rounds < self.min_rounds:
            raise ValueError(f"LatencySettings.max_rounds ({self.max_rounds}) must be >= min_rounds "
                             f"({self.min_rounds})")


@dataclass(frozen=True)
class Timings:
    """Seconds per round for each view: `generation[view]` for `new_tokens` tokens, `first_token[view]`."""

    settings: LatencySettings
    batch: int
    generation: dict[str, list[float]]
    first_token: dict[str, list[float]]
    repeats: int = 1

    @property
    def rounds(self) -> int:
        """Timed rounds (every view has one timing per round)."""
        return len(next(iter(self.generation.values())))

    def tokens_per_second(self, view: str) -> list[float]:
        """New tokens per second of each round."""
        return [self.batch * self.settings.new_tokens / s for s in self.generation[view]]


def fast_half_mean(values: Sequence[float]) -> float:
    """Mean of the fastest (smallest) half of the values: load bursts only add time, so this ignores them.

    >>> fast_half_mean([1.0, 1.2, 9.0, 1.1])
    1.05
    """
    ordered = sorted(values)
    keep = ordered[: max(1, math.ceil(len(ordered) / 2))]
    return float(sum(keep) / len(keep))


def _fast_half_means(rows: np.ndarray) -> np.ndarray:
    """fast_half_mean of every row of a 2-D array at once."""
    keep = max(1, math.ceil(rows.shape[1] / 2))
    return np.sort(rows, axis=1)[:, :keep].mean(axis=1)


def _resampled_fast_half_means(values: np.ndarray, resamples: int = 500) -> np.ndarray:
    """fast_half_mean of each bootstrap resample of rounds (the same seeded draws for every view, so ratios of
    two views stay paired by round)."""
    return _fast_half_means(values[bootstrap_draws(len(values), resamples)])


def ratio_ci(numerator: Sequence[float], denominator: Sequence[float]) -> tuple[float, float, float, int]:
    """fast_half_mean(numerator) / fast_half_mean(denominator) with a bootstrap 95% CI over paired rounds."""
    top, bottom = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    low, high = percentile_interval(_resampled_fast_half_means(top) / _resampled_fast_half_means(bottom))
    return fast_half_mean(top) / fast_half_mean(bottom), low, high, len(top)


def measure_latency(models: Mapping[str, LanguageModel], conversations: Sequence[Conversation],
                    settings: LatencySettings = LatencySettings()) -> Timings:
    """Time batched greedy generation and first-token latency of each view in interleaved rounds after a warm-up,
    until the ratios' CIs are narrow, `max_rounds` or the time budget is reached (never below `min_rounds`)."""
    batch = list(conversations)[: settings.prompts]
    views = list(models)
    on_cpu = all(m.device.type == "cpu" for m in models.values())
    with single_thread(on_cpu):
        timed = {v: partial(models[v].timed_generate, batch, cpu_time=on_cpu) for v in views}
        for view in views:  # warm-up: kernels, allocator, caches
            timed[view](settings.new_tokens)
        single = min(timed[v](1) for v in views)
        repeats = max(1, math.ceil(settings.min_unit_s / max(single, 1e-6)))
        generation: dict[str, list[float]] = {v: [] for v in views}
        first_token: dict[str, list[float]] = {v: [] for v in views}
        started = time.perf_counter()
        for round_no in range(settings.max_rounds):
            for view in views[round_no % len(views):] + views[:round_no % len(views)]:
                generation[view].append(timed[view](settings.new_tokens))
                first_token[view].append(timed[view](1, repeats))
            timings = Timings(settings, len(batch), generation, first_token, repeats)
            if round_no + 1 >= settings.min_rounds and (time.perf_counter() - started > settings.budget_s
                                                        or _narrow(timings)):
                break
    return timings


def _narrow(timings: Timings) -> bool:
    """Every gated ratio's 95% CI narrower than `target_ci` relative to its value."""
    return all((m.ci_high - m.ci_low) <= timings.settings.target_ci * m.value for m in _ratio_metrics(timings))


def _ratio_metrics(timings: Timings) -> list[MetricValue]:
    out = []
    for view, prefix in (("tuned", ""), ("merged", "merged_")):
        if view in timings.generation:
            # throughput ratio = base seconds / view seconds
            out.append(MetricValue(CAPABILITY, f"{prefix}throughput_ratio",
                                   *ratio_ci(timings.generation["base"], timings.generation[view])))
            out.append(MetricValue(CAPABILITY, f"{prefix}ttft_ratio",
                                   *ratio_ci(timings.first_token[view], timings.first_token["base"])))
    return out


def _location(values: list[float]) -> tuple[float, float, float, int]:
    """fast_half_mean of per-round values with a bootstrap 95% CI over rounds."""
    low, high = percentile_interval(_resampled_fast_half_means(np.asarray(values, dtype=float)))
    return fast_half_mean(values), low, high, len(values)


def latency_metrics(timings: Timings) -> list[MetricValue]:
    """Absolute throughput and first-token latency per view, and the gated ratios to the base."""
    out = []
    for view in timings.generation:
        checkpoint = "base" if view == "base" else "tuned"
        prefix = "merged_" if view == "merged" else ""
        out.append(MetricValue(CAPABILITY, f"{prefix}tokens_per_second",
                               *_location(timings.tokens_per_second(view)), checkpoint))
        out.append(MetricValue(CAPABILITY, f"{prefix}ttft_ms",
                               *_location([1000 * s for s in timings.first_token[view]]), checkpoint))
    return out + _ratio_metrics(timings)


def latency_gate_results(timings: Timings, gates: Mapping[str, Gate],
                         metrics: list[MetricValue] | None = None) -> dict[str, GateResult]:
    """Every configured latency gate checked on `metrics`; messages give the absolute figures behind a ratio."""
    metrics = metrics or latency_metrics(timings)
    value = {(m.checkpoint, m.name): m.value for m in metrics}
    s = timings.settings

    def detail(gate: Gate) -> str:
        view = "merged" if gate.metric.startswith("merged_") else "tuned"
        prefix = "merged_" if view == "merged" else ""
        rounds = f"fastest half of {timings.rounds} rounds"
        if "ttft" in gate.metric:
            return (f"first token base {value['base', 'ttft_ms']:.2f} ms -> {view} "
                    f"{value['tuned', prefix + 'ttft_ms']:.2f} ms ({rounds}, {timings.repeats} repeats each)")
        return (f"base {value['base', 'tokens_per_second']:.0f} -> {view} "
                f"{value['tuned', prefix + 'tokens_per_second']:.0f} new tokens/s "
                f"(batch {timings.batch} x {s.new_tokens} tokens, {rounds})")

    return check_gates(gates, CAPABILITY, metrics, detail)


def judge_latency(measure: Callable[[], Timings], gates: Mapping[str, Gate]
                  ) -> tuple[list[MetricValue], dict[str, GateResult]]:
    """Measure and check the gates; when any fails, measure once more: a gate FAILS only when the re-measurement
    confirms it, and a gate that passed the first measurement keeps that verdict. Returns the metrics of the
    measurement that decided (the re-measurement, when there was one) and the verdicts."""
    metrics = latency_metrics(timings := measure())
    first = latency_gate_results(timings, gates, metrics)
    if all(v.passed for v in first.values()):
        return metrics, first
    metrics = latency_metrics(timings := measure())
    again = latency_gate_results(timings, gates, metrics)
    verdicts = {}
    for gid, verdict in first.items():
        if verdict.passed:
            verdicts[gid] = verdict
            continue
        outcome = "confirmed the FAIL" if not again[gid].passed else "passed"
        note = f"re-measured after a first FAIL at {verdict.value:.4g}: the re-measurement {outcome}"
        verdicts[gid] = replace(again[gid], message=f"{again[gid].message}; {note}")
    return metrics, verdicts
