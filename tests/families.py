"""Tiny models of the families users fine-tune (Llama, Qwen2, Mistral, Gemma, Phi-3, GPT-2), built from their
configs with the built-in tokenizer: shared by tests/model/test_families.py, tests/fast/test_model_fast.py and
bench/compatibility.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHAPE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "max_position_embeddings": 256}
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", SHAPE),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", SHAPE),
    "mistral": ("MistralConfig", "MistralForCausalLM", SHAPE),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", {**SHAPE, "head_dim": 16}),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", SHAPE),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", {"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 256}),
}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def build_family(name: str, folder: Path) -> Path:
    """A randomly initialised model of `name` with the built-in tokenizer (and, except GPT-2, its chat
    template), saved as a model folder."""
    import torch
    import transformers

    config_class, model_class, shape = FAMILIES[name]
    builtin = json.loads((ROOT / "fixtures/builtin/model/config.json").read_text())
    special = {k: builtin[k] for k in ("vocab_size", "eos_token_id", "pad_token_id")}
    config = getattr(transformers, config_class)(**shape, **special, bos_token_id=special["eos_token_id"])
    torch.manual_seed(0)
    getattr(transformers, model_class)(config).save_pretrained(folder)
    for file in TOKENIZER_FILES + (() if name == "gpt2" else ("chat_template.jinja",)):
        shutil.copy(ROOT / "fixtures/builtin/model" / file, folder / file)
    return folder
