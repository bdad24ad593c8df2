"""Perplexity suite: tuned / base perplexity on held-out text and on the base task's dev answers."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates, reads
from harness.data import load_examples, load_text_lines
from harness.data.folder import NEEDS
from harness.evaluators.perplexity import PerplexityData
from harness.foundation.records import GateResult
from harness.model.prompted import with_identity_prompt

pytestmark = [pytest.mark.perplexity, reads("perplexity")]
__all__ = ["perplexity_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the perplexity capability yields."""
    parametrize_gates(metafunc, "perplexity", reads=NEEDS["perplexity"].gates)  # the held-out gate needs heldout.txt


@pytest.fixture(scope="session")
def perplexity_verdicts(models_under_test, tunegate) -> dict[str, GateResult]:
    """Held-out text (when the data folder has it) and dev answers scored once under base and tuned model, the dev
    answers also under the base told the identity in a system prompt (when the data folder has one); metrics
    recorded, gates checked."""
    fixtures = tunegate.settings.fixtures
    folder = tunegate.settings.data_folder
    heldout = load_text_lines(folder.heldout) if folder.heldout.is_file() else []
    data = PerplexityData(heldout, load_examples(folder.base_dev))
    return tunegate.judge("perplexity", with_identity_prompt(models_under_test, fixtures), data)


def test_gate(perplexity_verdicts, tunegate, gate_id: str) -> None:
    """Tuned / base perplexity ratio within its bound."""
    tunegate.enforce_gate(perplexity_verdicts, gate_id)
