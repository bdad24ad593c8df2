"""Latency capability: what the adapter costs at inference time, unmerged and merged, against the base.

Throughput and time to first token of every view are measured in interleaved rounds and estimated from each
view's fastest half, on one thread and in CPU time on CPU, because a shared machine's load only ever slows a round
down: that is what lets the gate survive a busy runner and still catch a real slowdown (docs/capabilities.md
lists the whole procedure). A FAIL is re-measured once; the prompt-only baseline, when given, is a fourth view
that is reported, not gated.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from harness.foundation.cpu import single_thread
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue
from harness.measures.statistics import fast_half_mean_ci, ratio_ci
from harness.model.protocol import Conversation, LanguageModel
from harness.model.sets import LatencyViews

CAPABILITY = "latency"
INF = float("inf")
METRICS = {
    "throughput_ratio": MetricSpec(0, INF, True, "tuned (unmerged) / base new tokens per second"),
    "merged_throughput_ratio": MetricSpec(0, INF, True, "merged / base new tokens per second"),
    "ttft_ratio": MetricSpec(0, INF, False, "tuned (unmerged) / base time to first token"),
    "merged_ttft_ratio": MetricSpec(0, INF, False, "merged / base time to first token"),
}
VIEWS = {"base": ("base", ""), "tuned": ("tuned", ""), "merged": ("tuned", "merged_"),
         "prompted": ("prompted", "")}  # view -> (checkpoint, metric-name prefix) of its figures


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
    return all(m.ci_high is not None and m.ci_low is not None
               and (m.ci_high - m.ci_low) <= timings.settings.target_ci * m.value
               for m in _ratio_metrics(timings) if m.checkpoint == "tuned")


def _ratio_metrics(timings: Timings) -> list[MetricValue]:
    out = []
    for view in timings.generation:
        if view != "base":
            checkpoint, prefix = VIEWS[view]
            # throughput ratio = base seconds / view seconds
            out.append(MetricValue(CAPABILITY, f"{prefix}throughput_ratio",
                                   *ratio_ci(timings.generation["base"], timings.generation[view]), checkpoint))
            out.append(MetricValue(CAPABILITY, f"{prefix}ttft_ratio",
                                   *ratio_ci(timings.first_token[view], timings.first_token["base"]), checkpoint))
    return out


def latency_metrics(timings: Timings) -> list[MetricValue]:
    """Absolute throughput and first-token latency per view, and the gated ratios to the base."""
    out = []
    for view in timings.generation:
        checkpoint, prefix = VIEWS[view]
        out.append(MetricValue(CAPABILITY, f"{prefix}tokens_per_second",
                               *fast_half_mean_ci(timings.tokens_per_second(view)), checkpoint))
        out.append(MetricValue(CAPABILITY, f"{prefix}ttft_ms",
                               *fast_half_mean_ci([1000 * s for s in timings.first_token[view]]), checkpoint))
    return out + _ratio_metrics(timings)


def latency_evidence(timings: Timings, metrics: Sequence[MetricValue]) -> dict[str, str]:
    """The absolute figures behind each gated ratio, by metric name."""
    value = {(m.checkpoint, m.name): m.value for m in metrics}
    rounds = f"fastest half of {timings.rounds} rounds"
    out = {}
    for metric in METRICS:
        view = "merged" if metric.startswith("merged_") else "tuned"
        prefix = "merged_" if view == "merged" else ""
        if ("tuned", prefix + "ttft_ms") not in value:  # a view that was not timed
            continue
        if "ttft" in metric:
            out[metric] = (f"first token base {value['base', 'ttft_ms']:.2f} ms -> {view} "
                           f"{value['tuned', prefix + 'ttft_ms']:.2f} ms ({rounds}, {timings.repeats} repeats each)")
        else:
            out[metric] = (f"base {value['base', 'tokens_per_second']:.0f} -> {view} "
                           f"{value['tuned', prefix + 'tokens_per_second']:.0f} new tokens/s "
                           f"(batch {timings.batch} x {timings.settings.new_tokens} tokens, {rounds})")
        if ("prompted", "ttft_ms") in value and not metric.startswith("merged_"):
            out[metric] += ("; the prompted base: " + (f"{value['prompted', 'ttft_ms']:.2f} ms first token"
                            if "ttft" in metric else f"{value['prompted', 'tokens_per_second']:.0f} new tokens/s"))
    return out


def timings_result(timings: Timings) -> CapabilityResult:
    """The latency metrics of one measurement, with the absolute figures behind each ratio as evidence."""
    metrics = latency_metrics(timings)
    return CapabilityResult(metrics, evidence=latency_evidence(timings, metrics), details=timings)


def evaluate(models: LatencyViews, data: Sequence[Conversation], settings: Any = None,
             how: LatencySettings = LatencySettings()) -> CapabilityResult:
    """Time every view of `models` on the prompts of `data`."""
    return timings_result(measure_latency(models.named(), data, how))
