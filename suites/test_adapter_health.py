"""Adapter-health suite: activation entropy and rate, weight health, "is it applied", merge parity."""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.evaluators import adapter_health
from harness.plugin import parametrize_gates
from harness.results import GateResult

pytestmark = pytest.mark.adapter_health


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every configured adapter_health gate."""
    parametrize_gates(metafunc, adapter_health.CAPABILITY)


@pytest.fixture(scope="session")
def adapter_health_verdicts(identity_models, merged_model, identity_spec, tunegate) -> dict[str, GateResult]:
    """All health checks run once on the adapter under test (identity data and the base dev set as inputs)."""
    base, tuned = identity_models
    fixtures = tunegate.settings.fixtures
    examples = (load_examples(fixtures / "identity/self_cognition.json", identity_spec.variables)
                + load_examples(fixtures / "tasks/base/dev.json"))
    report = adapter_health.measure_health(base, tuned, merged_model, examples)
    metrics = adapter_health.health_metrics(report)
    return tunegate.conclude(adapter_health.CAPABILITY, metrics, [],
                             adapter_health.health_gate_results(report, tunegate.gates.gates, metrics))


def test_gate(adapter_health_verdicts, tunegate, gate_id: str) -> None:
    """One health gate; the message names the layers at fault."""
    tunegate.enforce(adapter_health_verdicts[gate_id])
