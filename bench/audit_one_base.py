"""Audit wall time and memory with one base load for every checkpoint vs a base load per checkpoint.

    .venv/bin/python bench/audit_one_base.py [--checkpoints 10] [--items 32] [--llama-hidden 768]

Builds the base (default: a ~100M-parameter Llama from config, random weights, the built-in tokenizer;
`--llama-hidden 0` takes the shipped built-in model instead), makes N distinct LoRA adapters of it (r=8 on every
linear layer, random non-zero initialisation), then audits them on the first `--items` records of every task's dev
set twice, each in a fresh process with an empty answer cache: with a separate base + adapter load per
checkpoint (`base_and_tuned`, what the audit did before issue 11) and over one base copy with every adapter loaded
into it (`adapter_chain`). Prints both wall times (adapters attached and every answer computed), the ratio and
each process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build_llama(folder: Path, hidden: int) -> Path:
    """A Llama of `hidden` width (12 layers, 4x MLP) with the built-in tokenizer and chat template."""
    import shutil

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    shipped = ROOT / "fixtures/builtin/model"
    builtin = json.loads((shipped / "config.json").read_text())
    config = LlamaConfig(vocab_size=builtin["vocab_size"], hidden_size=hidden, intermediate_size=hidden * 4 * 2 // 3,
                         num_hidden_layers=12, num_attention_heads=hidden // 64, num_key_value_heads=hidden // 64,
                         max_position_embeddings=256, eos_token_id=builtin["eos_token_id"],
                         pad_token_id=builtin["pad_token_id"], bos_token_id=builtin["eos_token_id"])
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(shipped / name, folder / name)
    return folder


def make_adapters(base_path: Path, count: int, folder: Path) -> list[Path]:
    """`count` distinct random LoRA adapters of the base."""
    import torch
    from peft import LoraConfig, get_peft_model

    from harness.model.loading import BaseModel

    out = []
    for seed in range(count):
        torch.manual_seed(seed)
        model, _ = BaseModel.at(base_path).load()
        config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False)
        get_peft_model(model, config).save_pretrained(folder / f"checkpoint-{seed + 1}")
        out.append(folder / f"checkpoint-{seed + 1}")
    return out


def measure(base_path: Path, adapters: list[Path], items: int, shared: bool) -> dict:
    """One audit (fresh answer cache): wall seconds and this process's peak RSS."""
    from harness.data import load_examples
    from harness.evaluators import audit
    from harness.evaluators.checkpoints import Checkpoint
    from harness.model.loading import BaseModel
    from harness.model.requests import RequestCache
    from harness.model.views import adapter_chain, base_and_tuned
    from harness.training.sequence import sequence_tasks

    fixtures = ROOT / "fixtures"
    devs = {task: load_examples(fixtures / f"tasks/{task}/dev.json")[:items] for task in sequence_tasks(fixtures)}
    checkpoints = [Checkpoint(a.name, i, a) for i, a in enumerate(adapters, start=1)]
    base = BaseModel.at(base_path)
    started = time.perf_counter()
    cache = RequestCache()
    if shared:
        base_view, *views = adapter_chain(base, adapters, cache=cache)
    else:
        pairs = [base_and_tuned(base, a, cache=cache) for a in adapters]
        base_view, views = pairs[0][0], [tuned for _, tuned in pairs]
    audit.evaluate((base_view, views), (checkpoints, devs))
    return {"seconds": time.perf_counter() - started,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    """Build the base and adapters, measure each way in its own process, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--items", type=int, default=32, help="records of each task's dev set")
    parser.add_argument("--llama-hidden", type=int, default=768, help="0: the shipped built-in model")
    parser.add_argument("--measure", choices=["shared", "separate"], help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    parser.add_argument("--adapters", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(Path(args.base), [Path(a) for a in args.adapters], args.items,
                                 args.measure == "shared")))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base = build_llama(Path(tmp) / "base", args.llama_hidden) if args.llama_hidden else \
            ROOT / "fixtures/builtin/model"
        params = sum(t.numel() for t in __import__("safetensors.torch", fromlist=["load_file"]).load_file(
            str(base / "model.safetensors")).values())
        adapters = make_adapters(base, args.checkpoints, Path(tmp))
        rows = {}
        for mode in ("separate", "shared"):
            command = [sys.executable, __file__, "--measure", mode, "--items", str(args.items), "--base", str(base),
                       "--adapters", *map(str, adapters)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            rows[mode] = json.loads(out.strip().splitlines()[-1])
    print(f"{args.checkpoints} checkpoints, base of {params / 1e6:.1f}M parameters, {args.items} records per task")
    for mode, label in (("separate", "a base load per checkpoint"), ("shared", "one base load (adapter_chain)")):
        print(f"{label:<32} {rows[mode]['seconds']:8.2f} s   peak RSS {rows[mode]['peak_rss_mb']:7.0f} MB")
    print(f"speed-up: {rows['separate']['seconds'] / rows['shared']['seconds']:.2f}x, memory: "
          f"{rows['separate']['peak_rss_mb'] / rows['shared']['peak_rss_mb']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
