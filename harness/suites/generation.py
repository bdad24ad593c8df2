"""Generation-quality suite: BLEU, chrF, ROUGE-L, exact match and token F1 of the adapter's answers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.api import parametrize_gates, reads
from harness.data import load_examples
from harness.data.folder import IDENTITY_DATA, NEEDS
from harness.evaluators import identity
from harness.foundation.records import GateResult
from harness.model.prompted import with_identity_prompt

pytestmark = [pytest.mark.generation, reads("generation")]
__all__ = ["generation_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the generation capability yields."""
    parametrize_gates(metafunc, "generation", reads=NEEDS["generation"].gates)  # a claim of learning


@pytest.fixture(scope="session")
def generation_verdicts(request, models_under_test, tunegate) -> dict[str, GateResult]:
    """Every identity probe with a reference answer (or, in a data folder without identity data, every base dev
    example) generated once by base, tuned and the base told the identity in a system prompt (the identity suite's
    requests: cached); metrics and gates."""
    fixtures, folder = tunegate.settings.fixtures, tunegate.settings.data_folder
    if folder.missing(IDENTITY_DATA):
        return tunegate.judge("generation", models_under_test, load_examples(folder.base_dev))
    spec = request.getfixturevalue("identity_spec")
    examples = [replace(p.example, id=p.id) for p in identity.load_probes(fixtures, spec) if p.kind != "locality"]
    return tunegate.judge("generation", with_identity_prompt(models_under_test, fixtures), examples)


def test_gate(generation_verdicts, tunegate, gate_id: str) -> None:
    """One generation-quality gate, with the base model's value in the message."""
    tunegate.enforce_gate(generation_verdicts, gate_id)
