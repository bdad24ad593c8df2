"""Shared by tests/fast/test_model_fast.py and tests/model/test_model.py: a 3-step built-in recipe and a few dev
examples to score."""

from __future__ import annotations

from harness.training.builtin import BuiltinRecipe
from tests.conftest import ROOT

TINY = BuiltinRecipe(steps=3, batch_size=8)


def load_examples_for_scoring():
    from harness.data import load_examples

    return load_examples(ROOT / "fixtures/tasks/base/dev.json")[:6]
