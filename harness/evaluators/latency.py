"""Latency capability: what does the adapter cost at inference time, unmerged and merged?

Greedy generation throughput (new tokens per second, exactly `NEW_TOKENS` per prompt, one batch) and time to
first token (prefill plus one token), for the base view, the tuned (unmerged) view and a merged copy, all
measured in the same run. Rounds interleave the three models so drifting machine load hits them alike;
each round gives a tuned/base and merged/base ratio, the gate value is the median over rounds and the 95%
interval a bootstrap over rounds. A warm-up round is discarded.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.gates import Gate, check_gates
from harness.metrics import bootstrap_ci
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
    """How latency is measured: prompts per batch, tokens generated, timed rounds."""

    prompts: int = 16
    new_tokens: int = 32
    rounds: int = 7

    def __post_init__(self) -> None:
        for key in ("prompts", "new_tokens", "rounds"):
            if getattr(self, key) < 1:
                raise ValueError(f"LatencySettings.{key} must be >= 1, got {getattr(self, key)}")


@dataclass(frozen=True)
class Timings:
    """Seconds per round for each view: `generation[view]` for NEW_TOKENS tokens, `first_token[view]`."""

    settings: LatencySettings
    batch: int
    generation: dict[str, list[float]]
    first_token: dict[str, list[float]]

    def tokens_per_second(self, view: str) -> list[float]:
        """New tokens per second of each round."""
        return [self.batch * self.settings.new_tokens / s for s in self.generation[view]]


def measure_latency(models: Mapping[str, LanguageModel], conversations: Sequence[Conversation],
                    settings: LatencySettings = LatencySettings()) -> Timings:
    """Time batched greedy generation and first-token latency of each view, interleaved, after a warm-up."""
    batch = list(conversations)[: settings.prompts]
    generation: dict[str, list[float]] = {view: [] for view in models}
    first_token: dict[str, list[float]] = {view: [] for view in models}
    for round_no in range(settings.rounds + 1):
        for view, model in models.items():
            gen = model.timed_generate(batch, settings.new_tokens)
            first = model.timed_generate(batch, 1)
            if round_no:  # round 0 warms up kernels and caches
                generation[view].append(gen)
                first_token[view].append(first)
    return Timings(settings, len(batch), generation, first_token)


def _median_ci(values: list[float]) -> tuple[float, float, float, int]:
    """Median of per-round values with a bootstrap 95% interval over rounds."""
    low, high = bootstrap_ci(len(values), lambda idx: statistics.median(values[i] for i in idx))
    return statistics.median(values), low, high, len(values)


def _median_ratio(numerator: list[float], denominator: list[float]) -> tuple[float, float, float, int]:
    """Median of per-round ratios (rounds pair the views in time) with its bootstrap 95% interval."""
    return _median_ci([a / b for a, b in zip(numerator, denominator, strict=True)])


def latency_metrics(timings: Timings) -> list[MetricValue]:
    """Absolute throughput and first-token latency per view, and the gated ratios to the base."""
    out = []
    for view in timings.generation:
        checkpoint = "base" if view == "base" else "tuned"
        prefix = "merged_" if view == "merged" else ""
        out.append(MetricValue(CAPABILITY, f"{prefix}tokens_per_second",
                               *_median_ci(timings.tokens_per_second(view)), checkpoint))
        out.append(MetricValue(CAPABILITY, f"{prefix}ttft_ms",
                               *_median_ci([1000 * s for s in timings.first_token[view]]), checkpoint))
    base_tps = timings.tokens_per_second("base")
    for view, prefix in (("tuned", ""), ("merged", "merged_")):
        if view in timings.generation:
            out.append(MetricValue(CAPABILITY, f"{prefix}throughput_ratio",
                                   *_median_ratio(timings.tokens_per_second(view), base_tps)))
            out.append(MetricValue(CAPABILITY, f"{prefix}ttft_ratio",
                                   *_median_ratio(timings.first_token[view], timings.first_token["base"])))
    return out


def latency_gate_results(timings: Timings, gates: Mapping[str, Gate],
                         metrics: list[MetricValue] | None = None) -> dict[str, GateResult]:
    """Every configured latency gate checked on `metrics`; messages give the absolute figures behind a ratio."""
    metrics = metrics or latency_metrics(timings)
    value = {(m.checkpoint, m.name): m.value for m in metrics}
    s = timings.settings

    def detail(gate: Gate) -> str:
        view = "merged" if gate.metric.startswith("merged_") else "tuned"
        prefix = "merged_" if view == "merged" else ""
        if "ttft" in gate.metric:
            return (f"first token base {value['base', 'ttft_ms']:.1f} ms -> {view} "
                    f"{value['tuned', prefix + 'ttft_ms']:.1f} ms")
        return (f"base {value['base', 'tokens_per_second']:.0f} -> {view} "
                f"{value['tuned', prefix + 'tokens_per_second']:.0f} new tokens/s "
                f"(batch {timings.batch} x {s.new_tokens} tokens, median of {s.rounds} rounds)")

    return check_gates(gates, CAPABILITY, metrics, detail)
