"""Forgetting suite: the replay sequence base -> increment_1 -> increment_2 gated on ACC, BWT and forgetting;
the naive sequence is measured beside it as a strategy comparison and never fails the run."""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.evaluators import forgetting
from harness.model.lm import base_and_tuned, untrained_like
from harness.plugin import parametrize_gates
from harness.results import GateResult
from harness.session import SEQUENCE_STRATEGIES

pytestmark = [pytest.mark.forgetting, pytest.mark.trains("sequences", unless=("adapter",))]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every configured forgetting gate."""
    parametrize_gates(metafunc, forgetting.CAPABILITY)


@pytest.fixture(scope="session")
def sequence_results(base_model, tunegate, request) -> dict[str, forgetting.SequenceResult]:
    """Every strategy's accuracy matrix and loss check, recorded for results.json and the report."""
    if tunegate.settings.adapter:
        pytest.skip("--adapter evaluates one checkpoint without training; the forgetting suite trains its own "
                    "sequence (audit external checkpoints with -m audit --checkpoints RUN_DIR)")
    sequences = request.getfixturevalue("sequences")  # trained only when the suite really runs
    tasks = [stage.task for stage in next(iter(sequences.values()))]
    devs = {task: load_examples(tunegate.settings.fixtures / f"tasks/{task}/dev.json") for task in tasks}
    untrained = untrained_like(base_model, cache=tunegate.requests)
    results = {}
    for strategy, stages in sequences.items():
        views = [base_and_tuned(base_model, stage.adapter, cache=tunegate.requests) for stage in stages[1:]]
        models = [views[0][0], *(tuned for _, tuned in views)]
        results[strategy] = forgetting.evaluate_sequence(strategy, models, untrained, devs)
        tunegate.record.run.setdefault("sequences", {})[strategy] = results[strategy].summary()
    return results


@pytest.fixture(scope="session")
def forgetting_verdicts(sequence_results, tunegate) -> dict[str, GateResult]:
    """Gates on the first (gated) strategy; the others are recorded under their own checkpoint names."""
    gated, *compared = SEQUENCE_STRATEGIES
    for strategy in compared:
        tunegate.record_metrics(forgetting.forgetting_metrics(sequence_results[strategy], checkpoint=strategy))
    metrics = forgetting.forgetting_metrics(sequence_results[gated])
    return tunegate.conclude(forgetting.CAPABILITY, metrics, [],
                             forgetting.forgetting_gate_results(sequence_results[gated], tunegate.gates.gates, metrics))


def test_gate(forgetting_verdicts, tunegate, gate_id: str) -> None:
    """ACC, BWT or maximum forgetting of the gated sequence, with its accuracy matrix in the message."""
    tunegate.enforce(forgetting_verdicts[gate_id])
