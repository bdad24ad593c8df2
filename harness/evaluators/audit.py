"""Nightly audit: every checkpoint of a training run on every task's dev set.

Checkpoints are a training run's adapter folders in training order (`harness.evaluators.checkpoints`: the
layouts of HF Trainer, LLaMA-Factory and ms-swift, or a flat folder of adapters). Each is evaluated on every
task's dev set; the result is the checkpoint x task exact-match matrix (row 0: the base model), the forgetting
trend (per checkpoint, the largest drop of any task below its best earlier accuracy), the audit gates checked
per checkpoint, the first checkpoint that fails any gate and the last one that passes them all (the rollback
candidate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from harness.data import Example
from harness.evaluators.checkpoints import Checkpoint
from harness.foundation.progress import progress
from harness.foundation.records import CapabilityResult, GateResult, MetricSpec, MetricValue, Sample
from harness.measures.metrics import exact_match
from harness.measures.statistics import paired_bootstrap_ci, rate
from harness.model.sets import CheckpointModels

CAPABILITY = "audit"
METRICS = {
    "base_exact_match": MetricSpec(0, 1, True, "exact match on the base task's dev set, per checkpoint"),
    "base_exact_match_drop": MetricSpec(-1, 1, False, "exact match the checkpoint lost on the base task's dev set "
                                        "against the base model, paired on the same items"),
    "min_exact_match": MetricSpec(0, 1, True, "lowest exact match over every task's dev set, per checkpoint"),
    "max_forgetting": MetricSpec(-1, 1, False, "largest drop of any task below its best earlier accuracy"),
}


@dataclass(frozen=True)
class AuditResult:
    """The checkpoint x task matrix of a run; with the gate verdicts, its first failing checkpoint and rollback
    candidate."""

    tasks: list[str]
    checkpoints: list[Checkpoint]
    matrix: list[list[float]]

    def passed(self, verdicts: Mapping[str, GateResult]) -> dict[str, bool]:
        """Per checkpoint: whether every one of its verdicts (ids ending in `[<checkpoint>]`) passed."""
        by_checkpoint = verdicts_by_checkpoint(verdicts)
        return {c.name: all(v.passed for v in by_checkpoint.get(c.name, ())) for c in self.checkpoints}

    def first_failing(self, passed: Mapping[str, bool]) -> str | None:
        """The first checkpoint (by step) that fails any audit gate, however the run went on after it."""
        return next((c.name for c in self.checkpoints if not passed[c.name]), None)

    def summary(self, verdicts: Mapping[str, GateResult]) -> dict:
        """Plain data for results.json's `run.audit` and the report, with the nightly answer (`nightly_answer`)."""
        passed = self.passed(verdicts)
        answer = nightly_answer([c.name for c in self.checkpoints], passed)
        return {"tasks": self.tasks, "checkpoints": [{"name": c.name, "step": c.step, "path": str(c.path),
                                                      "passed": passed[c.name]} for c in self.checkpoints],
                "matrix": self.matrix, "forgetting_trend": forgetting_trend(self.matrix),
                "first_failing": self.first_failing(passed), **answer}


KEEP = 3  # passing checkpoints a keep-last-N retention keeps


def nightly_answer(order: Sequence[str], passed: Mapping[str, bool]) -> dict:
    """What the nightly job asks of a run's checkpoints (in training order): the newest one's verdict, where the
    current failing streak began (`broke_at`: the first failing checkpoint after the last passing one), the
    rollback candidate (the newest passing checkpoint), the last passing ones to keep, and the line that says it.

    >>> a = nightly_answer(["c-250", "c-500", "c-1000", "c-1500", "c-2000"],
    ...                    {"c-250": True, "c-500": False, "c-1000": True, "c-1500": True, "c-2000": False})
    >>> a["answer"]
    'audit: newest checkpoint c-2000 FAILS: broke at c-2000, roll back to c-1500 (keep c-1500, c-1000, c-250)'
    """
    good = [name for name in order if passed[name]]
    newest = order[-1] if order else None
    rollback = good[-1] if good else None
    streak = order[order.index(rollback) + 1:] if rollback else list(order)
    broke_at = streak[0] if streak else None
    keep = good[::-1][:KEEP]
    kept = f" (keep {', '.join(keep)})" if keep else ""
    if newest is None:
        line = "audit: no checkpoint to judge"
    elif broke_at is None:
        line = f"audit: newest checkpoint {newest} passes{kept}"
    else:
        back = f"roll back to {rollback}" if rollback else "no checkpoint passes: nothing to roll back to"
        line = f"audit: newest checkpoint {newest} FAILS: broke at {broke_at}, {back}{kept}"
    return {"newest": newest, "newest_passed": bool(newest and passed[newest]), "broke_at": broke_at,
            "rollback_candidate": rollback, "keep": keep, "answer": line}


