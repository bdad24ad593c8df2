"""The answer-language suite: written like the built-in ones (fixture -> registered capability -> one test per
gate)."""

from __future__ import annotations

import pytest

from harness.api import load_examples, parametrize_gates

pytestmark = pytest.mark.answer_language


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per gate of the capability (and its baseline and drift gates under --baseline)."""
    parametrize_gates(metafunc, "answer_language")


@pytest.fixture(scope="session")
def answer_language_verdicts(models_under_test, identity_spec, tunegate):
    """The base task's dev questions and the identity probes, answered once by base and tuned model."""
    fixtures = tunegate.settings.fixtures
    data = (load_examples(fixtures / "tasks/base/dev.json")
            + load_examples(fixtures / "identity/probes.json", identity_spec.variables))
    return tunegate.judge("answer_language", models_under_test, data)


def test_gate(answer_language_verdicts, tunegate, gate_id: str) -> None:
    """One answer-language gate; the message names answers in the wrong language."""
    tunegate.enforce_gate(answer_language_verdicts, gate_id)
