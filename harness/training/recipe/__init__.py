"""`LoraRecipe`: the knobs practitioners set when training a LoRA adapter, validated on construction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from harness.foundation.errors import InputError
from harness.foundation.textfiles import read_toml
from harness.foundation.values import number, refuse, text, whole_number


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
    ValueError: LoraRecipe: key 'r' must be a whole number >= 1, got 0 (a whole number)
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
        check_values(lambda key: getattr(self, key), "LoraRecipe")
        if isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "recipe") -> LoraRecipe:
        """Build a recipe from a config mapping; an unknown key, or a value of the wrong type or range, is an error
        naming `where` and the key."""
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(values) - known):
            raise ValueError(f"{where}: unknown LoraRecipe key(s) {unknown}; known: {sorted(known)}")
        defaults = {f.name: f.default for f in fields(cls)}
        check_values(lambda key: values.get(key, defaults[key]), where)
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
    `[sequence]`, is a group); none when the file does not exist. A value beside recipe tables (a top-level key, or
    a key of a group that is no recipe key) is an error: it belongs to no recipe."""
    table = _recipe_tables(path)
    recipe_keys = {f.name for f in fields(LoraRecipe)}

    def names(prefix: str, node: dict) -> list[str]:
        groups = [(k, v) for k, v in node.items() if isinstance(v, dict)]
        if not prefix or (groups and not recipe_keys & set(node)):  # a group: its values must be tables
            for key, value in node.items():
                refuse_unless(isinstance(value, dict), f"{path} [{prefix}]" if prefix else str(path), key,
                              "a table (a recipe, or a group of recipes)", value)
        if prefix and (len(groups) < len(node) or not node):
            return [prefix]
        return [n for k, v in groups for n in names(f"{prefix}.{k}" if prefix else k, v)]

    return names("", table)


def _recipe_tables(path: Path) -> dict:
    return read_toml(path, RecipeError, "recipe TOML file") if path.exists() else {}


def load_recipe(path: Path, name: str) -> LoraRecipe:
    """The recipe in table `[name]` of a TOML file (dotted names for nested tables, e.g. "sequence.replay");
    defaults when the file or table is absent."""
    table = _recipe_tables(path)
    for part in name.split("."):
        table = table.get(part, {})
        refuse_unless(isinstance(table, dict), f"{path} [{name}]", part, "a table", table)
    where = f"{path} [{name}]"
    try:
        return LoraRecipe.from_mapping(table, where=where)
    except (TypeError, ValueError) as err:
        message = str(err)
        raise RecipeError(message if message.startswith(where) else f"{where}: {message}") from err


class RecipeError(InputError):
    """A recipe in recipes.toml is unreadable or invalid; the message names the file and the table."""


def refuse_unless(ok: bool, where: str, key: str, expected: str, value: Any) -> None:
    """A RecipeError `WHERE: key 'K' must be EXPECTED, got VALUE` unless `ok`."""
    if not ok:
        raise refuse(where, key, expected, value, RecipeError)


WHOLE = {"r": 1, "alpha": 1, "batch_size": 1, "gradient_accumulation": 1, "max_length": 8, "eval_every": 0,
         "early_stopping_patience": 0, "train_top_layers": 0, "seed": 0}  # key: the least value
RANGES: dict[str, tuple[str, Callable[[float], bool]]] = {  # key: the range in words, and its test
    "dropout": ("a number in [0, 1)", lambda v: 0 <= v < 1),
    "warmup_ratio": ("a number in [0, 0.9]", lambda v: 0 <= v <= 0.9),
    "replay_ratio": ("a number in [0, 0.95]", lambda v: 0 <= v <= 0.95),
    "epochs": ("a number > 0", lambda v: v > 0),
    "learning_rate": ("a number > 0", lambda v: v > 0),
    "weight_decay": ("a number >= 0", lambda v: v >= 0),
    "l2_to_previous": ("a number >= 0", lambda v: v >= 0),
    "loraplus_lr_ratio": ("a number >= 1", lambda v: v >= 1),
}


def check_values(value: Callable[[str], Any], where: str) -> None:
    """Every recipe key's value (`value(key)`) of the right type and range: a ValueError `WHERE: key 'K' must be
    ..., got ...` for the first that is not (a boolean is not a number; `alpha` is a whole number, as peft's
    `LoraConfig.lora_alpha` is declared)."""
    for key, low in WHOLE.items():
        whole_number(value(key), key, where, ValueError, low)
    for key, (expected, ok) in RANGES.items():
        number(value(key), key, where, ValueError, expected, ok)
    if value("steps") is not None:
        whole_number(value("steps"), "steps", where, ValueError, 1)
    modules = value("target_modules")
    if not (isinstance(modules, str) and modules.strip()) and not (
            isinstance(modules, (list, tuple)) and modules and all(isinstance(m, str) and m for m in modules)):
        raise refuse(where, "target_modules", '"all-linear", a module name or a list of module names', modules,
                     ValueError)
    text(value("replay_source"), "replay_source", where, ValueError)
    if value("early_stopping_patience") and not value("eval_every"):
        raise ValueError(f"{where}: key 'early_stopping_patience' needs eval_every > 0")
