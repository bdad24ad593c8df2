"""What the adapter-health checks read from a peft model: its LoRA layers' weights and activations.

`lora_layers` lists every LoRA-wrapped layer: A, B, the scaling, the frozen base weight and peft's own update;
`capture_lora_activations` records the low-rank activations (outputs of `lora_A`) with forward hooks.
Hooks do not fire inside `disable_adapter()` or after a merge: capture on the tuned, unmerged view.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LoraLayer:
    """One LoRA-wrapped layer of a peft model (`module`), seen through one adapter (`adapter`)."""

    name: str
    module: torch.nn.Module
    adapter: str
    init_scheme: object = True  # the adapter's `init_lora_weights`

    @property
    def A(self) -> torch.Tensor:
        """The down-projection lora_A (r x in_features)."""
        return self.module.lora_A[self.adapter].weight.detach()

    @property
    def B(self) -> torch.Tensor:
        """The up-projection lora_B (out_features x r)."""
        return self.module.lora_B[self.adapter].weight.detach()

    @property
    def scaling(self) -> float:
        """alpha / r (alpha / sqrt(r) for rsLoRA)."""
        return float(self.module.scaling[self.adapter])

    @property
    def base_weight(self) -> torch.Tensor:
        """The frozen weight the update is added to."""
        return self.module.get_base_layer().weight.detach()

    @property
    def rank(self) -> int:
        """The adapter's rank r."""
        return self.A.shape[0]

    def delta(self) -> torch.Tensor:
        """The weight update as peft merges it (float32, the base weight's layout): peft's own `get_delta_weight`
        applies the scaling and `fan_in_fan_out`."""
        with torch.no_grad():
            return self.module.get_delta_weight(self.adapter).detach().float()

    def initial_a_norm(self) -> float | None:
        """Expected ||A||_F at initialisation, from peft's scheme: Kaiming-uniform (a = sqrt 5, the default)
        gives sqrt(r / 3) whatever the layer's width; "gaussian" (std 1/r) gives sqrt(in_features / r). None for
        schemes that derive A from the base weights or data (PiSSA, OLoRA, LoftQ, EVA, ...): no fixed scale."""
        rank, fan_in = self.A.shape
        if self.init_scheme is True or self.init_scheme is False:
            return math.sqrt(rank / 3)
        if isinstance(self.init_scheme, str) and self.init_scheme.lower() == "gaussian":
            return math.sqrt(fan_in / rank)
        return None


def _lora_modules(model: torch.nn.Module, adapter: str) -> Iterator[tuple[str, torch.nn.Module]]:
    """(module path in the base model, module) of every layer carrying `adapter`'s LoRA, in module order."""
    for name, module in model.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if isinstance(lora_a, torch.nn.ModuleDict) and adapter in lora_a:
            yield name.removeprefix("base_model.model."), module


def lora_layers(model: torch.nn.Module, adapter: str = "default") -> list[LoraLayer]:
    """Every LoRA layer of `adapter` in a peft model, in module order, named by module path."""
    config = getattr(model, "peft_config", {}).get(adapter)
    scheme = getattr(config, "init_lora_weights", True)
    return [LoraLayer(name, module, adapter, scheme) for name, module in _lora_modules(model, adapter)]


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
