"""Adapters and checkpoints: configs, tensors, run folders."""

from __future__ import annotations

import json
import os
import shutil

from tests.bad_inputs.project import ACCEPTED, ROOT, BadInput, Project, adapter_config, adapter_text, truncate

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


def _thousand_checkpoints(p: Project) -> list[str]:
    shutil.copy(ROOT / "suites/test_audit.py", p.root / "test_run_audit.py")  # a name no test of ours has
    return ["--checkpoints", str(p.checkpoints(1000)), "-m", "audit"]


CASES = [
    BadInput("adapter-config-not-json", "adapter_config.json that is not JSON", adapter_text("{r: 8"),
             ("adapter_config.json:1:2", "not valid JSON")),
    BadInput("adapter-config-empty", "adapter_config.json that is {}", adapter_config(lambda c: {}),
             ("adapter_config.json", "key 'peft_type' missing")),
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
    BadInput("checkpoints-symlink-loop", "a symbolic-link loop in --checkpoints", _symlink_loop,
             ("checkpoint-200", "symbolic link loop")),
    BadInput("checkpoints-1000", "a run of 1,000 checkpoints (checked and collected in one pass each)",
             _thousand_checkpoints, ("1000/1001 tests collected",), ACCEPTED),
    BadInput("allow-pickle-safetensors", "--allow-pickle with a safetensors base (it only also accepts .bin)",
             lambda p: ["--allow-pickle"], (), ACCEPTED),
]
