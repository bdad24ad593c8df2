"""Adapter-health capability: the checks practitioners run on a LoRA adapter before trusting its numbers.

Activations (entropy and rate of the `lora_A` outputs per layer), weights (finite, no dead layer, effective rank,
sizes), whether the adapter is applied at all, and merge parity (docs/capabilities.md has each one). Sizes are
judged relative to the adapter's own median layer and to peft's initialisation norm, never as raw ratios: how far a
fine-tune may move a weight depends on that weight's scale, which differs between pretrained and small models.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch

from harness.data import Example
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue, Sample
from harness.measures.lora_metrics import activation_entropy, activation_rate, effective_rank, update_ratio
from harness.measures.statistics import mean_ci, rate
from harness.model.lora_layers import LoraLayer
from harness.model.protocol import InspectableModel
from harness.model.sets import HealthModels

CAPABILITY = "adapter_health"
INF = math.inf
METRICS = {
    "nonfinite_layers": MetricSpec(0, INF, False, "LoRA layers with NaN or Inf in A or B"),
    "dead_layers": MetricSpec(0, INF, False, "LoRA layers whose B is all zeros (adapter contributes nothing)"),
    "max_update_ratio": MetricSpec(0, INF, False, "largest ||dW||_F / ||W||_F over layers (reported)"),
    "update_ratio_spread": MetricSpec(1, INF, False, "largest layer's ||dW||/||W|| over the median layer's"),
    "max_a_growth": MetricSpec(0, INF, False, "largest ||A||_F over its expected norm at initialisation"),
    "min_effective_rank": MetricSpec(0, INF, True, "smallest effective rank of B@A over layers"),
    "min_activation_entropy": MetricSpec(0, 1, True, "smallest per-layer activation entropy / ln r"),
    "min_activation_rate": MetricSpec(0, 1, True, "smallest per-layer fraction of non-zero activations"),
    "loglik_shift": MetricSpec(0, INF, True, "mean |tuned - base| per-token log-likelihood of the tuned answers"),
    "merge_logit_rel_diff": MetricSpec(0, INF, False, "max |merged - unmerged logit| / max |unmerged logit|"),
    "merge_output_agreement": MetricSpec(0, 1, True, "fraction of greedy answers unchanged by merging"),
}
PER_LAYER = ("update_ratio", "a_growth", "effective_rank", "activation_entropy", "activation_rate")
PARITY_LOGIT_ITEMS = 64


@dataclass(frozen=True)
class LayerHealth:
    """The health figures of one LoRA layer."""

    name: str
    rank: int
    nonfinite: str
    dead: bool
    update_ratio: float
    a_growth: float | None  # None where the init scheme has no fixed scale
    effective_rank: float
    activation_entropy: float
    activation_rate: float


@dataclass(frozen=True)
class HealthReport:
    """Everything the adapter-health gates look at."""

    layers: list[LayerHealth]
    base_logprob: list[float]
    tuned_logprob: list[float]
    merge_logit_rel_diff: float
    merge_changed: list[str]
    merge_items: int


def layer_health(layer: LoraLayer, activations: torch.Tensor) -> LayerHealth:
    """Weight and activation figures of one layer (`activations`: its real tokens x r)."""
    nonfinite = ",".join(name for name, w in (("A", layer.A), ("B", layer.B)) if not bool(torch.isfinite(w).all()))
    delta, initial = layer.delta(), layer.initial_a_norm()
    growth = None if initial is None else float(torch.linalg.matrix_norm(layer.A.double())) / initial
    return LayerHealth(layer.name, layer.rank, nonfinite, bool((layer.B == 0).all()),
                       update_ratio(delta, layer.base_weight), growth, effective_rank(delta),
                       activation_entropy(activations), activation_rate(activations))


def measure_health(base: InspectableModel, tuned: InspectableModel, merged: InspectableModel,
                   examples: list[Example]) -> HealthReport:
    """Run every health check on the tuned model (unmerged), its base view and its merged copy."""
    layers = tuned.lora_layers()
    if not layers:
        raise ValueError(f"{tuned.name}: the model has no LoRA layers to check")
    activations = tuned.lora_activations(examples)
    health = [layer_health(layer, activations[layer.name]) for layer in layers]
    prompts = [ex.messages for ex in examples]
    tuned_texts = tuned.generate(prompts)
    answers = [replace(ex, answer=text) for ex, text in zip(examples, tuned_texts, strict=True)]
    base_lp, tuned_lp = base.loglikelihood(answers), tuned.loglikelihood(answers)
    subset = answers[:PARITY_LOGIT_ITEMS]
    unmerged_logits, merged_logits = tuned.answer_logits(subset), merged.answer_logits(subset)
    diff = max(float((m - u).abs().max()) for m, u in zip(merged_logits, unmerged_logits, strict=True))
    scale = max(float(u.abs().max()) for u in unmerged_logits)
    changed = [ex.id for ex, a, b in zip(examples, tuned_texts, merged.generate(prompts), strict=True)
               if a != b]
    return HealthReport(health, [lp / n for lp, n in base_lp], [lp / n for lp, n in tuned_lp],
                        diff / scale if scale else math.nan, changed, len(examples))


def _extreme(values: list[float], pick: Callable) -> float:
    """min/max over layers, NaN when any layer's value is NaN (a non-finite layer must not hide)."""
    return math.nan if any(math.isnan(v) for v in values) else pick(values)


def spread(values: list[float]) -> float:
    """max / median: how far the largest value stands out from a typical one (NaN when the median is 0 or any
    value is NaN).

    >>> spread([1.0, 2.0, 6.0])
    3.0
    """
    middle = statistics.median(values) if values else math.nan
    return _extreme(values, max) / middle if middle > 0 else math.nan


