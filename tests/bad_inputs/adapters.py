"""Adapters and checkpoints: configs, tensors, run folders."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.bad_inputs.base_model import first_tensor, header
from tests.bad_inputs.project import ACCEPTED, ROOT, BadInput, Plant, Project, adapter_config, adapter_text, truncate

TITLE = "adapters and checkpoints"


def _other_architecture(p: Project) -> list[str]:
    p.adapter_tensors(lambda t: [t.update({k.replace("model.layers.", "transformer.h."): t.pop(k)})
                                 for k in list(t)])
    p.edit_json(p.adapter / "adapter_config.json", lambda c: {**c, "base_model_name_or_path": "gpt2"})
    return ["--adapter", str(p.adapter)]


def _resized_embeddings(p: Project) -> list[str]:
    import torch

    config = json.loads((p.model / "config.json").read_text())
    vocab, hidden = config["vocab_size"], config["hidden_size"]
    p.adapter_tensors(lambda t: t.update({"base_model.model.model.embed_tokens.weight": torch.zeros(vocab + 8,
                                                                                                     hidden)}))
    return ["--adapter", str(p.adapter)]


def _narrower_lora_a(p: Project) -> list[str]:
    """q_proj's lora_A of the adapter's own rank, for 64 input features where the base layer takes 128."""
    import torch

    p.adapter_tensors(lambda t: t.update({next(k for k in sorted(t) if "q_proj.lora_A" in k): torch.zeros(4, 64)}))
    return ["--adapter", str(p.adapter)]


def _optimizer_only(p: Project) -> list[str]:
    run = p.checkpoints(1)
    (run / "checkpoint-200").mkdir()
    for name in ("optimizer.pt", "scheduler.pt", "trainer_state.json"):
        (run / "checkpoint-200" / name).write_bytes(b"0")
    return ["--checkpoints", str(run)]


def _symlink_loop(p: Project) -> list[str]:
    run = p.checkpoints(1)
    os.symlink("checkpoint-200", run / "checkpoint-200")
    return ["--checkpoints", str(run)]


def _checkpoint_config(p: Project) -> list[str]:
    run = p.checkpoints(2)
    p.edit_json(run / "checkpoint-100/adapter_config.json", lambda c: {**c, "lora_alpha": "8"})
    return ["--checkpoints", str(run)]


def _checkpoint_final(p: Project) -> list[str]:
    run = p.checkpoints(2)
    shutil.copytree(p.adapter, run / "checkpoint-final")
    return ["--checkpoints", str(run)]


def _trainer_state(text: str) -> Plant:
    """A run of two checkpoints whose first holds a trainer_state.json of `text`."""
    def plant(p: Project) -> list[str]:
        run = p.checkpoints(2)
        (run / "checkpoint-100/trainer_state.json").write_text(text)
        return ["--checkpoints", str(run)]
    return plant


def _final_alone(p: Project) -> list[str]:
    shutil.copytree(p.adapter, p.root / "run/checkpoint-final")
    return ["--checkpoints", str(p.root / "run")]


def _empty_run(p: Project) -> list[str]:
    (p.root / "run").mkdir()
    return ["--checkpoints", str(p.root / "run")]


def _weights(p: Project) -> Path:
    return p.adapter / "adapter_model.safetensors"


def _first_layer(drop_others: bool) -> Plant:
    """layers_to_transform [0] in the adapter's config; the tensors of layer 1 dropped or (a mismatch) kept."""
    def plant(p: Project) -> list[str]:
        if drop_others:
            p.adapter_tensors(lambda t: [t.pop(k) for k in list(t) if ".layers.1." in k])
        p.edit_json(p.adapter / "adapter_config.json", lambda c: {**c, "layers_to_transform": [0]})
        return ["--adapter", str(p.adapter)]
    return plant


