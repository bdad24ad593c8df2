"""Old-task suite: base vs tuned on the base task's dev set; absolute floor and maximum paired drop."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates, reads
from harness.data import load_examples
from harness.foundation.records import GateResult
from harness.model.prompted import with_identity_prompt

pytestmark = [pytest.mark.old_task, reads("old_task")]
__all__ = ["old_task_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the old_task capability yields."""
    parametrize_gates(metafunc, "old_task")


@pytest.fixture(scope="session")
def old_task_verdicts(models_under_test, tunegate) -> dict[str, GateResult]:
    """Every dev item answered once by base and tuned model and, where the data folder has an identity, by the
    base told the identity in a system prompt (what the prompt costs the old task, beside what the adapter costs
    it); metrics recorded, every gate checked once."""
    fixtures = tunegate.settings.fixtures
    models = with_identity_prompt(models_under_test, fixtures)
    return tunegate.judge("old_task", models, load_examples(tunegate.settings.data_folder.base_dev))


def test_gate(old_task_verdicts, tunegate, gate_id: str) -> None:
    """Floor and maximum drop, with the paired CI and the McNemar verdict in the message."""
    tunegate.enforce_gate(old_task_verdicts, gate_id)
