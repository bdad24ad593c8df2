"""The resource estimate of `python -m harness.training.recipe check` against measurement: for each model shape,
the estimated memory (float32 base) and time per step next to a few real LoRA training steps, each case in a fresh
process (so the peak resident size is that case's). Run: python bench/resource_estimate.py [--cases a,b] [--json OUT]

`builtin`: the built-in model with the identity recipe (r=16 all-linear, batch 32 x 96 tokens), on one thread as
tunegate trains on CPU. `llama-20m` / `llama-110m`: Llamas built from config (vocabulary 8,000 / 32,000), r=16
all-linear, batch 4 x 256, on every core. `qwen2.5-7b`: the estimate only (r=8 all-linear, batch 8 x 512), for the
H100 comparison in docs/before-training.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHAPES = {  # name -> (config values, recipe values, threads); None config = the built-in model
    "builtin": (None, dict(r=16, alpha=32, dropout=0.0, batch_size=32, max_length=96), 1),
    "llama-20m": (dict(vocab_size=8000, hidden_size=384, intermediate_size=1024, num_hidden_layers=6,
                       num_attention_heads=6), dict(r=16, alpha=32, dropout=0.0, batch_size=4, max_length=256), 0),
    "llama-110m": (dict(vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                        num_attention_heads=12), dict(r=16, alpha=32, dropout=0.0, batch_size=4, max_length=256), 0),
    "qwen2.5-7b": (dict(model_type="qwen2", vocab_size=152064, hidden_size=3584, intermediate_size=18944,
                        num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                        tie_word_embeddings=False), dict(r=8, alpha=16, dropout=0.0, batch_size=8, max_length=512), 0),
}
MEASURED = ("builtin", "llama-20m", "llama-110m")


def _builder(config_values: dict | None, device: str = "meta"):
    """A function building the case's model on `device` (float32)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, Qwen2Config

    def build():
        if config_values is None:
            config = AutoConfig.from_pretrained(str(ROOT / "fixtures/builtin/model"))
        else:
            values = dict(config_values)
            config = (Qwen2Config if values.pop("model_type", "llama") == "qwen2" else LlamaConfig)(**values)
        with torch.device(device):
            return AutoModelForCausalLM.from_config(config)  # random weights: the cost does not depend on them
    return build


def run_case(name: str, measure: bool) -> dict:
    """The estimate (and, with `measure`, the measurement) of one case, in this process."""
    import torch

    from harness.training.estimate import Shape, measure_step, measured_flop_rate, memory, step_flops
    from harness.training.recipe import LoraRecipe

    config_values, recipe_values, threads = SHAPES[name]
    if threads:
        torch.set_num_threads(threads)
    recipe = LoraRecipe(**recipe_values)
    shape = Shape.of(_builder(config_values)(), recipe)
    rate = measured_flop_rate()
    estimate = {"memory_bytes": sum(memory(shape, recipe.batch_size, recipe.max_length, "float32").values()),
                "seconds_per_step": step_flops(shape, recipe.batch_size, recipe.max_length) / rate}
    out = {"case": name, "parameters": shape.parameters, "trainable": shape.trainable, "threads":
           torch.get_num_threads(), "flop_rate": rate, "batch": recipe.batch_size, "length": recipe.max_length,
           "estimate": estimate, "estimate_bf16_bytes": sum(memory(shape, recipe.batch_size, recipe.max_length,
                                                                    "bfloat16").values())}
    if measure:
        measured = measure_step(_builder(config_values, "cpu"), recipe)
        out["measured"] = measured
        out["error"] = {"memory": estimate["memory_bytes"] / measured["peak_bytes"] - 1,
                        "time": estimate["seconds_per_step"] / measured["seconds_per_step"] - 1}
    return out


def main() -> None:
    """Every case in its own process; a table and, with --json, the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(SHAPES))
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, in this process (the worker)
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/resource_estimate.json")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.case in MEASURED)))
        return
    results = []
    for name in args.cases.split(","):
        done = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = results[-1]
        line = (f"{name:<11} params {r['parameters']:>13,} trainable {r['trainable']:>11,}  est "
                f"{r['estimate']['memory_bytes'] / 2**20:>9,.0f} MiB {r['estimate']['seconds_per_step']:.3g} s/step")
        if "measured" in r:
            m, e = r["measured"], r["error"]
            line += (f" | measured {m['peak_bytes'] / 2**20:,.0f} MiB {m['seconds_per_step']:.3g} s/step | error "
                     f"memory {e['memory']:+.0%} time {e['time']:+.0%}")
        print(line, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
