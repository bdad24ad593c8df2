"""Nightly audit: every checkpoint of a training run on every task's dev set.

Checkpoints are the `checkpoint-N/` adapter folders of a run directory (what peft / HF Trainer,
LLaMA-Factory and ms-swift write), ordered by step N. Each is evaluated on every task's dev set; the result is
the checkpoint x task exact-match matrix (row 0: the base model), the forgetting trend (per checkpoint, the
largest drop of any task below its best earlier accuracy), the audit gates checked per checkpoint, the first
checkpoint that fails any gate and the last one that passes them all (the rollback candidate).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.data import DataError, Example
from harness.evaluators.forgetting import task_rate
from harness.gates import Gate, for_part
from harness.model.lm import LanguageModel
from harness.results import GateResult, MetricSpec, MetricValue

CAPABILITY = "audit"
METRICS = {
    "base_exact_match": MetricSpec(0, 1, True, "exact match on the base task's dev set, per checkpoint"),
    "min_exact_match": MetricSpec(0, 1, True, "lowest exact match over every task's dev set, per checkpoint"),
    "max_forgetting": MetricSpec(-1, 1, False, "largest drop of any task below its best earlier accuracy"),
}
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of a run: its name, training step and adapter folder."""

    name: str
    step: int
    path: Path


def find_checkpoints(run_dir: Path) -> list[Checkpoint]:
    """Every `checkpoint-N/` folder holding an adapter (`adapter_config.json`), ordered by N."""
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: --checkpoints must be a run directory holding checkpoint-N/ folders")
    found = sorted((int(m[1]), d) for d in run_dir.iterdir()
                   if d.is_dir() and (m := _CHECKPOINT.match(d.name)) and (d / "adapter_config.json").is_file())
    if not found:
        raise DataError(f"{run_dir}: no checkpoint-N/ folder with an adapter_config.json")
    return [Checkpoint(d.name, step, d) for step, d in found]


@dataclass(frozen=True)
class AuditResult:
    """The checkpoint x task matrix, the forgetting trend and every checkpoint's gate verdicts."""

    tasks: list[str]
    checkpoints: list[Checkpoint]
    matrix: list[list[float]]
    verdicts: dict[str, list[GateResult]]

    @property
    def first_failing(self) -> str | None:
        """The first checkpoint (by step) that fails any audit gate."""
        return next((c.name for c in self.checkpoints if not all(v.passed for v in self.verdicts[c.name])), None)

    @property
    def rollback_candidate(self) -> str | None:
        """The last checkpoint before the first failure that passes every gate (None if there is none)."""
        passing = [c.name for c in self.checkpoints if all(v.passed for v in self.verdicts[c.name])]
        first = self.first_failing
        order = [c.name for c in self.checkpoints]
        earlier = [name for name in passing if first is None or order.index(name) < order.index(first)]
        return earlier[-1] if earlier else None

    def summary(self) -> dict:
        """Plain data for results.json's `run.audit` and the report."""
        return {"tasks": self.tasks, "checkpoints": [{"name": c.name, "step": c.step, "path": str(c.path)}
                                                     for c in self.checkpoints],
                "matrix": self.matrix, "forgetting_trend": forgetting_trend(self.matrix),
                "first_failing": self.first_failing, "rollback_candidate": self.rollback_candidate}


def forgetting_trend(matrix: Sequence[Sequence[float]]) -> list[float]:
    """Per checkpoint row k >= 1: max over tasks of (best accuracy in rows < k) - row k's accuracy.

    >>> forgetting_trend([[0.9, 0.0], [0.8, 1.0], [0.5, 0.7]])
    [0.1, 0.4]
    """
    return [round(max(max(row[j] for row in matrix[:k]) - matrix[k][j] for j in range(len(matrix[k]))), 10)
            for k in range(1, len(matrix))]


def checkpoint_metrics(name: str, tasks: Sequence[str], rates: Sequence[tuple], forgetting: float
                       ) -> list[MetricValue]:
    """One checkpoint's gated figures and its per-task exact match with Wilson CIs (checkpoint = its name)."""
    lowest = min(rates, key=lambda r: r[0])
    out = [MetricValue(CAPABILITY, "base_exact_match", *rates[0], checkpoint=name),
           MetricValue(CAPABILITY, "min_exact_match", *lowest, checkpoint=name),
           MetricValue(CAPABILITY, "max_forgetting", forgetting, n=sum(r[3] for r in rates), checkpoint=name)]
    return out + [MetricValue(CAPABILITY, f"exact_match[{task}]", *r, checkpoint=name)
                  for task, r in zip(tasks, rates, strict=True)]


def audit_run(base: LanguageModel, checkpoints: Sequence[Checkpoint], models: Sequence[LanguageModel],
              devs: Mapping[str, Sequence[Example]], gates: Mapping[str, Gate]
              ) -> tuple[AuditResult, list[MetricValue]]:
    """Evaluate base and every checkpoint on every dev set; check the audit gates per checkpoint."""
    tasks = list(devs)
    rates = [[task_rate(model, devs[t]) for t in tasks] for model in (base, *models)]
    matrix = [[r[0] for r in row] for row in rates]
    trend = forgetting_trend(matrix)
    metrics, verdicts = [], {}
    for checkpoint, row, forgetting in zip(checkpoints, rates[1:], trend, strict=True):
        own = checkpoint_metrics(checkpoint.name, tasks, row, forgetting)
        by_name = {m.name: m for m in own}
        verdicts[checkpoint.name] = [
            for_part(gate.check(by_name[gate.metric], f"checkpoint {checkpoint.name} (step {checkpoint.step})"),
                     checkpoint.name)
            for gate in gates.values() if gate.capability == CAPABILITY]
        metrics += own
    return AuditResult(tasks, list(checkpoints), matrix, verdicts), metrics


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
