"""Old-task suite: base vs tuned on the base task's dev set; absolute floor and maximum paired drop."""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.evaluators import old_task
from harness.plugin import parametrize_gates

pytestmark = pytest.mark.old_task


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every configured old_task gate."""
    parametrize_gates(metafunc, old_task.CAPABILITY)


@pytest.fixture(scope="session")
def old_task_results(identity_models, tunegate) -> list[old_task.ItemResult]:
    """Every dev item answered once by base and tuned model, recorded for the report."""
    base, tuned = identity_models
    results = old_task.score_items(load_examples(tunegate.settings.fixtures / "tasks/base/dev.json"), base, tuned)
    tunegate.record_metrics(old_task.old_task_metrics(results))
    tunegate.record_samples(old_task.old_task_samples(results))
    return results


def test_gate(old_task_results, tunegate, gate_id: str) -> None:
    """Floor and maximum drop, with the paired CI and the McNemar verdict in the message."""
    result = old_task.old_task_gate_results(old_task_results, tunegate.gates.gates)[gate_id]
    tunegate.enforce(result)
