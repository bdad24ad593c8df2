"""The recipe check and the resource estimate: a recipe is checked against the base built on the meta device (a
missing target module with its close matches, a rank larger than a layer, GPT-2's Conv1D, scaling, learning rate;
with data: epochs, replay pool, truncation) and the trainable parameters are exact. The estimate against a real
measurement and the `check` command: tests/model/test_recipe_check_model.py."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

from harness.data import Example
from harness.training.estimate import Shape, estimate_table, memory
from harness.training.recipe import LoraRecipe
from harness.training.recipe_check import adaptable_layers, data_findings, structure_findings

TINY_LLAMA = dict(vocab_size=500, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)


def on_meta(config):
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def levels(findings) -> dict[str, str]:
    return {f.key: f.level for f in findings}


def test_a_missing_target_module_is_an_error_naming_the_close_matches():
    layers = adaptable_layers(on_meta(LlamaConfig(**TINY_LLAMA)))
    assert "lm_head" not in layers and "model.layers.0.mlp.down_proj" in layers
    found = structure_findings(LoraRecipe(target_modules=("q_proj", "qkv_proj")), layers, "llama")
    error = next(f for f in found if f.level == "error")
    assert error.key == "target_modules" and "'qkv_proj' matches no" in error.message
    assert "close: v_proj, q_proj, k_proj" in error.message
    assert not [f for f in structure_findings(LoraRecipe(r=8, alpha=16), layers, "llama") if f.level != "note"]


def test_rank_scaling_dropout_and_learning_rate_out_of_range_are_named():
    layers = adaptable_layers(on_meta(LlamaConfig(**TINY_LLAMA)))
    found = structure_findings(LoraRecipe(r=96, alpha=8, dropout=0.5, learning_rate=10.0), layers, "llama")
    assert levels(found) == {"r": "error", "alpha": "warning", "dropout": "warning", "learning_rate": "warning"}
    assert "r = 96 exceeds the smaller side of 14 layer(s)" in str(found[0])


def test_gpt2_conv1d_layers_are_found_and_noted():
    layers = adaptable_layers(on_meta(GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=500)))
    attention = layers["transformer.h.0.attn.c_attn"]
    assert attention.kind == "Conv1D" and (attention.fan_in, attention.fan_out) == (64, 192)
    found = structure_findings(LoraRecipe(r=8, alpha=16), layers, "gpt2")
    assert levels(found) == {"target_modules": "note"} and "fan_in_fan_out" in found[0].message


def test_data_findings_epochs_replay_and_truncation():
    examples = [Example(f"ex-{i}", (("user", "q"),), "a") for i in range(10)]
    found = data_findings(LoraRecipe(steps=1000, batch_size=8, max_length=16, replay_ratio=0.5), examples,
                          [10] * 8 + [40, 50], replay_pool=0)
    by_key = {f.key: f for f in found}
    assert by_key["steps"].level == "warning" and "400 epochs of 10 examples" in by_key["steps"].message
    assert by_key["replay_source"].level == "error"
    assert "2 of 10 examples are longer than 16 tokens" in by_key["max_length"].message
    assert "ex-8, ex-9" in by_key["max_length"].message and "longest 50" in by_key["max_length"].message


def test_trainable_parameters_are_exact_and_the_7b_shape_matches_the_hand_estimate():
    from peft import get_peft_model

    recipe = LoraRecipe(r=8, alpha=16)
    torch.manual_seed(0)
    real = get_peft_model(AutoModelForCausalLM.from_config(LlamaConfig(**TINY_LLAMA)), recipe.peft_config())
    shape = Shape.of(on_meta(LlamaConfig(**TINY_LLAMA)), recipe)
    assert shape.trainable == sum(p.numel() for p in real.parameters() if p.requires_grad)
    qwen7b = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                  num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False)
    from transformers import Qwen2Config

    big = Shape.of(on_meta(Qwen2Config(**qwen7b)), recipe)
    assert (big.parameters, big.trainable) == (7_615_616_512, 20_185_088)  # Qwen2.5-7B; r=8 all-linear: ~20M
    weights = memory(big, 8, 512, "bfloat16")["weights"]
    assert 15.2e9 < weights < 15.4e9  # ~15 GB of bf16 weights
    table = estimate_table(big, recipe, flop_rate=1e14)
    assert "trainable (LoRA r=8, all-linear) 20,185,088 (0.265%)" in table and "bfloat16" in table
