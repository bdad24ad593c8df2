"""Continual learning on the built-in model: naive fine-tuning FAILS the forgetting gates, replay PASSES them;
stages continue from the previous adapter; frozen layers and the L2 pull do what they say."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file

from harness.evaluators import forgetting
from harness.model.loading import adapter_digest
from harness.model.views import adapter_chain, untrained_like
from harness.training.lora import freeze_lower_layers, l2_penalty
from harness.training.recipe import LoraRecipe
from harness.training.sequence import sequence_tasks, task_split
from tests.conftest import verdicts_of


@pytest.fixture(scope="module")
def stage_models(sequences, base_model):
    """Per strategy, its stages' models (the base model first)."""
    return {strategy: adapter_chain(base_model, [s.adapter for s in stages[1:]])
            for strategy, stages in sequences.items()}


@pytest.fixture(scope="module")
def sequence_data(base_model, tunegate):
    """(dev set per task in sequence order, an untrained model of the same architecture)."""
    fixtures = tunegate.settings.fixtures
    return {task: task_split(fixtures, task, "dev") for task in sequence_tasks(fixtures)}, untrained_like(base_model)


@pytest.fixture(scope="module")
def results(stage_models, sequence_data):
    devs, untrained = sequence_data
    return {strategy: forgetting.evaluate_sequence(strategy, models, untrained, devs)
            for strategy, models in stage_models.items()}


def test_naive_fails_and_replay_passes_the_forgetting_gates(results, stage_models, sequence_data, tunegate):
    naive, replay = (verdicts_of(tunegate, "forgetting", {strategy: stage_models[strategy]}, sequence_data)
                     for strategy in ("naive", "replay"))
    assert set(naive) == set(replay) == {"forgetting.acc", "forgetting.bwt", "forgetting.max_forgetting"}
    assert not any(v.passed for v in naive.values()), [v.message for v in naive.values()]
    assert all(v.passed for v in replay.values()), [v.message for v in replay.values()]
    base_accuracy = results["naive"].matrix[0][0]
    assert f"naive sequence, exact match after base: base {base_accuracy:.2f}" in naive["forgetting.bwt"].message
    naive_bwt, replay_bwt = (r.summary()["bwt"] for r in (results["naive"], results["replay"]))
    assert replay_bwt - naive_bwt > 0.5  # replay measurably reduces forgetting


def test_every_stage_learns_its_task_and_the_loss_check_sees_forgetting(results):
    for result in results.values():
        assert result.matrix[-1][-1] >= 0.9  # the last stage learned its increment
        assert result.baseline == [0.0, 0.0, 0.0]  # a random model answers nothing exactly
    assert all(results["replay"].matrix[i][i] >= 0.8 for i in range(1, len(results["replay"].tasks)))
    naive, replay = results["naive"].losses[0], results["replay"].losses[0]
    assert naive["base_after"] > 5 * naive["base_before"]  # naive: base-task loss explodes
    assert replay["base_after"] < 2 * replay["base_before"] and replay["mixed_after"] < replay["mixed_before"]


def test_stages_continue_from_the_previous_adapter(sequences):
    for stages in sequences.values():
        assert stages[0].adapter is None and stages[1].info["init_from_sha256"] is None
        assert stages[2].info["init_from_sha256"] == adapter_digest(stages[1].adapter)


def test_frozen_layers_and_l2_penalty(base_model):
    model, _ = base_model.load()
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"))
    freeze_lower_layers(model, top_layers=1)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".layers.1." in n for n in trainable)
    penalty = l2_penalty(model, 0.5)
    assert float(penalty().detach()) == 0.0
    param = next(p for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        param.add_(1.0)
    assert float(penalty().detach()) == pytest.approx(0.5 * param.numel())
    assert l2_penalty(model, 0.0) is None
    with pytest.raises(ValueError, match=r"key 'l2_to_previous' must be a number >= 0"):
        LoraRecipe(l2_to_previous=-1)


def test_frozen_recipe_trains_only_the_top_layer(base_model, sequences, tunegate):
    from harness.training.lora import train_adapter

    first = sequences["replay"][1].adapter
    recipe = LoraRecipe(r=8, alpha=32, steps=5, train_top_layers=1)
    data = task_split(tunegate.settings.fixtures, "increment_2", "train")
    frozen = train_adapter(base_model, data, recipe, tunegate.settings.cache_dir, name="frozen-test",
                           init_from=first).path
    before, after = load_file(first / "adapter_model.safetensors"), load_file(frozen / "adapter_model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before if ".layers.0." in k)
    assert any(not torch.equal(before[k], after[k]) for k in before if ".layers.1." in k)
