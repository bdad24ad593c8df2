"""New-task suite: the newest increment's dev set, base vs tuned (the built-in adapter: the gated sequence's last
stage, trained on that increment); floor and minimum gain."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates, reads
from harness.data import load_examples
from harness.foundation.records import GateResult
from harness.model.prompted import PromptedModel, few_shot_prompt
from harness.training.sequence import sequence_tasks

pytestmark = [pytest.mark.new_task, reads("new_task")]
__all__ = ["new_task_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the new_task capability yields."""
    parametrize_gates(metafunc, "new_task")


@pytest.fixture(scope="session")
def new_task_verdicts(new_task_models, tunegate) -> dict[str, GateResult]:
    """Every dev item of the new task answered once by base, tuned and the base prompted with worked examples
    (fixtures/prompted.toml); metrics recorded, gates checked."""
    fixtures = tunegate.settings.fixtures
    task = sequence_tasks(fixtures)[-1]
    folder = tunegate.settings.data_folder
    dev = load_examples(folder.task(task, "dev"))
    if not folder.task(task, "train").is_file():  # no worked examples to prompt with: no column
        return tunegate.judge("new_task", new_task_models, dev)
    prompted = PromptedModel(new_task_models.base, *few_shot_prompt(fixtures, task, dev))
    return tunegate.judge("new_task", new_task_models.with_prompted(prompted), dev)


def test_gate(new_task_verdicts, tunegate, gate_id: str) -> None:
    """Exact-match floor and minimum gain over the base, with the McNemar verdict in the message."""
    tunegate.enforce_gate(new_task_verdicts, gate_id)
