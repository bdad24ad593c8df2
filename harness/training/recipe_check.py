"""A LoRA recipe checked against the base model it will train, before any training: the target modules exist (close
matches named when not), the rank fits every targeted layer, the scaling, dropout and learning rate sit where LoRA
trains, and, given the training data, the steps imply a sane number of epochs, replay has a pool to draw from and
few examples are cut by `max_length`. Errors refuse the recipe; warnings and notes are printed (and recorded).

The model is built on PyTorch's meta device from the base's config: every module and shape, no weight in memory,
so a 7B base is checked in a second.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import torch

from harness.data import Example
from harness.foundation.errors import InputError
from harness.training.recipe import LoraRecipe

SCALING_RANGE = (0.5, 4.0)  # alpha / r outside this: updates too timid or too loud for the usual learning rates
LEARNING_RATE_RANGE = (1e-5, 5e-3)  # where LoRA recipes usually train (the identity recipe at 10 diverges at step 4)
EPOCHS_RANGE = (1.0, 100.0)
MAX_DROPOUT = 0.3


@dataclass(frozen=True)
class Finding:
    """One thing the check found: `level` "error" (the recipe is refused), "warning" or "note"; `key` the recipe
    key it is about."""

    level: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.key}: {self.message}"


@dataclass(frozen=True)
class Layer:
    """A layer LoRA can adapt: its kind (`Linear`, `Conv1D`) and its input and output sizes."""

    kind: str
    fan_in: int
    fan_out: int


def meta_model(base_folder: Path) -> torch.nn.Module:
    """The base model's architecture from its config.json, built on the meta device (no weights)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(base_folder))
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def adaptable_layers(model: torch.nn.Module) -> dict[str, Layer]:
    """Every Linear / Conv1D module by name, the output layer (lm_head) excluded as peft's `all-linear` does."""
    from transformers.pytorch_utils import Conv1D

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    layers = {}
    for name, module in model.named_modules():
        if module is head:
            continue
        if isinstance(module, torch.nn.Linear):
            layers[name] = Layer("Linear", module.in_features, module.out_features)
        elif isinstance(module, Conv1D):
            fan_in, fan_out = module.weight.shape  # Conv1D stores (in, out)
            layers[name] = Layer("Conv1D", fan_in, fan_out)
    return layers


def _targets(recipe: LoraRecipe) -> list[str] | None:
    """The recipe's target module names; None for peft's `all-linear`."""
    if isinstance(recipe.target_modules, str):
        return None if recipe.target_modules.lower() == "all-linear" else [recipe.target_modules]
    return list(recipe.target_modules)


def _matches(name: str, target: str) -> bool:
    """peft's rule: a module is targeted when its name equals, or ends in `.` + , the target."""
    return name == target or name.endswith(f".{target}")


def targeted_layers(recipe: LoraRecipe, layers: dict[str, Layer]) -> dict[str, Layer]:
    """The layers the recipe's `target_modules` select."""
    targets = _targets(recipe)
    if targets is None:
        return dict(layers)
    return {n: layer for n, layer in layers.items() if any(_matches(n, t) for t in targets)}


def structure_findings(recipe: LoraRecipe, layers: dict[str, Layer], model_type: str) -> list[Finding]:
    """What the base's architecture says about the recipe: missing targets, rank vs layer size, Conv1D layers,
    scaling, dropout and learning rate."""
    found = []
    leaves = sorted({name.rsplit(".", 1)[-1] for name in layers})
    for target in _targets(recipe) or []:
        if not any(_matches(n, target) for n in layers):
            close = get_close_matches(target, leaves, n=3, cutoff=0.4)
            found.append(Finding("error", "target_modules", f"{target!r} matches no Linear/Conv1D module of this "
                                 f"{model_type}" + (f"; close: {', '.join(close)}" if close else "")
                                 + f"; its adaptable modules: {', '.join(leaves)}"))
    chosen = targeted_layers(recipe, layers)
    if not chosen and not any(f.level == "error" for f in found):
        found.append(Finding("error", "target_modules", f"{recipe.target_modules!r} selects no layer"))
    too_small = [n for n, layer in chosen.items() if recipe.r > min(layer.fan_in, layer.fan_out)]
    if too_small:
        layer = chosen[too_small[0]]
        found.append(Finding("error", "r", f"r = {recipe.r} exceeds the smaller side of {len(too_small)} layer(s), "
                             f"e.g. {too_small[0]} ({layer.fan_in} -> {layer.fan_out}): a rank cannot exceed it"))
    if conv := [n for n, layer in chosen.items() if layer.kind == "Conv1D"]:
        found.append(Finding("note", "target_modules", f"{len(conv)} targeted layers are GPT-2-style Conv1D "
                             "(weights stored in x out): peft adapts them with fan_in_fan_out"))
    return found + _hyperparameter_findings(recipe)


def _hyperparameter_findings(recipe: LoraRecipe) -> list[Finding]:
    found = []
    scaling, rs_scaling = recipe.alpha / recipe.r, recipe.alpha / recipe.r ** 0.5
    if not SCALING_RANGE[0] <= scaling <= SCALING_RANGE[1]:
        found.append(Finding("warning", "alpha", f"alpha / r = {recipe.alpha}/{recipe.r} = {scaling:.3g} is outside "
                             f"{SCALING_RANGE[0]}-{SCALING_RANGE[1]} (rsLoRA's alpha / sqrt(r) would be "
                             f"{rs_scaling:.3g}); updates will be {'timid' if scaling < 1 else 'loud'}"))
    if recipe.dropout > MAX_DROPOUT:
        found.append(Finding("warning", "dropout", f"{recipe.dropout} drops most of a low-rank update; LoRA uses "
                             f"0-0.1 (0 on small data)"))
    low, high = LEARNING_RATE_RANGE
    if not low <= recipe.learning_rate <= high:
        expect = "expect divergence" if recipe.learning_rate > high else "expect little change"
        found.append(Finding("warning", "learning_rate", f"{recipe.learning_rate:g} is outside {low:g}-{high:g}, "
                             f"where LoRA recipes train; {expect}"))
    return found


