"""The old-task change verdict without a model: small differences are within noise."""

from __future__ import annotations

from harness.evaluators import accuracy
from harness.evaluators.answers import AnswerPair


def test_noise_verdict_on_small_differences():
    from harness.data import Example

    items = [AnswerPair(Example(str(i), (("user", "q"),), "a"), "a", "a" if i else "b") for i in range(50)]
    assert "within noise" in accuracy.change_verdict(items, expect_gain=False)
