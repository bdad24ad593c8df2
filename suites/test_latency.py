"""Latency suite: adapter overhead in throughput and time to first token, unmerged and merged, vs the base."""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.evaluators import latency
from harness.model.lm import plain_base
from harness.plugin import parametrize_gates
from harness.results import GateResult

pytestmark = pytest.mark.latency


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every configured latency gate."""
    parametrize_gates(metafunc, latency.CAPABILITY)


@pytest.fixture(scope="session")
def latency_verdicts(base_model, identity_models, merged_model, tunegate) -> dict[str, GateResult]:
    """The plain base model (no peft wrapper), the tuned view and the merged copy, timed in interleaved rounds
    on the base task's dev prompts; metrics and gates."""
    base, tuned = plain_base(base_model, tunegate.requests), identity_models[1]
    prompts = [ex.messages for ex in load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")]
    timings = latency.measure_latency({"base": base, "tuned": tuned, "merged": merged_model}, prompts)
    metrics = latency.latency_metrics(timings)
    tunegate.record_metrics(metrics)
    return latency.latency_gate_results(timings, tunegate.gates.gates, metrics)


def test_gate(latency_verdicts, tunegate, gate_id: str) -> None:
    """One latency gate, with the absolute figures behind the ratio in the message."""
    tunegate.enforce(latency_verdicts[gate_id])
