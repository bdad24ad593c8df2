"""Adapter-health suite: activation entropy and rate, weight health, "is it applied", merge parity."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates, reads
from harness.data import load_examples
from harness.data.folder import NEEDS
from harness.foundation.records import GateResult
from harness.model.sets import HealthModels

pytestmark = [pytest.mark.adapter_health, reads("adapter_health")]
__all__ = ["adapter_health_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]
ALSO_READ = NEEDS["adapter_health"].optional  # the identity training data, read as well when present


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the adapter_health capability yields."""
    parametrize_gates(metafunc, "adapter_health")


@pytest.fixture(scope="session")
def adapter_health_verdicts(request, models_under_test, merged_model, tunegate) -> dict[str, GateResult]:
    """All health checks run once on the adapter under test: on the base dev set, and on the identity data when
    the data folder has it."""
    folder = tunegate.settings.data_folder
    examples = load_examples(folder.base_dev)
    if not folder.missing(ALSO_READ):
        spec = request.getfixturevalue("identity_spec")
        examples = load_examples(folder.self_cognition, spec.variables) + examples
    models = HealthModels(models_under_test.base, models_under_test.tuned, merged_model)
    return tunegate.judge("adapter_health", models, examples)


def test_gate(adapter_health_verdicts, tunegate, gate_id: str) -> None:
    """One health gate; the message names the layers at fault."""
    tunegate.enforce_gate(adapter_health_verdicts, gate_id)
