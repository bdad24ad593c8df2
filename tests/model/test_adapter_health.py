"""Adapter-health gates: each FAILS on a planted regression (dead B, NaN, overscaled A, zero A, a merge that
forgets the LoRA scaling) and PASSES on the healthy adapter; activation capture masks padding."""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import pytest
import torch

from harness.data import load_examples
from harness.evaluators import adapter_health
from harness.model.lm import HFLanguageModel
from harness.model.sets import HealthModels
from harness.model.views import base_and_tuned
from tests.conftest import plant_adapter, verdicts_of

GATES = {f"adapter_health.{m}" for m in adapter_health.METRICS} - {"adapter_health.max_update_ratio"}  # reported


@pytest.fixture(scope="module")
def health_examples(tunegate, identity_spec):
    fixtures = tunegate.settings.fixtures
    return (load_examples(fixtures / "identity/self_cognition.json", identity_spec.variables)[:24]
            + load_examples(fixtures / "tasks/base/dev.json")[:40])


def verdicts_for(base, tuned, merged, examples, tunegate):
    return verdicts_of(tunegate, "adapter_health", HealthModels(base, tuned, merged), examples)


def planted(base_model, adapter_under_test, tmp_path, transform, matrix="lora_B"):
    folder = plant_adapter(adapter_under_test, tmp_path / "planted", transform, matrix)
    base, tuned = base_and_tuned(base_model, folder)
    return base, tuned, tuned.merged()


def failing(verdicts):
    return {gate for gate, v in verdicts.items() if not v.passed}


def test_healthy_adapter_passes_every_health_gate(models_under_test, health_examples, tunegate):
    base, tuned = models_under_test
    verdicts = verdicts_for(base, tuned, tuned.merged(), health_examples, tunegate)
    assert set(verdicts) == GATES
    assert not failing(verdicts), [v.message for v in verdicts.values()]


def test_zeroed_b_is_dead_and_not_applied(base_model, adapter_under_test, health_examples, tunegate, tmp_path):
    models = planted(base_model, adapter_under_test, tmp_path, lambda b: b * 0)
    verdicts = verdicts_for(*models, health_examples, tunegate)
    assert {"adapter_health.dead_layers", "adapter_health.loglik_shift",
            "adapter_health.min_effective_rank"} <= failing(verdicts)
    assert verdicts["adapter_health.loglik_shift"].value == 0.0
    layers = len(models[1].lora_layers())  # every LoRA layer the recipe targets
    assert layers > 0 and f"B is all zeros in {layers} layers" in verdicts["adapter_health.dead_layers"].message


def test_nan_in_one_matrix_fails_with_the_layer_named(base_model, adapter_under_test, health_examples, tunegate,
                                                      tmp_path):
    def poison(tensors):
        key = next(k for k in sorted(tensors) if "layers.1.mlp.up_proj.lora_A" in k)
        tensors[key][0, 0] = float("nan")

    base, tuned, merged = planted(base_model, adapter_under_test, tmp_path, poison, matrix=None)
    verdicts = verdicts_for(base, tuned, merged, health_examples, tunegate)
    nonfinite = verdicts["adapter_health.nonfinite_layers"]
    assert not nonfinite.passed and nonfinite.value == 1
    assert "non-finite weights in model.layers.1.mlp.up_proj (A)" in nonfinite.message
    assert "adapter_health.min_activation_entropy" in failing(verdicts)


def test_overscaled_a_collapses_entropy_and_fails_a_growth(base_model, adapter_under_test, health_examples,
                                                            tunegate, tmp_path):
    verdicts = verdicts_for(*planted(base_model, adapter_under_test, tmp_path, lambda a: a * 200, "lora_A"),
                            health_examples, tunegate)
    assert {"adapter_health.max_a_growth", "adapter_health.min_activation_entropy"} <= failing(verdicts)
    assert "worst layer model.layers." in verdicts["adapter_health.min_activation_entropy"].message
    assert verdicts["adapter_health.max_a_growth"].value > 200


def test_one_exploding_layer_fails_the_update_spread_with_the_layer_named(base_model, adapter_under_test,
                                                                         health_examples, tunegate, tmp_path):
    """Every layer's update but one is as trained: the spread against the median layer names it."""
    def explode(tensors):
        key = next(k for k in sorted(tensors) if "layers.0.self_attn.q_proj.lora_B" in k)
        tensors[key] *= 30

    verdicts = verdicts_for(*planted(base_model, adapter_under_test, tmp_path, explode, matrix=None),
                            health_examples, tunegate)
    assert "adapter_health.update_ratio_spread" in failing(verdicts)
    assert "adapter_health.max_a_growth" not in failing(verdicts)
    assert "largest layer model.layers.0.self_attn.q_proj" in verdicts["adapter_health.update_ratio_spread"].message


