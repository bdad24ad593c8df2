"""Perplexity suite: tuned / base perplexity on held-out text and on the base task's dev answers."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates
from harness.data import load_examples, load_text_lines
from harness.evaluators.perplexity import PerplexityData
from harness.foundation.records import GateResult
from harness.model.prompted import with_identity_prompt

pytestmark = [pytest.mark.perplexity, pytest.mark.reads("tasks/base/dev.json")]
__all__ = ["perplexity_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]
HELDOUT = "perplexity/heldout.txt"  # only the held-out gate needs it


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the perplexity capability yields."""
    parametrize_gates(metafunc, "perplexity", reads={"heldout_ratio": (HELDOUT,)})


@pytest.fixture(scope="session")
def perplexity_verdicts(models_under_test, tunegate) -> dict[str, GateResult]:
    """Held-out text (when the data folder has it) and dev answers scored once under base and tuned model, the dev
    answers also under the base told the identity in a system prompt (when the data folder has one); metrics
    recorded, gates checked."""
    fixtures = tunegate.settings.fixtures
    heldout = load_text_lines(fixtures / HELDOUT) if (fixtures / HELDOUT).is_file() else []
    data = PerplexityData(heldout, load_examples(fixtures / "tasks/base/dev.json"))
    return tunegate.judge("perplexity", with_identity_prompt(models_under_test, fixtures), data)


def test_gate(perplexity_verdicts, tunegate, gate_id: str) -> None:
    """Tuned / base perplexity ratio within its bound."""
    tunegate.enforce_gate(perplexity_verdicts, gate_id)
