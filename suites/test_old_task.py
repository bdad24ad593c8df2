"""Old-task suite: base vs tuned on the base task's dev set; absolute floor and maximum paired drop."""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.evaluators import accuracy, old_task
from harness.plugin import parametrize_gates
from harness.results import GateResult

pytestmark = pytest.mark.old_task


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every configured old_task gate."""
    parametrize_gates(metafunc, old_task.CAPABILITY, compares_outputs=True)


@pytest.fixture(scope="session")
def old_task_verdicts(identity_models, tunegate) -> dict[str, GateResult]:
    """Every dev item answered once by base and tuned model; metrics recorded, every gate checked once."""
    base, tuned = identity_models
    results = accuracy.score_items(load_examples(tunegate.settings.fixtures / "tasks/base/dev.json"), base, tuned)
    metrics = old_task.old_task_metrics(results)
    return tunegate.conclude(old_task.CAPABILITY, metrics, old_task.old_task_samples(results),
                             old_task.old_task_gate_results(results, tunegate.gates.gates, metrics),
                             compares_outputs=True)


def test_gate(old_task_verdicts, tunegate, gate_id: str) -> None:
    """Floor and maximum drop, with the paired CI and the McNemar verdict in the message."""
    tunegate.enforce(old_task_verdicts[gate_id])
