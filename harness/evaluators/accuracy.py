"""Dev-set accuracy, base vs tuned: one capability configured twice.

`OLD_TASK`: what did the adapter break on the task the base model already knew (the base task's dev set; an
exact-match floor and a maximum paired drop). `NEW_TASK`: did it learn the task it was trained on (the newest
increment's dev set; a floor and a minimum paired gain).

Base and tuned model answer the same dev items (batched greedy generation). Accuracy is exact match and
token F1, overall and per (category, language), each with a 95% interval. The change from base to tuned is
a paired comparison on the same items: a bootstrap interval of the difference and an exact McNemar test on
the items lost and gained say whether it is beyond noise; every gate's message quotes that verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.data import Example
from harness.evaluators.answers import AnswerPair, answer_both
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue, Sample
from harness.measures.item_gates import paired
from harness.measures.metrics import token_f1
from harness.measures.statistics import mcnemar_exact_p, mean_ci, paired_bootstrap_ci, rate
from harness.model.prompted import prompt_verdict
from harness.model.sets import ModelSet

NOISE_ALPHA = 0.05


def accuracy_metrics(capability: str, results: list[AnswerPair]) -> list[MetricValue]:
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


def exact_match_change(capability: str, name: str, results: list[AnswerPair], sign: int) -> MetricValue:
    """The paired change in exact match from base to tuned, `sign` * (tuned - base), with its bootstrap CI."""
    base = [float(r.base_correct) for r in results]
    tuned = [float(r.tuned_correct) for r in results]
    first, second = (tuned, base) if sign > 0 else (base, tuned)
    delta, low, high = paired_bootstrap_ci(first, second)
    return MetricValue(capability, name, delta, low, high, len(results))


def change_verdict(results: list[AnswerPair], expect_gain: bool) -> str:
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


def accuracy_samples(capability: str, results: list[AnswerPair], passed: Callable[[AnswerPair], bool],
                     change_metric: str) -> list[Sample]:
    """Before/after rows for results.json and the report; `passed` says which rows count as good, `gates` each
    item's part in the exact-match floor and the paired change (see `harness.measures.item_gates`)."""
    return [Sample(capability, r.example.id, r.example.prompt_text, r.example.answer, r.base_output, r.tuned_output,
                   {"type": r.category, "language": r.lang, "passed": passed(r), "base_correct": r.base_correct,
                    "tuned_correct": r.tuned_correct,
                    "gates": {"exact_match": r.tuned_correct, change_metric: paired(r.base_correct, r.tuned_correct)}})
            for r in results]


def with_prompted(samples: Sequence[Sample], versus: list[AnswerPair]) -> list[Sample]:
    """The samples with the prompted base's answer beside them and each item's part in the gain over it."""
    return [replace(s, score={**s.score, "prompted_output": v.base_output, "prompted_correct": v.base_correct,
                              "gates": {**s.score["gates"], PROMPT_GAIN: paired(v.base_correct, v.tuned_correct,
                                                                                 "prompted")}})
            for s, v in zip(samples, versus, strict=True)]


PROMPT_GAIN = "exact_match_gain_over_prompted"
NO_PROMPTED = ("no prompt-only baseline: it draws its worked examples from the task's train.json, which the "
               "data folder lacks")


@dataclass(frozen=True)
class AccuracyTask:
    """One dev-set accuracy capability: its name, the dev set it is about (for the metric descriptions) and
    whether the paired change it gates is a gain (new task) or a drop (old task)."""

    name: str
    dev_set: str
    expect_gain: bool

    @property
    def change_metric(self) -> str:
        """`exact_match_gain` (tuned - base) or `exact_match_drop` (base - tuned)."""
        return "exact_match_gain" if self.expect_gain else "exact_match_drop"

    @property
    def metrics(self) -> dict[str, MetricSpec]:
        """The gateable metrics: exact match, token F1 and the paired change."""
        change = ("tuned exact match minus base exact match" if self.expect_gain
                  else "base exact match minus tuned exact match")
        specs = {"exact_match": MetricSpec(0, 1, True, f"tuned model's exact match on {self.dev_set}"),
                 "token_f1": MetricSpec(0, 1, True, f"tuned model's mean token F1 on {self.dev_set}"),
                 self.change_metric: MetricSpec(-1, 1, self.expect_gain, f"{change}, same items")}
        if self.expect_gain:
            specs[PROMPT_GAIN] = MetricSpec(-1, 1, True, "tuned exact match minus that of the base model prompted "
                                            "with worked examples, same items (is the adapter needed?)")
        return specs

    def measure(self, results: list[AnswerPair]) -> CapabilityResult:
        """Metrics, samples and evidence (the McNemar verdict, for every gate) of answered dev items; a sample
        passes when the tuned model answers it (new task) or did not lose it (old task)."""
        metrics = [*accuracy_metrics(self.name, results),
                   exact_match_change(self.name, self.change_metric, results, 1 if self.expect_gain else -1)]
        verdict = change_verdict(results, self.expect_gain)
        passed = (lambda r: r.tuned_correct) if self.expect_gain else (lambda r: r.tuned_correct or not r.base_correct)
        return CapabilityResult(metrics, accuracy_samples(self.name, results, passed, self.change_metric),
                                evidence=dict.fromkeys(self.metrics, verdict), details=results)

    def evaluate(self, models: ModelSet, data: list[Example], settings: Any = None) -> CapabilityResult:
        """Base and tuned answer every dev item of `data`; see `measure`. With a prompted base in the set, its
        exact match is the `prompted` column and (new task) the gain over it is measured."""
        result = self.measure(answer_both(data, models.base, models.tuned))
        if models.prompted is None:
            return replace(result, unmeasured={m: NO_PROMPTED for m in (PROMPT_GAIN,) if m in self.metrics})
        versus = answer_both(data, models.prompted, models.tuned)  # base_correct: the prompted model's
        rate_of = MetricValue(self.name, "exact_match", *rate([r.base_correct for r in versus]), checkpoint="prompted")
        if not self.expect_gain:  # the old task: what the prompt costs it, beside what the adapter costs it
            return replace(result, metrics=[*result.metrics, rate_of])
        metric, words = prompt_gain(self.name, versus)
        return replace(result, metrics=[*result.metrics, rate_of, metric],
                       samples=with_prompted(result.samples, versus), evidence={**result.evidence, PROMPT_GAIN: words})


def prompt_gain(capability: str, versus: list[AnswerPair]) -> tuple[MetricValue, str]:
    """Tuned exact match minus the prompted base's (`versus`: prompted as base, tuned as tuned), paired, with the
    verdict in words."""
    prompt = sum(r.base_correct for r in versus) / len(versus)
    adapter = sum(r.tuned_correct for r in versus) / len(versus)
    return (exact_match_change(capability, PROMPT_GAIN, versus, 1),
            prompt_verdict(prompt, adapter, "a prompt with worked examples", "exact match"))


OLD_TASK = AccuracyTask("old_task", "the base task's dev set", expect_gain=False)
NEW_TASK = AccuracyTask("new_task", "the new task's dev set", expect_gain=True)
