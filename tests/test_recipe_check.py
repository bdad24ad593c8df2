"""The recipe check and the resource estimate: a recipe is checked against the base built on the meta device (a
missing target module with its close matches, a rank larger than a layer, GPT-2's Conv1D, scaling, learning rate;
with data: epochs, replay pool, truncation), the trainable parameters are exact, and the estimate is compared with
a real measurement (memory and time per step, in a fresh process: bench/resource_estimate.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

from harness.data import Example
from harness.training.estimate import Shape, estimate_table, memory
from harness.training.recipe import LoraRecipe
from harness.training.recipe_check import adaptable_layers, data_findings, structure_findings
from tests.conftest import ROOT

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


def measured_case(case: str) -> dict:
    """One case of bench/resource_estimate.py (estimate and measurement), run in a fresh process."""
    done = subprocess.run([sys.executable, str(ROOT / "bench/resource_estimate.py"), "--case", case],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_estimate_is_checked_against_a_measured_training_step():
    """A 17M-parameter Llama: estimated memory within 50% of the measured peak; the time estimate no more than 3x
    the measured step (one-sided: a busy machine slows the measured steps, here 7x once while a seed sweep ran,
    and must not fail the test; bench/resource_estimate.py gives the two-sided figures). The built-in 0.5M model:
    the estimate is a lower bound (its measured peak is mostly the runtime's own memory, which the estimate does
    not model). README states each error."""
    larger = measured_case("llama-20m")
    assert abs(larger["error"]["memory"]) < 0.5, larger
    assert larger["estimate"]["seconds_per_step"] < 3 * larger["measured"]["seconds_per_step"], larger
    builtin = measured_case("builtin")
    assert builtin["estimate"]["memory_bytes"] < builtin["measured"]["peak_bytes"], builtin
    assert builtin["estimate"]["seconds_per_step"] < 2 * builtin["measured"]["seconds_per_step"], builtin


def test_the_check_command_prints_findings_and_the_estimate_and_refuses_an_error(tmp_path):
    command = [sys.executable, "-m", "harness.training.recipe", "check", "--base-model", "builtin"]
    ok = subprocess.run([*command, "--recipe", "fixtures/recipes.toml:identity", "--data",
                         "fixtures/identity/self_cognition.json", "--flop-rate", "1e11"],
                        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "note: steps: 19 epochs of 250 examples" in ok.stdout and "trainable (LoRA r=16" in ok.stdout
    assert "time per step:" in ok.stdout and "at 100 GFLOP/s" in ok.stdout
    bad = tmp_path / "recipes.toml"
    bad.write_text('[wrong]\ntarget_modules = ["qkv_proj"]\n')
    refused = subprocess.run([*command, "--recipe", f"{bad}:wrong"], capture_output=True, text=True, cwd=ROOT,
                             timeout=300)
    assert refused.returncode == 1 and "error: target_modules: 'qkv_proj' matches no" in refused.stdout
    missing = subprocess.run([*command, "--recipe", f"{bad}:wrong", "--data", str(tmp_path / "none.json")],
                             capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert missing.returncode == 2 and "none.json" in missing.stderr