def test_update_is_peft_own_delta_weight_in_the_base_weight_layout(models_under_test, tmp_path):
    """fan_in_fan_out (GPT-2's Conv1D) and the scaling come from peft's get_delta_weight."""
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel

    _, tuned = models_under_test
    layer = tuned.lora_layers()[0]
    assert torch.allclose(layer.delta(), layer.scaling * layer.B.float() @ layer.A.float(), atol=1e-6)
    gpt2 = get_peft_model(GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=64)),
                          LoraConfig(r=4, target_modules=["c_attn"], fan_in_fan_out=True, init_lora_weights=False))
    from harness.model.lora_layers import lora_layers
    conv = lora_layers(gpt2)[0]
    assert conv.delta().shape == conv.base_weight.shape == (32, 96)
    assert conv.initial_a_norm() == pytest.approx((4 / 3) ** 0.5)


def test_a_growth_is_not_measured_for_data_derived_inits(models_under_test, health_examples):
    """PiSSA-style inits set A from the weights: no fixed initial scale, so the gate says to turn it off."""
    _, tuned = models_under_test
    layers = [adapter_health.layer_health(replace(layer, init_scheme="pissa"), torch.zeros(1, layer.rank))
              for layer in tuned.lora_layers()]
    report = adapter_health.HealthReport(layers, [0.0], [1.0], 0.0, [], 1)
    values = {m.name: m for m in adapter_health.health_metrics(report)}
    assert math.isnan(values["max_a_growth"].value) and values["max_a_growth"].n == 0
    assert 'max_a_growth = "off"' in adapter_health.health_detail(report, "max_a_growth")
    assert values["update_ratio_spread"].value >= 1


def test_zeroed_a_has_no_activations(base_model, adapter_under_test, health_examples, tunegate, tmp_path):
    verdicts = verdicts_for(*planted(base_model, adapter_under_test, tmp_path, lambda a: a * 0, "lora_A"),
                            health_examples, tunegate)
    assert "adapter_health.min_activation_rate" in failing(verdicts)
    assert verdicts["adapter_health.min_activation_rate"].value == 0.0


def test_merge_that_forgets_the_scaling_fails_parity(models_under_test, health_examples, tunegate):
    base, tuned = models_under_test
    broken = copy.deepcopy(tuned.model)
    for layer in tuned.lora_layers():
        module = broken.get_submodule(f"base_model.model.{layer.name}")
        module.lora_B["default"].weight.data /= layer.scaling
    bad_merge = HFLanguageModel(broken.merge_and_unload().eval(), tuned.tokenizer, name="bad merge")
    verdicts = verdicts_for(base, tuned, bad_merge, health_examples, tunegate)
    assert {"adapter_health.merge_logit_rel_diff", "adapter_health.merge_output_agreement"} == failing(verdicts)
    assert "greedy answers changed by merging" in verdicts["adapter_health.merge_output_agreement"].message


def test_activation_capture_drops_padding(models_under_test, health_examples):
    _, tuned = models_under_test
    examples = health_examples[:5]
    activations = tuned.lora_activations(examples)
    real_tokens = sum(len(tuned._answer_item(tuple(ex.messages), ex.answer)[0]) for ex in examples)
    rank = tuned.model.peft_config["default"].r
    assert len(activations) == len(tuned.lora_layers()) > 0
    assert all(a.shape == (real_tokens, rank) and torch.isfinite(a).all() for a in activations.values())


def test_a_dora_adapter_has_its_activations_captured(base_model, health_examples, tmp_path):
    """DoRA runs lora_A on an identity matrix for its weight norm; only the token activations are captured."""
    from peft import LoraConfig, get_peft_model

    model, _ = base_model.load()
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  use_dora=True, init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "dora")
    _, tuned = base_and_tuned(base_model, tmp_path / "dora")
    examples = health_examples[:3]
    activations = tuned.lora_activations(examples)
    real_tokens = sum(len(tuned._answer_item(tuple(ex.messages), ex.answer)[0]) for ex in examples)
    assert len(activations) == len(tuned.lora_layers()) > 0
    assert all(a.shape == (real_tokens, 4) for a in activations.values())