def verdicts_by_checkpoint(verdicts: Mapping[str, GateResult]) -> dict[str, list[GateResult]]:
    """The verdicts grouped by the checkpoint their id ends with (`...[checkpoint-300]`), in one pass.

    >>> from harness.foundation.records import GateResult
    >>> v = GateResult("audit.max_forgetting[checkpoint-2]", "audit", "max_forgetting", "<=", 0.1, 0.0, True, "")
    >>> list(verdicts_by_checkpoint({v.id: v}))
    ['checkpoint-2']
    """
    out: dict[str, list[GateResult]] = {}
    for verdict in verdicts.values():
        if verdict.part:
            out.setdefault(verdict.part, []).append(verdict)
    return out


def forgetting_trend(matrix: Sequence[Sequence[float]]) -> list[float]:
    """Per checkpoint row k >= 1: max over tasks of (best accuracy in rows < k) - row k's accuracy.

    >>> forgetting_trend([[0.9, 0.0], [0.8, 1.0], [0.5, 0.7]])
    [0.1, 0.4]
    """
    return [round(max(max(row[j] for row in matrix[:k]) - matrix[k][j] for j in range(len(matrix[k]))), 10)
            for k in range(1, len(matrix))]


Rate = tuple[float, float, float, int]  # (proportion, ci_low, ci_high, n), as `rate` gives it


def checkpoint_metrics(name: str, tasks: Sequence[str], rates: Sequence[Rate], forgetting: float,
                       base_drop: MetricValue) -> list[MetricValue]:
    """One checkpoint's gated figures and its per-task exact match with Wilson CIs (checkpoint = its name)."""
    lowest = min(rates, key=lambda r: r[0])
    out = [MetricValue(CAPABILITY, "base_exact_match", *rates[0], checkpoint=name), base_drop,
           MetricValue(CAPABILITY, "min_exact_match", *lowest, checkpoint=name),
           MetricValue(CAPABILITY, "max_forgetting", forgetting, n=sum(r[3] for r in rates), checkpoint=name)]
    return out + [MetricValue(CAPABILITY, f"exact_match[{task}]", *r, checkpoint=name)
                  for task, r in zip(tasks, rates, strict=True)]


class AuditData(NamedTuple):
    """The audit's data: the audited checkpoints, in training order, and the dev set of each task."""

    checkpoints: Sequence[Checkpoint]
    devs: Mapping[str, Sequence[Example]]


def evaluate(models: CheckpointModels, data: AuditData, settings: Any = None) -> CapabilityResult:
    """The base and one model per checkpoint answer every dev set of `data`: each checkpoint's figures under its
    own name, checked as one part per checkpoint; the matrix as details (an `AuditResult`)."""
    checkpoints, devs = data
    tasks = list(devs)
    answers = [{t: model.generate([ex.messages for ex in devs[t]]) for t in tasks}
               for model in progress([models.base, *models.checkpoints], desc="auditing checkpoints (base first)")]
    correct = [[_correct(row[t], devs[t]) for t in tasks] for row in answers]
    rates = [[rate(flags) for flags in row] for row in correct]
    matrix = [[r[0] for r in row] for row in rates]
    per_checkpoint = zip(checkpoints, rates[1:], correct[1:], forgetting_trend(matrix), strict=True)
    metrics = [m for checkpoint, row, flags, forgetting in per_checkpoint
               for m in checkpoint_metrics(checkpoint.name, tasks, row, forgetting,
                                           base_drop(checkpoint.name, correct[0][0], flags[0]))]
    stages = ["base model", *(c.name for c in checkpoints)]
    samples = [s for k in range(1, len(stages)) for t in tasks
               for s in changed_items(stages[k - 1], stages[k], devs[t], answers[k - 1][t], answers[k][t], t)]
    return CapabilityResult(metrics, samples, parts={c.name: _part_line(c, samples) for c in checkpoints},
                            details=AuditResult(tasks, list(checkpoints), matrix))


