"""Old-task capability: what did the adapter break on the task the base model already knew?

Base and tuned model answer the same dev items (batched greedy generation). Accuracy is exact match and
token F1, overall and per (category, language). The drop from base to tuned is a paired comparison on the same
items: a bootstrap 95% interval of the difference and an exact McNemar test say whether it is beyond noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.data import Example
from harness.metrics import exact_match, mcnemar_exact_p, paired_bootstrap_ci, rate, token_f1
from harness.model.lm import LanguageModel
from harness.results import GateResult, MetricSpec, MetricValue, Sample

if TYPE_CHECKING:
    from harness.gates import Gate

CAPABILITY = "old_task"
METRICS = {
    "exact_match": MetricSpec(0, 1, True, "tuned model's exact match on the base task's dev set"),
    "token_f1": MetricSpec(0, 1, True, "tuned model's mean token F1 on the base task's dev set"),
    "exact_match_drop": MetricSpec(-1, 1, False, "base exact match minus tuned exact match, same items"),
}
NOISE_ALPHA = 0.05


@dataclass(frozen=True)
class ItemResult:
    """One dev item answered by base and tuned model."""

    example: Example
    base_output: str
    tuned_output: str

    @property
    def base_correct(self) -> bool:
        """Base answer matches the reference exactly (normalised)."""
        return exact_match(self.base_output, self.example.answer)

    @property
    def tuned_correct(self) -> bool:
        """Tuned answer matches the reference exactly (normalised)."""
        return exact_match(self.tuned_output, self.example.answer)

    @property
    def group(self) -> str:
        """`category/lang` of the item, for the per-group breakdown."""
        return f"{self.example.meta.get('category', 'all')}/{self.example.meta.get('lang', 'all')}"


def score_items(examples: list[Example], base: LanguageModel, tuned: LanguageModel) -> list[ItemResult]:
    """Answer every dev item with both models (batched)."""
    prompts = [ex.messages for ex in examples]
    return [ItemResult(ex, b, t) for ex, b, t in zip(examples, base.generate(prompts), tuned.generate(prompts),
                                                    strict=True)]


def _mean_ci(values: list[float]) -> tuple[float, float, float, int]:
    mean, low, high = paired_bootstrap_ci(values, [0.0] * len(values))
    return mean, low, high, len(values)


def old_task_metrics(results: list[ItemResult]) -> list[MetricValue]:
    """EM and token F1 for base and tuned (overall and per group), and the paired EM drop."""
    out: list[MetricValue] = []
    groups = sorted({r.group for r in results})
    for checkpoint, correct, output in (("base", "base_correct", "base_output"),
                                        ("tuned", "tuned_correct", "tuned_output")):
        out.append(MetricValue(CAPABILITY, "exact_match", *rate([getattr(r, correct) for r in results]),
                               checkpoint=checkpoint))
        f1 = [token_f1(getattr(r, output), r.example.answer) for r in results]
        out.append(MetricValue(CAPABILITY, "token_f1", *_mean_ci(f1), checkpoint=checkpoint))
        for group in groups:
            flags = [getattr(r, correct) for r in results if r.group == group]
            out.append(MetricValue(CAPABILITY, f"exact_match[{group}]", *rate(flags), checkpoint=checkpoint))
    drop, low, high = paired_bootstrap_ci([float(r.base_correct) for r in results],
                                          [float(r.tuned_correct) for r in results])
    out.append(MetricValue(CAPABILITY, "exact_match_drop", drop, low, high, len(results)))
    return out


def drop_verdict(results: list[ItemResult]) -> str:
    """'N items lost, M gained, McNemar p=...: beyond noise | within noise'."""
    lost = sum(r.base_correct and not r.tuned_correct for r in results)
    gained = sum(r.tuned_correct and not r.base_correct for r in results)
    p = mcnemar_exact_p(lost, gained)
    noise = "beyond noise" if p < NOISE_ALPHA and lost > gained else "within noise"
    return f"{lost} items lost, {gained} gained vs base, McNemar p={p:.3g}: {noise}"


def old_task_gate_results(results: list[ItemResult], gates: Mapping[str, Gate]) -> dict[str, GateResult]:
    """Every configured old-task gate checked on the tuned model's metrics, by gate id."""
    metrics = {m.name: m for m in old_task_metrics(results) if m.checkpoint == "tuned"}
    verdict = drop_verdict(results)
    return {gate.id: gate.check(metrics[gate.metric], verdict)
            for gate in gates.values() if gate.capability == CAPABILITY}


def old_task_samples(results: list[ItemResult]) -> list[Sample]:
    """Before/after rows for results.json and the report."""
    return [Sample(CAPABILITY, r.example.id, r.example.prompt_text, r.example.answer, r.base_output, r.tuned_output,
                   {"kind": r.group, "passed": r.tuned_correct or not r.base_correct,
                    "base_correct": r.base_correct, "tuned_correct": r.tuned_correct})
            for r in results]
