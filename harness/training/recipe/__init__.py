"""`LoraRecipe`: the knobs practitioners set when training a LoRA adapter, validated on construction."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from harness.foundation.compat import tomllib
from harness.foundation.errors import InputError
from harness.foundation.textfiles import read_text_file


@dataclass(frozen=True)
class LoraRecipe:
    """A LoRA training recipe. Defaults follow the common r=8, alpha=32, all-linear recipe.

    Training length is `steps` optimiser steps when set, else `epochs` passes over the new data.
    `replay_ratio` is the fraction of every batch drawn from `replay_source` (a dataset path, "base" for
    the base task's training set, or "earlier" for the base task and every earlier increment of a sequence)
    to protect old skills. Early stopping watches the dev-set loss every `eval_every` steps and stops after
    `early_stopping_patience` evaluations without improvement. For continual learning, `train_top_layers`
    = k trains only the adapters of the top k transformer layers (0: all), and `l2_to_previous` adds
    coefficient * ||theta - theta_previous||^2 over the trainable adapter weights, pulling each stage toward
    the adapter it continues from. `loraplus_lr_ratio` > 1 trains every lora_B matrix at that multiple of
    the learning rate (LoRA+, Hayou et al. 2024): B starts at zero, and a larger step on it shortens LoRA's slow
    start.

    >>> LoraRecipe(r=16).alpha
    32
    >>> LoraRecipe(r=0)
    Traceback (most recent call last):
    ...
    ValueError: LoraRecipe.r must be >= 1, got 0
    """

    r: int = 8
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "all-linear"
    epochs: float = 12.0
    steps: int | None = None
    learning_rate: float = 2e-3
    batch_size: int = 16
    gradient_accumulation: int = 1
    max_length: int = 96
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    seed: int = 0
    replay_ratio: float = 0.0
    replay_source: str = "base"
    eval_every: int = 0
    early_stopping_patience: int = 0
    train_top_layers: int = 0
    l2_to_previous: float = 0.0
    loraplus_lr_ratio: float = 1.0

    def __post_init__(self) -> None:
        _at_least(self, "r", 1)
        _at_least(self, "alpha", 1)
        _at_least(self, "batch_size", 1)
        _at_least(self, "gradient_accumulation", 1)
        _at_least(self, "max_length", 8)
        _at_least(self, "eval_every", 0)
        _at_least(self, "early_stopping_patience", 0)
        _at_least(self, "train_top_layers", 0)
        if not self.loraplus_lr_ratio >= 1:
            raise ValueError(f"LoraRecipe.loraplus_lr_ratio must be >= 1, got {self.loraplus_lr_ratio}")
        if not self.l2_to_previous >= 0:
            raise ValueError(f"LoraRecipe.l2_to_previous must be >= 0, got {self.l2_to_previous}")
        if self.steps is not None:
            _at_least(self, "steps", 1)
        elif not self.epochs > 0:
            raise ValueError(f"LoraRecipe.epochs must be > 0 when steps is not set, got {self.epochs}")
        for key, low, high in (("dropout", 0.0, 0.99), ("warmup_ratio", 0.0, 0.9), ("replay_ratio", 0.0, 0.95)):
            if not low <= getattr(self, key) <= high:
                raise ValueError(f"LoraRecipe.{key} must be in [{low}, {high}], got {getattr(self, key)}")
        if not self.learning_rate > 0:
            raise ValueError(f"LoraRecipe.learning_rate must be > 0, got {self.learning_rate}")
        if self.early_stopping_patience and not self.eval_every:
            raise ValueError("LoraRecipe.early_stopping_patience needs eval_every > 0")
        if isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "recipe") -> LoraRecipe:
        """Build a recipe from a config mapping; an unknown key is an error naming it."""
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(values) - known):
            raise ValueError(f"{where}: unknown LoraRecipe key(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def peft_config(self) -> Any:
        """The recipe as a peft `LoraConfig` (causal LM)."""
        from peft import LoraConfig

        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout, task_type="CAUSAL_LM",
                          target_modules=self.target_modules if isinstance(self.target_modules, str)
                          else list(self.target_modules))

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, for cache keys and results.json."""
        data = asdict(self)
        data["target_modules"] = (self.target_modules if isinstance(self.target_modules, str)
                                  else list(self.target_modules))
        return data


def recipe_names(path: Path) -> list[str]:
    """The dotted names of every recipe table in a recipes TOML file (a table holding only tables, like
    `[sequence]`, is a group); none when the file does not exist."""
    table = _recipe_tables(path)

    def names(prefix: str, node: dict) -> list[str]:
        groups = [(k, v) for k, v in node.items() if isinstance(v, dict)]
        if prefix and (len(groups) < len(node) or not node):
            return [prefix]
        return [n for k, v in groups for n in names(f"{prefix}.{k}" if prefix else k, v)]

    return names("", table)


def _recipe_tables(path: Path) -> dict:
    try:
        return tomllib.loads(read_text_file(path, RecipeError, "recipe TOML file")) if path.exists() else {}
    except tomllib.TOMLDecodeError as err:
        raise RecipeError(f"{path}: invalid TOML: {err}") from None


def load_recipe(path: Path, name: str) -> LoraRecipe:
    """The recipe in table `[name]` of a TOML file (dotted names for nested tables, e.g. "sequence.replay");
    defaults when the file or table is absent."""
    table = _recipe_tables(path)
    for part in name.split("."):
        table = table.get(part, {})
        if not isinstance(table, dict):
            raise RecipeError(f"{path} [{name}]: expected a table, got {table!r}")
    where = f"{path} [{name}]"
    try:
        return LoraRecipe.from_mapping(table, where=where)
    except (TypeError, ValueError) as err:
        message = str(err)
        raise RecipeError(message if message.startswith(where) else f"{where}: {message}") from err


class RecipeError(InputError):
    """A recipe in recipes.toml is unreadable or invalid; the message names the file and the table."""


def _at_least(recipe: LoraRecipe, key: str, low: int) -> None:
    value = getattr(recipe, key)
    if not isinstance(value, int) or value < low:
        raise ValueError(f"LoraRecipe.{key} must be >= {low}, got {value!r}")