def data_findings(recipe: LoraRecipe, examples: Sequence[Example], lengths: Sequence[int],
                  replay_pool: int) -> list[Finding]:
    """What the training data says: the epochs the steps imply, replay's pool, examples cut by max_length
    (`lengths`: each example's prompt + answer tokens in the base's tokenizer)."""
    found = []
    new_per_step = recipe.gradient_accumulation * (recipe.batch_size - round(recipe.batch_size * recipe.replay_ratio))
    if recipe.steps and examples:
        epochs = recipe.steps * new_per_step / len(examples)
        if not EPOCHS_RANGE[0] <= epochs <= EPOCHS_RANGE[1]:
            found.append(Finding("warning", "steps", f"{recipe.steps} steps x {new_per_step} new examples per step = "
                                 f"{epochs:.3g} epochs of {len(examples)} examples: "
                                 + ("some examples are never seen" if epochs < 1 else "it will memorise them")))
        else:
            found.append(Finding("note", "steps", f"{epochs:.3g} epochs of {len(examples)} examples"))
    if recipe.replay_ratio:
        draws = (recipe.steps or 0) * recipe.gradient_accumulation * round(recipe.batch_size * recipe.replay_ratio)
        if not replay_pool:
            found.append(Finding("error", "replay_source", f"replay_ratio {recipe.replay_ratio} but the replay pool "
                                 f"({recipe.replay_source!r}) is empty"))
        elif draws:
            found.append(Finding("note", "replay_ratio", f"{draws} replayed examples from a pool of {replay_pool} "
                                 f"({draws / replay_pool:.3g} passes over it)"))
    if cut := [ex.id for ex, n in zip(examples, lengths, strict=True) if n > recipe.max_length]:
        found.append(Finding("warning", "max_length", f"{len(cut)} of {len(examples)} examples are longer than "
                             f"{recipe.max_length} tokens and will be cut (answers lose their end): "
                             f"{', '.join(cut[:5])}" + (" ..." if len(cut) > 5 else "")
                             + f"; longest {max(lengths)} tokens"))
    return found


def token_lengths(tokenizer, examples: Sequence[Example]) -> list[int]:
    """Each example's prompt + answer length in tokens, as training encodes it (chat template included)."""
    from harness.training.batching import encode_example

    return [len(encode_example(tokenizer, ex, 10**9).input_ids) for ex in examples]


def refuse_errors(findings: Sequence[Finding], where: str) -> None:
    """Raise `RecipeError` naming `where` (file [table]) and every error among `findings`."""
    from harness.training.recipe import RecipeError

    errors = [f for f in findings if f.level == "error"]
    if errors:
        raise RecipeError(f"{where}: " + "; ".join(f"{f.key}: {f.message}" for f in errors))


def main(argv: Sequence[str] | None = None, prog: str = "python -m harness.training.recipe check") -> int:
    """`python -m harness.training.recipe check --recipe FILE:TABLE --base-model DIR|builtin [--data FILE]`: the
    recipe's findings against the base (and its training data), then the resource estimate. Exit 1 when the recipe
    has an error, 0 otherwise."""
    import argparse

    from harness.training.recipe import load_recipe

    parser = argparse.ArgumentParser(prog=prog, description=main.__doc__)
    parser.add_argument("--recipe", required=True, help="TOML file and table: fixtures/recipes.toml:identity")
    parser.add_argument("--base-model", default="builtin", help="base model folder, or builtin")
    parser.add_argument("--data", type=Path, help="the training data (alpaca/chat JSON or JSONL)")
    parser.add_argument("--fixtures", type=Path, default=Path("fixtures"), help="data folder (replay source 'base')")
    parser.add_argument("--flop-rate", type=float, help="FLOP/s for the time estimate (default: measured here)")
    args = parser.parse_args(argv)
    file, _, table = args.recipe.rpartition(":")
    if not file:
        parser.error(f"--recipe {args.recipe}: write FILE:TABLE, e.g. fixtures/recipes.toml:identity")
    try:
        return _check(args, load_recipe(Path(file), table))
    except InputError as err:
        print(f"refused: {err}", file=sys.stderr)
        return 2


def _check(args: Any, recipe: LoraRecipe) -> int:
    from harness.data import load_examples
    from harness.data.folder import DataFolder
    from harness.training.estimate import Shape, estimate_table, measured_flop_rate
    from harness.training.lora import replay_pool

    base = DataFolder(args.fixtures).builtin_model if args.base_model == "builtin" else Path(args.base_model)
    model = meta_model(base)
    findings = structure_findings(recipe, adaptable_layers(model), model.config.model_type)
    if args.data:
        from transformers import AutoTokenizer

        spec = DataFolder(args.fixtures).identity_spec()
        examples = load_examples(args.data, spec.variables if spec else None)
        tokenizer = AutoTokenizer.from_pretrained(str(base))
        findings += data_findings(recipe, examples, token_lengths(tokenizer, examples),
                                  len(replay_pool(args.fixtures, recipe)))
    for finding in findings:
        print(finding)
    if not any(f.level == "error" for f in findings):
        print(estimate_table(Shape.of(model, recipe), recipe, args.flop_rate or measured_flop_rate()))
    return 1 if any(f.level == "error" for f in findings) else 0