def measured_growth(layers: list[LayerHealth]) -> list[float]:
    """The A-growth of every layer whose init scheme fixes a scale."""
    return [h.a_growth for h in layers if h.a_growth is not None]


def health_metrics(report: HealthReport) -> list[MetricValue]:
    """Gateable summaries, per-layer figures, and base vs tuned mean answer log-probability."""
    layers = report.layers
    growth, ratios = measured_growth(layers), [h.update_ratio for h in layers]

    def tuned(name: str, value: float, n: int | None = len(layers)) -> MetricValue:
        return MetricValue(CAPABILITY, name, value, n=n)

    shift = mean_ci([abs(t - b) for t, b in zip(report.tuned_logprob, report.base_logprob, strict=True)])
    agree = rate([True] * (report.merge_items - len(report.merge_changed)) + [False] * len(report.merge_changed))
    out = [tuned("nonfinite_layers", sum(bool(h.nonfinite) for h in layers)),
           tuned("dead_layers", sum(h.dead for h in layers)),
           tuned("max_update_ratio", _extreme(ratios, max)),
           tuned("update_ratio_spread", spread(ratios)),
           tuned("max_a_growth", _extreme(growth, max) if growth else math.nan, len(growth)),
           tuned("min_effective_rank", _extreme([h.effective_rank for h in layers], min)),
           tuned("min_activation_entropy", _extreme([h.activation_entropy for h in layers], min)),
           tuned("min_activation_rate", _extreme([h.activation_rate for h in layers], min)),
           MetricValue(CAPABILITY, "loglik_shift", *shift),
           tuned("merge_logit_rel_diff", report.merge_logit_rel_diff, min(report.merge_items, PARITY_LOGIT_ITEMS)),
           MetricValue(CAPABILITY, "merge_output_agreement", *agree)]
    out += [MetricValue(CAPABILITY, "answer_logprob_per_token", *mean_ci(lp), checkpoint=checkpoint)
            for checkpoint, lp in (("base", report.base_logprob), ("tuned", report.tuned_logprob))]
    out += [tuned(f"{figure}[{h.name}]", getattr(h, figure), None) for h in layers for figure in PER_LAYER
            if getattr(h, figure) is not None]
    return out


def _worst_layer(layers: list[LayerHealth], figure: str, largest: bool) -> LayerHealth:
    """The first layer whose `figure` is NaN, else the one with the largest / smallest value."""
    layers = [h for h in layers if getattr(h, figure) is not None]
    broken = [h for h in layers if math.isnan(getattr(h, figure))]
    return broken[0] if broken else (max if largest else min)(layers, key=lambda h: getattr(h, figure))


def health_detail(report: HealthReport, metric: str) -> str:
    """The evidence behind a health gate: the layers at fault, or the answers a merge changed."""
    layers = report.layers
    if metric == "nonfinite_layers":
        bad = [f"{h.name} ({h.nonfinite})" for h in layers if h.nonfinite]
        return f"non-finite weights in {', '.join(bad)}" if bad else "all weights finite"
    if metric == "dead_layers":
        dead = [h.name for h in layers if h.dead]
        return f"B is all zeros in {len(dead)} layers: {', '.join(dead[:6])}" if dead else "no dead layer"
    if metric == "update_ratio_spread":
        worst = _worst_layer(layers, "update_ratio", largest=True)
        middle = statistics.median(h.update_ratio for h in layers)
        return f"largest layer {worst.name}: {worst.update_ratio:.4g} against the median layer's {middle:.4g}"
    if metric == "max_a_growth" and not measured_growth(layers):
        return ("the adapter's init scheme derives A from the weights or data (no fixed initial scale): "
                "set adapter_health.max_a_growth = \"off\" for it")
    if metric.startswith(("min_", "max_")):
        worst = _worst_layer(layers, metric[4:], largest=metric.startswith("max_"))
        return f"worst layer {worst.name}: {getattr(worst, metric[4:]):.4g}"
    if metric.startswith("merge_"):
        return (f"{len(report.merge_changed)} of {report.merge_items} greedy answers changed by merging"
                + (f": {', '.join(report.merge_changed[:5])}" if report.merge_changed else ""))
    return "identical scores mean the adapter is not applied" if metric == "loglik_shift" else ""


def evaluate(models: HealthModels, data: list[Example], settings: Any = None) -> CapabilityResult:
    """Base, tuned and the merged copy of tuned on the examples of `data`: every health figure, and the layers or
    answers at fault as each gate's evidence."""
    report = measure_health(models.base, models.tuned, models.merged, data)
    return CapabilityResult(health_metrics(report), layer_samples(report.layers),
                            evidence={m: health_detail(report, m) for m in METRICS}, details=report)


def layer_samples(layers: list[LayerHealth]) -> list[Sample]:
    """One row per LoRA layer: its figures, and its part in each per-layer gate (see `harness.measures.item_gates`): the
    layer's own entropy, rank, A growth and update ratio over the median layer's, finite and alive or not."""
    if not layers:
        return []
    middle = statistics.median(h.update_ratio for h in layers) or math.nan
    samples = []
    for h in layers:
        parts = {"nonfinite_layers": not h.nonfinite, "dead_layers": not h.dead,
                 "update_ratio_spread": h.update_ratio / middle, "min_effective_rank": h.effective_rank,
                 "min_activation_entropy": h.activation_entropy, "min_activation_rate": h.activation_rate}
        if h.a_growth is not None:
            parts["max_a_growth"] = h.a_growth
        figures = {figure: round(getattr(h, figure), 4) for figure in PER_LAYER if getattr(h, figure) is not None}
        samples.append(Sample(CAPABILITY, h.name, "", "", "", "", {"type": "layer", "gates": parts,
                                                                   "figures": figures}))
    return samples
