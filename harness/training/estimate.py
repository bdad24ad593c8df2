"""What training a recipe will cost, before training: the exact trainable parameters (the peft model built on the
meta device), memory for weights, gradients, optimizer state and activations at the recipe's batch and length for a
float32, bfloat16 or 4-bit base, and time per step from the FLOPs of a step and this machine's measured matmul rate.

The activation term follows Korthikanti et al. 2022 (per layer, B*T*h*(34 + 5*a*T/h) bytes at 16 bits), plus four
float32 copies of the logits of the positions that carry a loss (logits, shifted copy, log-softmax, gradient). LoRA
keeps every activation (gradients flow through the frozen layers to the adapters below) but no gradient or
optimizer state for the frozen weights. A LoRA step costs about 4 * N * tokens FLOPs (forward 2N, activation
gradients 2N, no weight gradients of the frozen N) plus attention. bench/resource_estimate.py measures the error.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from harness.training.recipe import LoraRecipe

WEIGHT_BYTES = {"float32": 4.0, "bfloat16": 2.0, "4bit": 0.5 + 0.5 / 64 * 2}  # NF4 + one bf16 scale per 64 weights
ACTIVATION_BYTES = {"float32": 4.0, "bfloat16": 2.0, "4bit": 2.0}  # 4-bit bases compute in bfloat16
ADAPTER_BYTES = 4.0  # LoRA weights, their gradients and AdamW's two moments stay float32
LOGIT_COPIES = 4  # float32 logits, their shifted copy, the saved log-softmax and the logits' gradient


@dataclass(frozen=True)
class Shape:
    """The numbers an estimate needs about a base model and a recipe on it."""

    parameters: int
    trainable: int
    layers: int
    hidden: int
    heads: int
    vocab: int

    @classmethod
    def of(cls, model: torch.nn.Module, recipe: LoraRecipe) -> Shape:
        """Count a meta-device base model's parameters and, with the recipe's adapter added, the trainable ones."""
        from peft import get_peft_model

        config = model.config
        parameters = sum(p.numel() for p in model.parameters())
        with torch.device("meta"):
            adapted = get_peft_model(model, recipe.peft_config())
        trainable = sum(p.numel() for p in adapted.parameters() if p.requires_grad)
        return cls(parameters, trainable, config.num_hidden_layers, config.hidden_size,
                   config.num_attention_heads, config.vocab_size)


def memory(shape: Shape, batch: int, length: int, precision: str, loss_fraction: float = 1.0) -> dict[str, float]:
    """Bytes for weights, gradients, optimizer state and activations of one training step (`loss_fraction`: the
    share of positions whose logits are computed for the loss)."""
    per_layer = batch * length * shape.hidden * (34 + 5 * shape.heads * length / shape.hidden)
    activations = shape.layers * per_layer * ACTIVATION_BYTES[precision] / 2
    logits = LOGIT_COPIES * batch * length * loss_fraction * shape.vocab * 4
    return {"weights": shape.parameters * WEIGHT_BYTES[precision] + shape.trainable * ADAPTER_BYTES,
            "gradients": shape.trainable * ADAPTER_BYTES, "optimizer": 2 * shape.trainable * ADAPTER_BYTES,
            "activations": activations + logits}


def step_flops(shape: Shape, batch: int, length: int) -> float:
    """FLOPs of one LoRA training step: 4 N per token for the matmuls plus attention's 12 L B T^2 h."""
    tokens = batch * length
    return 4.0 * shape.parameters * tokens + 12.0 * shape.layers * batch * length ** 2 * shape.hidden


def measured_flop_rate(device: str = "cpu", dtype: torch.dtype = torch.float32, size: int = 1024,
                       seconds: float = 0.3) -> float:
    """This machine's sustained matmul rate (FLOP/s) on `device`, timed for about `seconds`."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    (a @ b).sum().item()
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        (a @ b).sum().item()
        runs += 1
    return 2 * size ** 3 * runs / (time.perf_counter() - started)


def gib(value: float) -> str:
    """Bytes as '15.2 GiB' / '310 MiB'."""
    return f"{value / 2**30:.3g} GiB" if value >= 2**30 else f"{value / 2**20:.3g} MiB"


def estimate_table(shape: Shape, recipe: LoraRecipe, flop_rate: float, loss_fraction: float = 1.0) -> str:
    """The estimate as a text table: trainable parameters, then memory by part and in total for each base
    precision, and time per step at `flop_rate`."""
    batch, length = recipe.batch_size, recipe.max_length
    lines = [f"parameters: base {shape.parameters:,}, trainable (LoRA r={recipe.r}, {recipe.target_modules}) "
             f"{shape.trainable:,} ({100 * shape.trainable / shape.parameters:.3g}%)",
             f"per step: batch {batch} x {length} tokens x {recipe.gradient_accumulation} accumulation",
             f"{'base':<9}{'weights':>12}{'gradients':>12}{'optimizer':>12}{'activations':>13}{'total':>12}"]
    for precision in WEIGHT_BYTES:
        parts = memory(shape, batch, length, precision, loss_fraction)
        lines.append(f"{precision:<9}{gib(parts['weights']):>12}{gib(parts['gradients']):>12}"
                     f"{gib(parts['optimizer']):>12}{gib(parts['activations']):>13}{gib(sum(parts.values())):>12}")
    seconds = recipe.gradient_accumulation * step_flops(shape, batch, length) / flop_rate
    tokens = recipe.gradient_accumulation * batch * length
    lines.append(f"time per step: {seconds:.3g} s ({tokens / seconds:,.0f} tokens/s) at {flop_rate / 1e9:,.0f} "
                 "GFLOP/s (this machine's measured matmul rate)")
    return "\n".join(lines)


def measure_step(build: Callable[[], torch.nn.Module], recipe: LoraRecipe, steps: int = 4) -> dict[str, float]:
    """Build a model (`build()`: real weights on their device), add the recipe's adapter and train it for `steps`
    optimiser steps on random tokens, every position a label: the seconds per step (the first, warm-up step left
    out) and the peak memory in bytes, weights included (`torch.cuda.max_memory_allocated` on a GPU; on CPU the
    process's peak resident size over its size before `build`, so run it in a fresh process)."""
    import resource

    from peft import get_peft_model

    before = _resident_bytes()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    model = build()
    device = next(model.parameters()).device
    model = get_peft_model(model, recipe.peft_config())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe.learning_rate)
    vocab = model.config.vocab_size
    times = []
    for _ in range(steps):
        ids = torch.randint(0, vocab, (recipe.batch_size, recipe.max_length), device=device)
        started = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
    return {"seconds_per_step": sum(times[1:]) / max(1, len(times) - 1), "peak_bytes": float(peak)}


def _resident_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0
