"""Audit suite: every checkpoint of a run on every task's dev set; one test per checkpoint.

`pytest suites/ -m audit --checkpoints=RUN_DIR` audits the checkpoint-N/ folders of RUN_DIR; without
--checkpoints it audits the stages of the built-in replay sequence. The run's matrix, forgetting trend and the
nightly answer (the newest checkpoint's verdict, where its failing streak began, the rollback candidate and the
checkpoints to keep) go to results.json, the terminal, summary.md and the report; one row per checkpoint, task
and metric is appended to the history file.
"""

from __future__ import annotations

import pytest

from harness.api import reads, tunegate_state
from harness.data import load_examples
from harness.evaluators import audit
from harness.evaluators.audit import AuditData
from harness.evaluators.checkpoints import Checkpoint, find_checkpoints, find_run
from harness.foundation.records import GateResult
from harness.model.sets import CheckpointModels
from harness.model.views import adapter_chain
from harness.plugin.settings import Settings
from harness.training.sequence import sequence_tasks

pytestmark = [pytest.mark.audit, reads("audit"),
              pytest.mark.trains("sequences", unless=("brings_model", "checkpoints"))]
NO_CHECKPOINTS = ("no --checkpoints: --adapter or --tuned-model evaluate one model, the audit needs a training run's "
                  "checkpoints (-m audit --checkpoints=RUN_DIR)")
__all__ = ["audit_verdicts", "audited_checkpoints", "checkpoint_verdicts", "pytest_generate_tests", "pytestmark",
           "test_checkpoint"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per checkpoint, known at collection time; none to audit is one test skipped saying why."""
    if "checkpoint_name" in metafunc.fixturenames:
        settings = tunegate_state(metafunc.config).settings
        names, why = checkpoint_names(settings)
        metafunc.parametrize("checkpoint_name", names or [pytest.param(None, marks=pytest.mark.skip(reason=why))],
                             ids=names or ["none"])


def checkpoint_names(settings: Settings) -> tuple[list[str], str]:
    """The checkpoints a run audits (--checkpoints, else the stages of the sequence it trains), and why none."""
    if settings.checkpoints:
        return [c.name for c in find_checkpoints(settings.checkpoints, settings.checkpoint_launches)], ""
    if settings.brings_model:
        return [], NO_CHECKPOINTS
    tasks = sequence_tasks(settings.fixtures) if settings.data_folder.tasks.is_dir() else []
    return ([f"checkpoint-{i}" for i in range(1, len(tasks))],
            "no increments: the run trains no sequence to audit (tasks/ has no increment_N), and no --checkpoints")


@pytest.fixture(scope="session")
def audited_checkpoints(base_model, tunegate, request) -> list[Checkpoint]:
    """The run's checkpoints: --checkpoints (with its trainer_state.json loss history, when it has one), or the
    built-in replay sequence's stages (trained if needed)."""
    if tunegate.settings.checkpoints:
        run = find_run(tunegate.settings.checkpoints, tunegate.settings.checkpoint_launches)
        tunegate.record_run("checkpoints", {"layout": run.layout, "source": run.source})
        if log := run.training_log():  # the trainer's loss history, charted in the report's training section
            tunegate.record.run.training["audited run"] = log
        return run.checkpoints
    if tunegate.settings.brings_model:
        pytest.skip(NO_CHECKPOINTS)
    stages = request.getfixturevalue("sequences")["replay"]
    return [Checkpoint(f"checkpoint-{s.index}", s.index, s.adapter) for s in stages[1:]]


@pytest.fixture(scope="session")
def audit_verdicts(audited_checkpoints, base_model, tunegate) -> dict[str, GateResult]:
    """The whole run audited once: metrics and every checkpoint's verdicts; the run.audit summary (the nightly
    answer) and the history rows (appended once, at the end of the run)."""
    s = tunegate.settings
    devs = {task: load_examples(s.data_folder.task(task, "dev")) for task in sequence_tasks(s.fixtures)}
    base, *checkpoints = adapter_chain(base_model, [c.path for c in audited_checkpoints], s.allow_pickle,
                                       tunegate.requests)
    verdicts = tunegate.judge("audit", CheckpointModels(base, checkpoints), AuditData(audited_checkpoints, devs))
    result = tunegate.results["audit"]
    rows = audit.history_rows(tunegate.run_id, tunegate.record.run.started, audited_checkpoints, result.metrics)
    tunegate.record_run("audit", {**result.details.summary(verdicts), "history": str(s.history), "history_rows": rows})
    return verdicts


@pytest.fixture(scope="session")
def checkpoint_verdicts(audit_verdicts) -> dict[str, list[GateResult]]:
    """The verdicts grouped by checkpoint once (a run of 1,000 checkpoints does no quadratic work)."""
    return audit.verdicts_by_checkpoint(audit_verdicts)


def test_checkpoint(checkpoint_verdicts, tunegate, checkpoint_name: str) -> None:
    """Every audit gate on one checkpoint; a failure is one line, with the run's nightly answer ("broke at ...,
    roll back to ...")."""
    verdicts = checkpoint_verdicts.get(checkpoint_name, [])
    for verdict in verdicts:
        tunegate.record_gate(verdict)
    if failed := [v.message for v in verdicts if not v.passed]:
        pytest.fail("; ".join(failed) + f" | {tunegate.record.run.sections['audit']['answer']}", pytrace=False)
