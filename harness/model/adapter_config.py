"""A peft LoRA adapter's `adapter_config.json`, checked for types and ranges and against the tensors it describes.

peft reads the config without checking types: a string `lora_alpha` fails deep in a forward pass, a string
`modules_to_save` is iterated by character. Worse, `target_modules` decides which modules get LoRA layers, and
tensors of a module it does not name are loaded into nothing: an adapter applied in part, which may pass every
gate. So every key peft acts on must have its type, and `target_modules` must name exactly the modules the weights
hold tensors for. Each problem is a `ModelFolderError` naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace

from harness.foundation.errors import ModelFolderError
from harness.foundation.values import is_number, is_whole
from harness.model.json_keys import KeyTable, check_keys, names, optional, positive_integer

_PREFIX = "base_model.model."
_NARROWING = ("layers_to_transform", "layers_pattern", "exclude_modules")  # keys narrowing target_modules' match
_SHOWN = 4  # module names a message lists before "..."


def _regex(v: object) -> bool:
    """A string that compiles as a regular expression (peft matches a string `target_modules` as one)."""
    try:
        return isinstance(v, str) and bool(re.compile(v))
    except re.error:
        return False


# key -> (check, what it must be); a key that is absent takes peft's default
KEYS: KeyTable = {
    "r": (positive_integer, "a positive integer"),
    "lora_alpha": (lambda v: is_number(v) and v > 0, "a positive number"),
    "lora_dropout": (lambda v: is_number(v) and 0 <= v < 1, "a number from 0 up to (not including) 1"),
    "target_modules": (optional(lambda v: _regex(v) or names(v)),
                       "a list of module names, a regular expression or \"all-linear\""),
    "exclude_modules": (optional(lambda v: _regex(v) or names(v)), "a list of module names or a regular expression"),
    "modules_to_save": (optional(names), "a list of module names (or null)"),
    "layers_to_transform": (optional(lambda v: is_whole(v) or (isinstance(v, list) and all(map(is_whole, v)))),
                            "a layer index or a list of them"),
    "layers_pattern": (optional(lambda v: isinstance(v, str) or names(v)), "a module name or a list of them"),
    "base_model_name_or_path": (optional(lambda v: isinstance(v, str)), "a model name or path (or null)"),
    "bias": (lambda v: v in ("none", "all", "lora_only"), "\"none\", \"all\" or \"lora_only\""),
    "fan_in_fan_out": (lambda v: isinstance(v, bool), "true or false"),
    "use_rslora": (lambda v: isinstance(v, bool), "true or false"),
    "use_dora": (lambda v: isinstance(v, bool), "true or false"),
    "rank_pattern": (lambda v: isinstance(v, dict) and all(map(positive_integer, v.values())),
                     "an object of module patterns to positive integers"),
    "alpha_pattern": (lambda v: isinstance(v, dict) and all(map(is_number, v.values())),
                      "an object of module patterns to numbers"),
}


def check_lora_config(path: Path, config: dict) -> None:
    """A LoRA adapter config: `peft_type` "LORA", `r` present, every key peft acts on of its type and range, and
    the whole config one peft reads."""
    if "peft_type" not in config:
        raise ModelFolderError(f"{path}: key 'peft_type' missing; a peft adapter config says \"peft_type\": "
                               "\"LORA\" (save the adapter with `model.save_pretrained`)")
    if config["peft_type"] != "LORA":
        raise ModelFolderError(f"{path}: key 'peft_type' is {config['peft_type']!r}; tunegate evaluates LORA "
                               "adapters only")
    check_keys(path, config, KEYS, "restore the adapter_config.json the training run saved", required=("r",))
    _peft_reads(path)


def _peft_reads(path: Path) -> None:
    """peft reads the config (its own checks of combinations, e.g. `layers_pattern` without
    `layers_to_transform`, or an unknown `task_type`): a ModelFolderError naming the file and peft's words
    otherwise."""
    from peft import LoraConfig

    try:
        LoraConfig.from_pretrained(str(path.parent))
    except Exception as err:  # peft raises many types for a config it cannot read; all mean "refused"
        raise ModelFolderError(f"{path}: peft cannot read it ({' '.join(str(err).split())}); restore the "
                               "adapter_config.json the training run saved") from err


def lora_module(key: str) -> str | None:
    """The module an adapter tensor adapts (`model.layers.0.self_attn.q_proj` of
    `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`); None for a saved module's tensor."""
    module, _, _ = key.removeprefix(_PREFIX).rpartition(".lora_")
    return module or None


def check_targets(path: Path, config: dict, adapted: set[str], base_modules: Iterable[str],
                  model_type: str | None) -> None:
    """`target_modules` (narrowed by `layers_to_transform`, `layers_pattern`, `exclude_modules` as peft narrows
    it) must cover every module the weights hold LoRA tensors for (peft would ignore the others' tensors) and name
    no module of the base (`base_modules`: those with a 2-D weight) without tensors (peft would
    add it at its initialisation). Adapters of "all-linear" or `target_parameters` are not matched here."""
    targets = config.get("target_modules")
    if targets is None and model_type is not None:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

        targets = DEFAULTS.get(model_type)
    if targets is None or targets == "all-linear" or config.get("target_parameters"):
        return
    selection = f"key 'target_modules' is {targets!r}" + "".join(f", {k!r} is {config[k]!r}" for k in _NARROWING
                                                                 if config.get(k))
    matched = _matched(path, selection, SimpleNamespace(**{k: config.get(k) for k in (*_NARROWING, "modules_to_save")},
                                                        target_modules=targets, target_parameters=None))
    ignored = sorted(m for m in adapted if not matched(m))
    if ignored:
        raise ModelFolderError(f"{path}: {selection}, which does not cover {len(ignored)} of "
                               f"the {len(adapted)} modules the weights hold LoRA tensors for ({_listed(ignored)}): "
                               "peft would load those tensors and never apply them; name every trained module")
    untrained = sorted(m for m in base_modules if m not in adapted and matched(m))
    if untrained:
        raise ModelFolderError(f"{path}: {selection}, which names {len(untrained)} modules "
                               f"the weights hold no LoRA tensors for ({_listed(untrained)}): peft would add them "
                               "at their initialisation; the config and the weights come from different adapters")


def _matched(path: Path, selection: str, matcher: SimpleNamespace) -> Callable[[str], bool]:
    """Whether peft would give a module of this name a LoRA layer (its own matching); a pattern that is not a
    regular expression (in layers_pattern or modules_to_save) is a ModelFolderError."""
    from peft.tuners.tuners_utils import check_target_module_exists

    def matched(module: str) -> bool:
        try:
            return bool(check_target_module_exists(matcher, module))
        except re.error as err:
            raise ModelFolderError(f"{path}: {selection}: peft matches module names with regular expressions made "
                                   f"of these keys and of 'modules_to_save', and one is not valid ({err}); use "
                                   "plain module names") from err
    return matched


def _listed(names: list[str]) -> str:
    return ", ".join(names[:_SHOWN]) + (" ..." if len(names) > _SHOWN else "")