def base_drop(name: str, base_correct: Sequence[bool], correct: Sequence[bool]) -> MetricValue:
    """The base model's exact match on the base task minus the checkpoint's, paired on the same items (bootstrap
    CI): per item, so it resolves a 10-point loss that the floor's independent CI cannot tell from noise."""
    drop, low, high = paired_bootstrap_ci(base_correct, correct)
    return MetricValue(CAPABILITY, "base_exact_match_drop", drop, low, high, len(correct), checkpoint=name)


def _part_line(checkpoint: Checkpoint, samples: Sequence[Sample]) -> str:
    """'checkpoint checkpoint-2 (step 200): 25 items lost, 1 gained since checkpoint-1'."""
    moved = [s for s in samples if s.score["checkpoint"] == checkpoint.name]
    lost = sum(not s.score["passed"] for s in moved)
    since = moved[0].score["previous"] if moved else "the stage before"
    return (f"checkpoint {checkpoint.name} (step {checkpoint.step}): {lost} items lost, {len(moved) - lost} gained "
            f"since {since}")


def _correct(answers: Sequence[str], dev: Sequence[Example]) -> list[bool]:
    return [exact_match(a, ex.answer) for a, ex in zip(answers, dev, strict=True)]


def changed_items(previous: str, checkpoint: str, dev: Sequence[Example], before: Sequence[str],
                  after: Sequence[str], task: str) -> list[Sample]:
    """The items of one task's dev set that `checkpoint` lost (right at `previous`, the stage before it, wrong
    now) or gained: the evidence behind its audit gates. `base_output` is the previous stage's answer."""
    out = []
    for ex, old, new, was, now in zip(dev, before, after, _correct(before, dev), _correct(after, dev), strict=True):
        if was != now:
            out.append(Sample(CAPABILITY, f"{checkpoint}/{task}/{ex.id}", ex.prompt_text, ex.answer, old, new,
                              {"type": task, "language": str(ex.meta.get("lang", "")), "checkpoint": checkpoint,
                               "previous": previous, "passed": now, "base_correct": was, "tuned_correct": now}))
    return out


def history_rows(run_id: str, started: str, checkpoints: Sequence[Checkpoint], metrics: Sequence[MetricValue]
                 ) -> list[dict]:
    """One history row per checkpoint, task and metric: what the nightly trend reads back."""
    steps = {c.name: c.step for c in checkpoints}
    return [{"run_id": run_id, "time": started, "checkpoint": m.checkpoint, "step": steps[m.checkpoint],
             "task": metric_task(m.name), "metric": m.name.split("[")[0], "value": m.value}
            for m in metrics if m.checkpoint in steps]


def metric_task(name: str) -> str:
    """The task a metric name is about: 'exact_match[base]' -> 'base'; run-level figures -> 'all'.

    >>> metric_task("exact_match[increment_1]"), metric_task("max_forgetting")
    ('increment_1', 'all')
    """
    return name[name.index("[") + 1:-1] if name.endswith("]") else "all"


def nightly_trend(history) -> dict[str, list[list]]:
    """Across runs in the history (a pandas frame), the last checkpoint's exact match per task, by run:
    {task: [[run_id, value], ...]} in run order."""
    rows = history[history["metric"] == "exact_match"]
    if rows.empty:
        return {}
    last_step = rows.groupby("run_id")["step"].transform("max")
    last = rows[rows["step"] == last_step]
    return {task: [[str(run), float(value)] for run, value in zip(group["run_id"], group["value"], strict=True)]
            for task, group in last.groupby("task", sort=False)}
