"""Perplexity suite: tuned / base perplexity on held-out text and on the base task's dev answers."""

from __future__ import annotations

import pytest

from harness.data import load_examples, load_text_lines
from harness.evaluators import perplexity
from harness.plugin import parametrize_gates
from harness.results import GateResult

pytestmark = pytest.mark.perplexity


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every configured perplexity gate."""
    parametrize_gates(metafunc, perplexity.CAPABILITY)


@pytest.fixture(scope="session")
def perplexity_verdicts(identity_models, tunegate) -> dict[str, GateResult]:
    """Held-out text and dev answers scored once under base and tuned model; metrics recorded, gates checked."""
    base, tuned = identity_models
    s = tunegate.settings
    corpora = perplexity.score_corpora(load_text_lines(s.fixtures / "perplexity/heldout.txt"),
                                       load_examples(s.fixtures / "tasks/base/dev.json"), base, tuned,
                                       s.ppl_window, s.ppl_stride)
    metrics = perplexity.perplexity_metrics(corpora)
    return tunegate.conclude(perplexity.CAPABILITY, metrics, [],
                             perplexity.perplexity_gate_results(corpora, tunegate.gates.gates, metrics))


def test_gate(perplexity_verdicts, tunegate, gate_id: str) -> None:
    """Tuned / base perplexity ratio within its bound."""
    tunegate.enforce(perplexity_verdicts[gate_id])
