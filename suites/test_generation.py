"""Generation-quality suite: BLEU, chrF, ROUGE-L, exact match and token F1 of the adapter's answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.evaluators import identity
from harness.plugin import parametrize_gates
from harness.records import GateResult

pytestmark = [pytest.mark.generation, pytest.mark.reads(*identity.DATA_FILES)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the generation capability yields."""
    parametrize_gates(metafunc, "generation")


@pytest.fixture(scope="session")
def generation_verdicts(models_under_test, identity_spec, tunegate) -> dict[str, GateResult]:
    """Every identity probe with a reference answer generated once by base and tuned; metrics and gates."""
    examples = [replace(p.example, id=p.id) for p in identity.load_probes(tunegate.settings.fixtures, identity_spec)
                if p.kind != "locality"]
    return tunegate.judge("generation", models_under_test, examples)


def test_gate(generation_verdicts, tunegate, gate_id: str) -> None:
    """One generation-quality gate, with the base model's value in the message."""
    tunegate.enforce(generation_verdicts[gate_id])
