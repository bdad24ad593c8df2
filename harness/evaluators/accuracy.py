"""Dev-set accuracy, base vs tuned: the shared core of the old-task and new-task capabilities.

Base and tuned model answer the same dev items (batched greedy generation). Accuracy is exact match and
token F1, overall and per (category, language), each with a 95% interval. The change from base to tuned is
a paired comparison on the same items: a bootstrap interval of the difference and an exact McNemar test on
the items lost and gained say whether it is beyond noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.data import Example
from harness.metrics import exact_match, mcnemar_exact_p, mean_ci, paired_bootstrap_ci, rate, token_f1
from harness.model.lm import LanguageModel
from harness.results import MetricValue, Sample

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
    """Answer every dev item with both models (batched, cached per model)."""
    prompts = [ex.messages for ex in examples]
    return [ItemResult(ex, b, t) for ex, b, t in zip(examples, base.generate(prompts), tuned.generate(prompts),
                                                    strict=True)]


def accuracy_metrics(capability: str, results: list[ItemResult]) -> list[MetricValue]:
    """Exact match and token F1 of base and tuned, overall and per group, with 95% intervals."""
    out: list[MetricValue] = []
    groups = sorted({r.group for r in results})
    for checkpoint, correct, output in (("base", "base_correct", "base_output"),
                                        ("tuned", "tuned_correct", "tuned_output")):
        out.append(MetricValue(capability, "exact_match", *rate([getattr(r, correct) for r in results]),
                               checkpoint=checkpoint))
        f1 = [token_f1(getattr(r, output), r.example.answer) for r in results]
        out.append(MetricValue(capability, "token_f1", *mean_ci(f1), checkpoint=checkpoint))
        for group in groups:
            flags = [getattr(r, correct) for r in results if r.group == group]
            out.append(MetricValue(capability, f"exact_match[{group}]", *rate(flags), checkpoint=checkpoint))
    return out


def exact_match_change(capability: str, name: str, results: list[ItemResult], sign: int) -> MetricValue:
    """The paired change in exact match from base to tuned, `sign` * (tuned - base), with its bootstrap CI."""
    base = [float(r.base_correct) for r in results]
    tuned = [float(r.tuned_correct) for r in results]
    first, second = (tuned, base) if sign > 0 else (base, tuned)
    delta, low, high = paired_bootstrap_ci(first, second)
    return MetricValue(capability, name, delta, low, high, len(results))


def change_verdict(results: list[ItemResult], expect_gain: bool) -> str:
    """'N items lost, M gained vs base, McNemar p=...: beyond noise | within noise'.

    "Beyond noise" means significant at `NOISE_ALPHA` in the direction the gate cares about (a loss for a
    drop gate, a gain for a gain gate).
    """
    lost = sum(r.base_correct and not r.tuned_correct for r in results)
    gained = sum(r.tuned_correct and not r.base_correct for r in results)
    p = mcnemar_exact_p(lost, gained)
    moved = gained > lost if expect_gain else lost > gained
    noise = "beyond noise" if p < NOISE_ALPHA and moved else "within noise"
    return f"{lost} items lost, {gained} gained vs base, McNemar p={p:.3g}: {noise}"


def accuracy_samples(capability: str, results: list[ItemResult], passed: Callable[[ItemResult], bool]
                     ) -> list[Sample]:
    """Before/after rows for results.json and the report; `passed` says which rows count as good."""
    return [Sample(capability, r.example.id, r.example.prompt_text, r.example.answer, r.base_output, r.tuned_output,
                   {"kind": r.group, "passed": passed(r), "base_correct": r.base_correct,
                    "tuned_correct": r.tuned_correct})
            for r in results]
