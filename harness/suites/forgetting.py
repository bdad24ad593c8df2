"""Forgetting suite: the replay sequence base -> increment_1 -> increment_2 gated on ACC, BWT and forgetting;
the naive sequence is measured beside it as a strategy comparison and never fails the run."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates, reads
from harness.data import load_examples
from harness.evaluators.forgetting import ForgettingData
from harness.foundation.records import GateResult
from harness.model.views import adapter_chain, untrained_like

pytestmark = [pytest.mark.forgetting, reads("forgetting"),
              pytest.mark.trains("sequences", unless=("brings_model",))]
__all__ = ["forgetting_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the forgetting capability yields."""
    parametrize_gates(metafunc, "forgetting")


@pytest.fixture(scope="session")
def forgetting_verdicts(base_model, tunegate, request) -> dict[str, GateResult]:
    """Every strategy's sequence (the gated one first) answers every task's dev set once: accuracy matrices and
    loss checks recorded, the gated strategy's gates checked."""
    if tunegate.settings.brings_model:
        pytest.skip("trains its own sequence: --adapter / --tuned-model evaluate one model without training (audit "
                    "your run's checkpoints with -m audit --checkpoints=RUN_DIR)")
    sequences = request.getfixturevalue("sequences")  # trained only when the suite really runs
    tasks = [stage.task for stage in next(iter(sequences.values()))]
    devs = {task: load_examples(tunegate.settings.data_folder.task(task, "dev")) for task in tasks}
    models = {strategy: adapter_chain(base_model, [stage.adapter for stage in stages[1:]], cache=tunegate.requests)
              for strategy, stages in sequences.items()}
    untrained = untrained_like(base_model, cache=tunegate.requests)
    return tunegate.judge("forgetting", models, ForgettingData(devs, untrained))


def test_gate(forgetting_verdicts, tunegate, gate_id: str) -> None:
    """ACC, BWT or maximum forgetting of the gated sequence, with its accuracy matrix in the message."""
    tunegate.enforce_gate(forgetting_verdicts, gate_id)
