"""Training suite: every adapter this run trained (or brought with its trainer log) really trained: its loss fell
well below where it started and never went NaN or infinite. A diverging recipe is a FAIL here, not a crash."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates
from harness.foundation.records import GateResult

pytestmark = [pytest.mark.training, pytest.mark.trains("sequences", unless=("brings_model",))]
__all__ = ["pytest_generate_tests", "pytestmark", "test_gate", "training_verdicts"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the training capability yields."""
    parametrize_gates(metafunc, "training")


@pytest.fixture(scope="session")
def training_verdicts(adapter_under_test, tunegate, request) -> dict[str, GateResult]:
    """The loss logs of the adapters under test (trained here, or an --adapter's trainer_state.json) and, when
    the run trains them, of the continual-learning sequences; checked once."""
    s = tunegate.settings
    if not s.brings_model and s.data_folder.trains_increments():
        request.getfixturevalue("sequences")
    return tunegate.judge("training", None, dict(tunegate.record.run.training))


def test_gate(training_verdicts, tunegate, gate_id: str) -> None:
    """The worst adapter's loss ratio and the non-finite steps within their bounds."""
    tunegate.enforce_gate(training_verdicts, gate_id)
