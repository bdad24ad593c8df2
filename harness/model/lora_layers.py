"""What the adapter-health checks read from a peft model: its LoRA layers' weights and activations.

`lora_layers` lists every LoRA-wrapped linear layer with A, B, the scaling and the frozen base weight;
`capture_lora_activations` records the low-rank activations (outputs of `lora_A`) with forward hooks.
Hooks do not fire inside `disable_adapter()` or after a merge: capture on the tuned, unmerged view.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LoraLayer:
    """One LoRA-wrapped linear layer: delta W = scaling * B @ A, added to the frozen `base_weight`."""

    name: str
    A: torch.Tensor
    B: torch.Tensor
    scaling: float
    base_weight: torch.Tensor

    @property
    def rank(self) -> int:
        """The adapter's rank r."""
        return self.A.shape[0]

    def delta(self) -> torch.Tensor:
        """The weight update scaling * B @ A (float32)."""
        return self.scaling * (self.B.float() @ self.A.float())


def _lora_modules(model: torch.nn.Module, adapter: str) -> Iterator[tuple[str, torch.nn.Module]]:
    """(module path in the base model, module) of every layer carrying `adapter`'s LoRA, in module order."""
    for name, module in model.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if isinstance(lora_a, torch.nn.ModuleDict) and adapter in lora_a:
            yield name.removeprefix("base_model.model."), module


def lora_layers(model: torch.nn.Module, adapter: str = "default") -> list[LoraLayer]:
    """Every LoRA layer of `adapter` in a peft model, in module order, named by module path."""
    return [LoraLayer(name, module.lora_A[adapter].weight.detach(), module.lora_B[adapter].weight.detach(),
                      float(module.scaling[adapter]), module.get_base_layer().weight.detach())
            for name, module in _lora_modules(model, adapter)]


@contextmanager
def capture_lora_activations(model: torch.nn.Module, adapter: str = "default"
                             ) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Record every `lora_A` output on the tokens of a forward pass (batch, tokens, r), by layer name. DoRA also
    runs `lora_A` on an identity matrix to compute its weight norm: those (in_features, r) calls are not
    activations and are left out."""
    captured: dict[str, list[torch.Tensor]] = {}
    handles = []

    def keep(store: list[torch.Tensor], output: torch.Tensor) -> None:
        if output.dim() == 3:
            store.append(output.detach().float().cpu())

    for name, module in _lora_modules(model, adapter):
        store = captured.setdefault(name, [])
        handles.append(module.lora_A[adapter].register_forward_hook(
            lambda _module, _inputs, output, store=store: keep(store, output)))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
