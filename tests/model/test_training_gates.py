"""Training health: a diverging recipe (learning rate 10) FAILS the training gates without crashing, the healthy
built-in adapter PASSES them."""

from __future__ import annotations

import math

from harness.data import load_examples
from harness.training.lora import TrainedAdapter, train_adapter
from harness.training.recipe import load_recipe
from tests.conftest import verdicts_of


def training_record(adapter) -> dict:
    trained = TrainedAdapter.read(adapter)
    return {"adapter": {**trained.info, "log": trained.log}}


def test_the_healthy_adapter_passes_the_training_gates(adapter_under_test, tunegate):
    verdicts = verdicts_of(tunegate, "training", None, training_record(adapter_under_test))
    assert set(verdicts) == {"training.loss_ratio", "training.nonfinite_steps"}
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]
    assert verdicts["training.loss_ratio"].value < 0.1  # margin: the gate is 0.5


def test_a_diverging_recipe_fails_the_training_gates_and_does_not_crash(base_model, identity_spec, tunegate):
    fixtures = tunegate.settings.fixtures
    recipe = load_recipe(fixtures / "recipes.toml", "identity")
    diverging = type(recipe).from_mapping({**recipe.to_dict(), "learning_rate": 10.0, "steps": 40})
    data = load_examples(fixtures / "identity/self_cognition.json", identity_spec.variables)
    trained = train_adapter(base_model, data, diverging, tunegate.settings.cache_dir, name="identity-lr-10")
    verdicts = verdicts_of(tunegate, "training", None, {"lr 10": {**trained.info, "log": trained.log}})
    assert not any(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]  # both gates
    assert verdicts["training.nonfinite_steps"].value == 1 and verdicts["training.loss_ratio"].value == math.inf
    assert all("lr 10: loss" in v.message for v in verdicts.values())  # the message names the adapter and losses
