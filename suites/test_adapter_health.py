"""Adapter-health suite: activation entropy and rate, weight health, "is it applied", merge parity."""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.plugin import parametrize_gates
from harness.records import GateResult

pytestmark = [pytest.mark.adapter_health,
              pytest.mark.reads("identity/identity.toml", "identity/self_cognition.json", "tasks/base/dev.json")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the adapter_health capability yields."""
    parametrize_gates(metafunc, "adapter_health")


@pytest.fixture(scope="session")
def adapter_health_verdicts(models_under_test, merged_model, identity_spec, tunegate) -> dict[str, GateResult]:
    """All health checks run once on the adapter under test (identity data and the base dev set as inputs)."""
    fixtures = tunegate.settings.fixtures
    examples = (load_examples(fixtures / "identity/self_cognition.json", identity_spec.variables)
                + load_examples(fixtures / "tasks/base/dev.json"))
    return tunegate.judge("adapter_health", (*models_under_test, merged_model), examples)


def test_gate(adapter_health_verdicts, tunegate, gate_id: str) -> None:
    """One health gate; the message names the layers at fault."""
    tunegate.enforce(adapter_health_verdicts[gate_id])
