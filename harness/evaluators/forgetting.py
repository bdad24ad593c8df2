"""Forgetting capability: what does a sequence of increments keep, and what does it lose?

Every stage of a sequence (stage 0: the base model; stage i: the adapter after increment i) answers every
task's dev set. R[i][j] is the exact match on task j after stage i; b_j that of an untrained (randomly
initialised) model of the same architecture. From R, the GEM measures: average accuracy ACC after the last
stage, backward transfer BWT, forward transfer FWT, and per-task forgetting (best earlier accuracy minus final).
The before/after loss check adds the answer loss on the base task, and on base + increment data, before and
after each increment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from harness.data import Example
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue
from harness.measures.metrics import average_accuracy, backward_transfer, exact_match, forward_transfer, task_forgetting
from harness.measures.statistics import rate, wilson_interval
from harness.model.protocol import LanguageModel

CAPABILITY = "forgetting"
METRICS = {
    "acc": MetricSpec(0, 1, True, "average exact match over all tasks after the last stage"),
    "bwt": MetricSpec(-1, 1, True, "backward transfer: mean final minus just-learned accuracy of earlier tasks"),
    "fwt": MetricSpec(-1, 1, True, "forward transfer: mean accuracy before learning a task minus untrained b_j"),
    "max_forgetting": MetricSpec(-1, 1, False, "largest per-task drop from its best earlier accuracy"),
}


@dataclass(frozen=True)
class SequenceResult:
    """The accuracy matrix of one strategy's sequence and the measures derived from it."""

    strategy: str
    tasks: list[str]
    matrix: list[list[float]]
    dev_sizes: list[int]
    baseline: list[float]
    losses: list[dict]

    @property
    def forgetting(self) -> list[float]:
        """Per-task forgetting (NaN for the last task)."""
        return task_forgetting(self.matrix)

    def summary(self) -> dict:
        """Plain data for results.json's `run.sequences` and the report's strategy comparison."""
        return {**asdict(self), "acc": average_accuracy(self.matrix), "bwt": backward_transfer(self.matrix),
                "fwt": forward_transfer(self.matrix, self.baseline), "forgetting": self.forgetting}


def task_rate(model: LanguageModel, dev: Sequence[Example]) -> tuple[float, float, float, int]:
    """Exact match of `model` on one dev set with its Wilson 95% interval and n (batched, cached per model)."""
    answers = model.generate([ex.messages for ex in dev])
    return rate([exact_match(a, ex.answer) for a, ex in zip(answers, dev, strict=True)])


def task_accuracy(model: LanguageModel, dev: Sequence[Example]) -> float:
    """Exact match of `model` on one dev set."""
    return task_rate(model, dev)[0]


def mean_answer_loss(model: LanguageModel, examples: Sequence[Example]) -> float:
    """Mean per-token answer NLL (the training loss) of `model` on `examples`."""
    scores = model.loglikelihood(examples)
    return -sum(lp for lp, _ in scores) / sum(n for _, n in scores)


def evaluate_sequence(strategy: str, stages: Sequence[LanguageModel], untrained: LanguageModel,
                      devs: Mapping[str, Sequence[Example]]) -> SequenceResult:
    """R (stages x tasks), b_j, and the before/after loss of every increment, for one strategy."""
    tasks = list(devs)
    matrix = [[task_accuracy(stage, devs[task]) for task in tasks] for stage in stages]
    base_dev = list(devs[tasks[0]])
    losses = []
    for index in range(1, len(stages)):
        mixed = base_dev + list(devs[tasks[index]])
        losses.append({"stage": index, "task": tasks[index],
                       "base_before": mean_answer_loss(stages[index - 1], base_dev),
                       "base_after": mean_answer_loss(stages[index], base_dev),
                       "mixed_before": mean_answer_loss(stages[index - 1], mixed),
                       "mixed_after": mean_answer_loss(stages[index], mixed)})
    return SequenceResult(strategy, tasks, matrix, [len(devs[t]) for t in tasks],
                          [task_accuracy(untrained, devs[t]) for t in tasks], losses)


def forgetting_metrics(result: SequenceResult, checkpoint: str = "tuned") -> list[MetricValue]:
    """ACC, BWT, FWT, max forgetting, and every R entry and per-task forgetting as breakdown figures."""
    forgetting = [f for f in result.forgetting if f == f]
    final_n = sum(result.dev_sizes)
    out = [MetricValue(CAPABILITY, "acc", average_accuracy(result.matrix), n=final_n, checkpoint=checkpoint),
           MetricValue(CAPABILITY, "bwt", backward_transfer(result.matrix), n=final_n, checkpoint=checkpoint),
           MetricValue(CAPABILITY, "fwt", forward_transfer(result.matrix, result.baseline), n=final_n,
                       checkpoint=checkpoint),
           MetricValue(CAPABILITY, "max_forgetting", max(forgetting) if forgetting else float("nan"), n=final_n,
                       checkpoint=checkpoint)]
    for i, row in enumerate(result.matrix):
        out += [MetricValue(CAPABILITY, f"accuracy[stage {i}/{task}]", value,
                            *wilson_interval(round(value * size), size), n=size, checkpoint=checkpoint)
                for task, value, size in zip(result.tasks, row, result.dev_sizes, strict=True)]
    out += [MetricValue(CAPABILITY, f"forgetting[{task}]", value, checkpoint=checkpoint)
            for task, value in zip(result.tasks, result.forgetting, strict=True) if value == value]
    return out


def matrix_evidence(result: SequenceResult) -> str:
    """'replay sequence, exact match after base: base 0.95, ...; after increment_1: ...' for gate messages."""
    rows = "; ".join(f"after {result.tasks[i]}: " + ", ".join(f"{t} {v:.2f}" for t, v in zip(result.tasks, row,
                                                                                              strict=True))
                     for i, row in enumerate(result.matrix))
    return f"{result.strategy} sequence, exact match {rows}"


class ForgettingData(NamedTuple):
    """The forgetting capability's data: the dev set of each task in sequence order, and an untrained model of
    the base architecture (forward transfer's reference b_j)."""

    devs: Mapping[str, Sequence[Example]]
    untrained: LanguageModel


StageModels = Mapping[str, Sequence[LanguageModel]]  # per strategy, its stages (the base model first)


def evaluate(models: StageModels, data: ForgettingData, settings: Any = None) -> CapabilityResult:
    """`models`: per strategy, its stages (the base model first), the gated strategy first. The gated strategy's
    figures are the tuned metrics, every other strategy's are recorded under its own name; the sequences'
    summaries go to the run header (`sequences`)."""
    devs, untrained = data
    results = {strategy: evaluate_sequence(strategy, stages, untrained, devs) for strategy, stages in models.items()}
    gated, *compared = results.values()
    metrics = forgetting_metrics(gated) + [m for r in compared for m in forgetting_metrics(r, checkpoint=r.strategy)]
    return CapabilityResult(metrics, evidence=dict.fromkeys(METRICS, matrix_evidence(gated)),
                            run={"sequences": {strategy: r.summary() for strategy, r in results.items()}},
                            details=results)
