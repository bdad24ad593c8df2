"""New-task suite: the newest increment's dev set, base vs tuned (the built-in adapter: the gated sequence's last
stage, trained on that increment); floor and minimum gain."""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.evaluators import accuracy, new_task
from harness.plugin import parametrize_gates
from harness.results import GateResult
from harness.training.sequence import sequence_tasks

pytestmark = pytest.mark.new_task


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every configured new_task gate."""
    parametrize_gates(metafunc, new_task.CAPABILITY, compares_outputs=True)


@pytest.fixture(scope="session")
def new_task_verdicts(new_task_models, tunegate) -> dict[str, GateResult]:
    """Every dev item of the new task answered once by base and tuned model; metrics recorded, gates checked."""
    base, tuned = new_task_models
    fixtures = tunegate.settings.fixtures
    dev = load_examples(fixtures / f"tasks/{sequence_tasks(fixtures)[-1]}/dev.json")
    results = accuracy.score_items(dev, base, tuned)
    metrics = new_task.new_task_metrics(results)
    return tunegate.conclude(new_task.CAPABILITY, metrics, new_task.new_task_samples(results),
                             new_task.new_task_gate_results(results, tunegate.gates.gates, metrics),
                             compares_outputs=True)


def test_gate(new_task_verdicts, tunegate, gate_id: str) -> None:
    """Exact-match floor and minimum gain over the base, with the McNemar verdict in the message."""
    tunegate.enforce(new_task_verdicts[gate_id])