def _shared_offsets(document: dict) -> dict:
    """A header edit: the first tensor given the byte range of the second (of the same shape)."""
    first, second = sorted(k for k in document if k != "__metadata__")[:2]
    return {**document, first: {**document[first], "data_offsets": document[second]["data_offsets"]}}


def _thousand_checkpoints(p: Project) -> list[str]:
    shutil.copy(ROOT / "suites/test_audit.py", p.root / "test_run_audit.py")  # a name no test of ours has
    return ["--checkpoints", str(p.checkpoints(1000)), "-m", "audit"]


CASES = [
    BadInput("adapter-config-not-json", "adapter_config.json that is not JSON", adapter_text("{r: 8"),
             ("adapter_config.json:1:2", "not valid JSON")),
    BadInput("adapter-config-empty", "adapter_config.json that is {}", adapter_config(lambda c: {}),
             ("adapter_config.json", "key 'peft_type' missing")),
    BadInput("adapter-target-modules-fewer", "target_modules naming q_proj only while the weights hold q_proj and "
             "v_proj tensors (peft would load v_proj's and never apply them: every gate passes on half an adapter)",
             adapter_config(lambda c: {**c, "target_modules": ["q_proj"]}),
             ("adapter_config.json", "model.layers.1.self_attn.v_proj", "key 'target_modules'")),
    BadInput("adapter-target-modules-regex-fewer", "a target_modules regex matching 2 of the 4 layers with tensors",
             adapter_config(lambda c: {**c, "target_modules": r".*\.0\.self_attn\.(q|v)_proj"}),
             ("adapter_config.json", "model.layers.1.self_attn.q_proj", "key 'target_modules'")),
    BadInput("adapter-target-modules-without-tensors", "target_modules naming k_proj, of which the weights hold no "
             "tensor (peft would add it at its initialisation: config and weights of different adapters)",
             adapter_config(lambda c: {**c, "target_modules": ["q_proj", "v_proj", "k_proj"]}),
             ("adapter_config.json", "model.layers.0.self_attn.k_proj", "key 'target_modules'")),
    BadInput("adapter-layers-to-transform-fewer", "layers_to_transform [0] while the weights hold layer 1's "
             "tensors too (peft would leave layer 1 out)", _first_layer(drop_others=False),
             ("adapter_config.json", "model.layers.1.self_attn.q_proj", "'layers_to_transform' is [0]")),
    BadInput("adapter-layers-to-transform", "layers_to_transform [0] with tensors of layer 0 only: target_modules "
             "matched as peft matches them", _first_layer(drop_others=True), (), ACCEPTED),
    BadInput("adapter-target-modules-all-linear", "target_modules \"all-linear\" written by hand (peft saves the "
             "modules it expanded to): not matched against the tensors, as only peft's model wiring knows which "
             "layers are linear; the modules it adds without tensors start as no-ops under the default init",
             adapter_config(lambda c: {**c, "target_modules": "all-linear"}), (), ACCEPTED),
    BadInput("adapter-target-modules-number", "target_modules a number",
             adapter_config(lambda c: {**c, "target_modules": 2}), ("adapter_config.json", "key 'target_modules'")),
    BadInput("adapter-target-modules-bad-regex", "target_modules a string that is not a regular expression",
             adapter_config(lambda c: {**c, "target_modules": "(q|v_proj"}),
             ("adapter_config.json", "key 'target_modules'", "got '(q|v_proj'")),
    BadInput("adapter-lora-alpha-string", "lora_alpha a string", adapter_config(lambda c: {**c, "lora_alpha": "8"}),
             ("adapter_config.json", "key 'lora_alpha'", "got '8'")),
    BadInput("adapter-r-string", "r a string", adapter_config(lambda c: {**c, "r": "4"}),
             ("adapter_config.json", "key 'r'", "got '4'")),
    BadInput("adapter-r-float", "r a float", adapter_config(lambda c: {**c, "r": 4.0}),
             ("adapter_config.json", "key 'r'", "got 4.0")),
    BadInput("adapter-r-bool", "r true", adapter_config(lambda c: {**c, "r": True}),
             ("adapter_config.json", "key 'r'", "got True")),
    BadInput("adapter-r-zero", "r 0", adapter_config(lambda c: {**c, "r": 0}),
             ("adapter_config.json", "key 'r'", "got 0")),
    BadInput("adapter-r-negative", "r negative", adapter_config(lambda c: {**c, "r": -4}),
             ("adapter_config.json", "key 'r'", "got -4")),
    BadInput("adapter-lora-dropout-string", "lora_dropout a string",
             adapter_config(lambda c: {**c, "lora_dropout": "0.1"}),
             ("adapter_config.json", "key 'lora_dropout'", "got '0.1'")),
    BadInput("adapter-peft-type-prefix", "peft_type PREFIX_TUNING (tunegate judges LoRA adapters only)",
             adapter_config(lambda c: {**c, "peft_type": "PREFIX_TUNING"}),
             ("adapter_config.json", "key 'peft_type' is 'PREFIX_TUNING'")),
    BadInput("adapter-base-model-number", "base_model_name_or_path a number",
             adapter_config(lambda c: {**c, "base_model_name_or_path": 7}),
             ("adapter_config.json", "key 'base_model_name_or_path'", "got 7")),
    BadInput("adapter-modules-to-save-string", "modules_to_save a string, not a list",
             adapter_config(lambda c: {**c, "modules_to_save": "lm_head"}),
             ("adapter_config.json", "key 'modules_to_save'", "got 'lm_head'")),
    BadInput("adapter-modules-to-save-bad-pattern", "modules_to_save naming a module with a regular-expression "
             "character that does not compile (peft matches with it)",
             adapter_config(lambda c: {**c, "modules_to_save": ["lm_head("]}),
             ("adapter_config.json", "'modules_to_save'", "one is not valid")),
    BadInput("adapter-task-type-typo", "task_type CASUAL_LM (peft's own check, run at configure)",
             adapter_config(lambda c: {**c, "task_type": "CASUAL_LM"}),
             ("adapter_config.json", "peft cannot read it", "Invalid task type: 'CASUAL_LM'")),
    BadInput("adapter-layers-pattern-alone", "layers_pattern without layers_to_transform",
             adapter_config(lambda c: {**c, "layers_pattern": "layers"}),
             ("adapter_config.json", "peft cannot read it", "`layers_to_transform` must also be specified")),
    BadInput("adapter-header-not-object", "an adapter safetensors header that is JSON but not an object",
             header(_weights, lambda h: list(h), ["--adapter", "{adapter}"]),
             ("adapter_model.safetensors", "header is a list")),
    BadInput("adapter-tensor-shape-not-ints", "an adapter tensor whose shape is not a list of integers",
             header(_weights, first_tensor(shape=["4", 128]), ["--adapter", "{adapter}"]),
             ("adapter_model.safetensors", "q_proj.lora_A.weight", "shape ['4', 128]")),
    BadInput("adapter-data-offsets-disagree", "an adapter tensor whose data_offsets span fewer bytes than its shape",
             header(_weights, first_tensor(data_offsets=[0, 8]), ["--adapter", "{adapter}"]),
             ("adapter_model.safetensors", "q_proj.lora_A.weight", "data_offsets [0, 8]")),
    BadInput("adapter-data-offsets-outside", "an adapter tensor whose data_offsets reach past the end of the file",
             header(_weights, first_tensor(data_offsets=[1 << 30, (1 << 30) + 2048]), ["--adapter", "{adapter}"]),
             ("adapter_model.safetensors", "q_proj.lora_A.weight", "truncated")),
    BadInput("adapter-data-offsets-overlap", "two adapter tensors sharing one byte range",
             header(_weights, _shared_offsets, ["--adapter", "{adapter}"]),
             ("adapter_model.safetensors", "q_proj.lora_A.weight", "overlap those of tensor")),
    BadInput("adapter-r-mismatch", "adapter_config.json whose r disagrees with the tensors",
             adapter_config(lambda c: {**c, "r": 8}), ("adapter_model.safetensors", "rank 4", "key 'r' is 8")),
    BadInput("adapter-truncated", "a truncated adapter_model.safetensors",
             truncate(lambda p: p.adapter / "adapter_model.safetensors", ["--adapter", "{adapter}"]),
             ("adapter_model.safetensors", "truncated")),
    BadInput("adapter-pickle-only", "an adapter with pickled weights only, without --allow-pickle",
             lambda p: ((p.adapter / "adapter_model.safetensors").rename(p.adapter / "adapter_model.bin"),
                        ["--adapter", str(p.adapter)])[1], ("adapter_model.bin", "--allow-pickle")),
    BadInput("adapter-missing", "--adapter naming nothing", lambda p: ["--adapter", str(p.root / "nope")],
             ("--adapter", "nope", "no such file or folder")),
    BadInput("adapter-other-architecture", "an adapter made for another architecture", _other_architecture,
             ("adapter_model.safetensors", "transformer.h.0", "does not have", "'gpt2'")),
    BadInput("adapter-resized-embeddings", "an adapter trained with a resized vocabulary", _resized_embeddings,
             ("adapter_model.safetensors", "embed_tokens", "resized")),
    BadInput("adapter-fewer-input-features", "an adapter whose lora_A takes fewer input features than the base layer "
             "(made for another model size)", _narrower_lora_a,
             ("adapter_model.safetensors", "q_proj.lora_A.weight", "(shape [4, 64])", "takes 128 input features")),
    BadInput("checkpoint-optimizer-only", "a checkpoint folder with optimizer state only", _optimizer_only,
             ("checkpoint-200", "no adapter_config.json", "optimizer.pt")),
    BadInput("checkpoint-config-wrong-type", "a checkpoint whose adapter_config.json lora_alpha is a string",
             _checkpoint_config, ("checkpoint-100/adapter_config.json", "key 'lora_alpha'")),
    BadInput("checkpoint-final", "checkpoint-final/ beside checkpoint-N/ folders (it has no step; skipping it "
             "would audit the run without its last adapter)", _checkpoint_final,
             ("checkpoint-final", "no step N in its name")),
    BadInput("checkpoint-final-alone", "a run folder holding only checkpoint-final/: read as a flat folder of "
             "adapters (nothing to order it against)", _final_alone, (), ACCEPTED),
    BadInput("checkpoint-trainer-state-not-json", "a checkpoint's trainer_state.json that is not JSON (read for "
             "the report's loss chart)", _trainer_state('{"log_history": ['),
             ("checkpoint-100/trainer_state.json:1:", "not valid JSON")),
    BadInput("checkpoint-trainer-state-loss-string", "a checkpoint's trainer_state.json logging a loss as a string",
             _trainer_state('{"log_history": [{"step": 100, "loss": "0.52"}]}'),
             ("checkpoint-100/trainer_state.json", "log_history[0] key 'loss'", "got '0.52'")),
    BadInput("checkpoints-empty-run", "an empty --checkpoints folder", _empty_run,
             ("run", "no checkpoint-N/ folder")),
    BadInput("checkpoints-symlink-loop", "a symbolic-link loop in --checkpoints", _symlink_loop,
             ("checkpoint-200", "symbolic link loop")),
    BadInput("checkpoints-1000", "a run of 1,000 checkpoints (checked and collected in one pass each)",
             _thousand_checkpoints, ("1000/1001 tests collected",), ACCEPTED),
    BadInput("allow-pickle-safetensors", "--allow-pickle with a safetensors base (it only also accepts .bin)",
             lambda p: ["--allow-pickle"], (), ACCEPTED),
]
