"""Audit suite: every checkpoint of a run on every task's dev set; one test per checkpoint.

`pytest suites/ -m audit --checkpoints RUN_DIR` audits the checkpoint-N/ folders of RUN_DIR; without
--checkpoints it audits the stages of the built-in replay sequence. The run's matrix, forgetting trend, first
failing checkpoint and rollback candidate go to results.json and the report; one row per checkpoint, task and
metric is appended to the history file.
"""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.evaluators import audit
from harness.model.lm import base_and_tuned
from harness.plugin import tunegate_state
from harness.training.sequence import sequence_tasks

pytestmark = [pytest.mark.audit, pytest.mark.trains("sequences", unless=("adapter", "checkpoints"))]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per checkpoint, known at collection time."""
    if "checkpoint_name" in metafunc.fixturenames:
        settings = tunegate_state(metafunc.config).settings
        names = ([c.name for c in audit.find_checkpoints(settings.checkpoints)] if settings.checkpoints
                 else [f"checkpoint-{i}" for i in range(1, len(sequence_tasks(settings.fixtures)))])
        metafunc.parametrize("checkpoint_name", names, ids=names)


@pytest.fixture(scope="session")
def audited_checkpoints(base_model, tunegate, request) -> list[audit.Checkpoint]:
    """The run's checkpoints: --checkpoints, or the built-in replay sequence's stages (trained if needed)."""
    if tunegate.settings.checkpoints:
        return audit.find_checkpoints(tunegate.settings.checkpoints)
    if tunegate.settings.adapter:
        pytest.skip("--adapter without --checkpoints: nothing to audit (and nothing is trained)")
    stages = request.getfixturevalue("sequences")["replay"]
    return [audit.Checkpoint(f"checkpoint-{s.index}", s.index, s.adapter) for s in stages[1:]]


@pytest.fixture(scope="session")
def audit_result(audited_checkpoints, base_model, tunegate) -> audit.AuditResult:
    """The whole run audited once: metrics, the run.audit summary and the history rows (appended once, at the
    end of the run)."""
    s = tunegate.settings
    devs = {task: load_examples(s.fixtures / f"tasks/{task}/dev.json") for task in sequence_tasks(s.fixtures)}
    views = [base_and_tuned(base_model, c.path, s.allow_pickle, tunegate.requests) for c in audited_checkpoints]
    result, metrics = audit.audit_run(views[0][0], audited_checkpoints, [tuned for _, tuned in views], devs,
                                      tunegate.gates.gates)
    tunegate.record_metrics(metrics)
    rows = [{"run_id": tunegate.run_id, "time": tunegate.record.run["started"], "checkpoint": c.name,
             "step": c.step, "task": audit.metric_task(m.name), "metric": m.name.split("[")[0], "value": m.value}
            for c in audited_checkpoints for m in metrics if m.checkpoint == c.name]
    tunegate.record.run["audit"] = {**result.summary(), "history": str(s.history), "history_rows": rows}
    return result


def test_checkpoint(audit_result, tunegate, checkpoint_name: str) -> None:
    """Every audit gate on one checkpoint; the message names the first failing and the rollback checkpoint."""
    verdicts = audit_result.verdicts[checkpoint_name]
    for verdict in verdicts:
        tunegate.record_gate(verdict)
    failed = [v.message for v in verdicts if not v.passed]
    assert not failed, "; ".join(failed) + (f" | first failing checkpoint: {audit_result.first_failing}, "
                                            f"rollback candidate: {audit_result.rollback_candidate}")
