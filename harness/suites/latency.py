"""Latency suite: adapter overhead in throughput and time to first token, unmerged and merged, vs the base."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates, reads
from harness.data import load_examples
from harness.foundation.cpu import processes_sharing_cores, xdist_workers
from harness.foundation.records import GateResult
from harness.model.loading import resolve_device
from harness.model.prompted import identity_prompted
from harness.model.sets import LatencyViews
from harness.model.views import plain_base

pytestmark = [pytest.mark.latency, reads("latency"),
              pytest.mark.trains("adapter_under_test", unless=("brings_model",))]
__all__ = ["latency_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the latency capability yields."""
    parametrize_gates(metafunc, "latency")


@pytest.fixture(scope="session")
def latency_verdicts(request, tunegate) -> dict[str, GateResult]:
    """The plain base model (no peft wrapper), the tuned view, the merged copy and (where the data folder has an
    identity) the plain base with the identity's system prompt, timed in interleaved rounds
    on the base task's dev prompts (a FAIL is re-measured once), after any helper training process has finished;
    metrics and gates. Skipped, before any model is loaded, when other processes share what is timed: pytest-xdist
    workers, or the CPU processes of an `accelerate launch` (one process per GPU is timed)."""
    if (workers := xdist_workers()) > 1:
        pytest.skip(f"timed alone only: {workers} pytest-xdist workers share the machine (run -m latency "
                    "without -n)")
    if processes_sharing_cores() > 1 and resolve_device(tunegate.settings.device) == "cpu":
        pytest.skip("timed alone only: the processes of this `accelerate launch` share the CPU (time it in a "
                    "plain run)")
    request.getfixturevalue("trained_adapters").finish()  # no training process may run beside the timing
    base_model, merged = request.getfixturevalue("base_model"), request.getfixturevalue("merged_model")
    plain = plain_base(base_model, tunegate.requests)
    models = LatencyViews(plain, request.getfixturevalue("models_under_test").tuned, merged,
                          identity_prompted(plain, tunegate.settings.fixtures))
    prompts = [ex.messages for ex in load_examples(tunegate.settings.data_folder.base_dev)]
    return tunegate.judge("latency", models, prompts)


def test_gate(latency_verdicts, tunegate, gate_id: str) -> None:
    """One latency gate, with the absolute figures behind the ratio in the message."""
    tunegate.enforce_gate(latency_verdicts, gate_id)
