"""Check base-model and adapter folders from their files alone, before any weight is loaded.

A safetensors file is an 8-byte header length, a JSON header (name -> dtype, shape, byte range) and the data;
reading the header gives every tensor's shape and tells a truncated file (the byte ranges reach past its end)
from a whole one in microseconds. With the base model's shapes, an adapter's shapes are checked against the
layers they modify, and against its own `r`, without torch. Every problem is a `ModelFolderError` naming the
file and the key or tensor at fault.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from harness.foundation.errors import ModelFolderError, read_json
from harness.foundation.textfiles import read_text_file

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "vocab.txt")
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
ADAPTER_CONFIG, ADAPTER_WEIGHTS, ADAPTER_PICKLE = "adapter_config.json", "adapter_model.safetensors", \
    "adapter_model.bin"
CONV1D_MODEL_TYPES = ("gpt2", "openai-gpt")  # transformers models whose linear layers are Conv1D (weight: in, out)
_PREFIX = "base_model.model."


class UnsafeWeightsError(ModelFolderError):
    """Only pickled weights were found and pickle loading was not allowed."""


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape in a safetensors file; a ModelFolderError naming the file when it is truncated or its
    header is not a safetensors header."""
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size
            if size < 8:
                raise ModelFolderError(f"{path}: truncated ({size} bytes; a safetensors file starts with an 8-byte "
                                       "header length)")
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > size - 8:
                raise ModelFolderError(f"{path}: truncated or not safetensors (header of {length} bytes, file of "
                                       f"{size}); copy or download it again")
            raw = handle.read(length)
    except OSError as err:
        raise ModelFolderError(f"{path}: cannot read: {err.strerror or err}") from err
    try:
        header = json.loads(raw)
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        end = max((v["data_offsets"][1] for v in tensors.values()), default=0)
        shapes = {k: tuple(v["shape"]) for k, v in tensors.items()}
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise ModelFolderError(f"{path}: not a safetensors file (unreadable header: {err})") from err
    if 8 + length + end > size:
        raise ModelFolderError(f"{path}: truncated: its header describes {8 + length + end} bytes, the file has "
                               f"{size}; copy or download it again")
    return shapes


@dataclass(frozen=True)
class ModelFacts:
    """What a base-model folder's files say: its config and every weight's shape (empty for pickled weights)."""

    folder: Path
    config: dict
    shapes: dict[str, tuple[int, ...]]

    @property
    def context(self) -> int | None:
        """The number of positions the model can attend over (None when its config does not say)."""
        return next((self.config[k] for k in CONTEXT_KEYS if isinstance(self.config.get(k), int)), None)


def check_model_folder(folder: Path, allow_pickle: bool = False) -> ModelFacts:
    """A base-model folder's config, tokenizer and weights, checked from the files: a ModelFolderError naming the
    file and key when `config.json` is not a JSON object with `model_type`, no tokenizer file is there, or a
    weights file is missing or truncated."""
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: --base-model must be a model folder (config.json, tokenizer, weights)")
    config = _json_object(folder / "config.json", "model config file (config.json)")
    if not isinstance(config.get("model_type"), str):
        raise ModelFolderError(f"{folder / 'config.json'}: key 'model_type' missing: not a transformers model "
                               "config (save the model with `save_pretrained`)")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelFolderError(f"{folder}: no tokenizer files (one of {', '.join(TOKENIZER_FILES)}); save the "
                               "tokenizer next to the model with `tokenizer.save_pretrained(folder)`")
    return ModelFacts(folder, config, _weight_shapes(folder, allow_pickle))


def _weight_shapes(folder: Path, allow_pickle: bool) -> dict[str, tuple[int, ...]]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = _json_object(index, "safetensors index").get("weight_map")
        if not isinstance(weight_map, dict):
            raise ModelFolderError(f"{index}: key 'weight_map' missing or not an object")
        files = sorted(set(weight_map.values()))
    else:
        files = [p.name for p in safe_weight_files(folder, "model*.safetensors", "pytorch_model*.bin", allow_pickle)]
    shapes: dict[str, tuple[int, ...]] = {}
    for name in files:
        if not (folder / name).is_file():
            raise ModelFolderError(f"{folder / name}: listed in model.safetensors.index.json but missing")
        shapes.update(safetensors_shapes(folder / name))
    return shapes


def check_adapter_folder(folder: Path, base: ModelFacts | None = None, allow_pickle: bool = False) -> dict:
    """A peft LoRA adapter folder checked from its files; returns its adapter config. A ModelFolderError names the
    file and key or tensor when the config is not a LoRA config, the weights are missing or truncated, a tensor's
    rank disagrees with `r`, or (given the base's facts) a tensor targets a module the base lacks or has another
    shape than the layer it modifies."""
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: not an adapter folder")
    if not (folder / ADAPTER_CONFIG).is_file():
        if named := named_adapters(folder):
            raise ModelFolderError(f"{folder}: holds {len(named)} named adapters ({', '.join(named)}) and no "
                                   f"default one: name the one to evaluate, e.g. {folder / named[0]}")
        held = ", ".join(sorted(p.name for p in folder.iterdir())[:6]) or "nothing"
        raise ModelFolderError(f"{folder}: no {ADAPTER_CONFIG}, so not a peft adapter (it holds {held}); a "
                               "checkpoint saved without its adapter cannot be evaluated")
    config = _json_object(folder / ADAPTER_CONFIG, "adapter config")
    _check_lora_config(folder / ADAPTER_CONFIG, config)
    for weights in safe_weight_files(folder, ADAPTER_WEIGHTS, ADAPTER_PICKLE, allow_pickle):
        for key, shape in safetensors_shapes(weights).items():
            _check_adapter_tensor(folder, config, key, shape, base)
    return config


def named_adapters(folder: Path) -> list[str]:
    """The adapters peft saved in subfolders of `folder` (`save_pretrained` of a model holding several: the
    "default" adapter at the top, each other one in a subfolder named after it)."""
    return sorted(p.name for p in folder.iterdir() if (p / ADAPTER_CONFIG).is_file()) if folder.is_dir() else []


def safe_weight_files(folder: Path, safe_glob: str, pickle_glob: str, allow_pickle: bool) -> list[Path]:
    """The safetensors files of `folder` matching `safe_glob`; none when only pickled ones (`pickle_glob`) are
    there and pickle is allowed. Only pickled weights without `allow_pickle` are an UnsafeWeightsError, no weights
    at all a ModelFolderError."""
    if files := sorted(p for p in folder.glob(safe_glob) if p.is_file()):
        return files
    if any(folder.glob(pickle_glob)):
        if allow_pickle:
            return []
        raise UnsafeWeightsError(f"{folder}: only pickled weights ({pickle_glob}), which can run arbitrary code: "
                                 "convert them to safetensors or pass --allow-pickle")
    raise ModelFolderError(f"{folder}: no weights ({safe_glob})")


def _check_lora_config(path: Path, config: dict) -> None:
    if "peft_type" not in config:
        raise ModelFolderError(f"{path}: key 'peft_type' missing; a peft adapter config says \"peft_type\": "
                               "\"LORA\" (save the adapter with `model.save_pretrained`)")
    if config["peft_type"] != "LORA":
        raise ModelFolderError(f"{path}: key 'peft_type' is {config['peft_type']!r}; tunegate evaluates LORA "
                               "adapters")
    if not isinstance(config.get("r"), int) or isinstance(config.get("r"), bool) or config["r"] < 1:
        raise ModelFolderError(f"{path}: key 'r' must be a positive integer, got {config.get('r')!r}")


def _check_adapter_tensor(folder: Path, config: dict, key: str, shape: tuple[int, ...], base: ModelFacts | None
                          ) -> None:
    """One adapter tensor against `r` and the base layer it modifies (or, for a saved module, replaces)."""
    where = f"{folder / ADAPTER_WEIGHTS}: tensor {key!r} (shape {list(shape)})"
    module, _, kind = key.removeprefix(_PREFIX).rpartition(".lora_")
    if not module:  # a saved module (modules_to_save, resized embeddings) replaces the base's tensor
        name = key.removeprefix(_PREFIX)
        if base and base.shapes and name in base.shapes and base.shapes[name] != shape:
            raise ModelFolderError(f"{where}: the base's {name!r} has shape {list(base.shapes[name])}; the adapter "
                                   "was trained on a resized or different model (another vocabulary size?): "
                                   "evaluate it on the base and tokenizer it was trained with")
        return
    if kind.startswith(("A.", "B.")) and not config.get("rank_pattern"):
        rank = shape[0] if kind.startswith("A.") else shape[-1]
        if len(shape) == 2 and rank != config["r"]:
            raise ModelFolderError(f"{where}: rank {rank}, but {folder / ADAPTER_CONFIG} key 'r' is {config['r']}; "
                                   "the config and the weights come from different adapters")
    if base is None or not base.shapes or not kind.startswith(("A.", "B.")):
        return
    target = base.shapes.get(f"{module}.weight")
    if target is None:
        if module.endswith("lm_head") and base.config.get("tie_word_embeddings"):
            return
        raise ModelFolderError(f"{where}: targets module {module!r}, which the base model {base.folder} does not "
                               f"have; the adapter was made for another architecture (its config names base "
                               f"{config.get('base_model_name_or_path')!r})")
    out_features, in_features = (target[-1], target[0]) if _stored_in_by_out(config, base) else (target[0], target[-1])
    if kind.startswith("A.") and shape[-1] != in_features:
        raise ModelFolderError(f"{where}: the base layer {module!r} takes {in_features} input features; the adapter "
                               "was made for another model size or architecture")
    if kind.startswith("B.") and shape[0] != out_features:
        raise ModelFolderError(f"{where}: the base layer {module!r} produces {out_features} output features; the "
                               "adapter was made for another model size or architecture")


def _stored_in_by_out(adapter_config: dict, base: ModelFacts) -> bool:
    """Whether the base stores its targeted weights (in, out): transformers' Conv1D (GPT-2), which peft marks
    `fan_in_fan_out` on the first adapter but not on one added with `add_adapter`, so the base's type decides too."""
    return bool(adapter_config.get("fan_in_fan_out")) or base.config.get("model_type") in CONV1D_MODEL_TYPES


def _json_object(path: Path, what: str) -> dict:
    """A JSON file that must hold an object."""
    document = read_json(path, read_text_file(path, ModelFolderError, what), ModelFolderError)
    if not isinstance(document, dict):
        raise ModelFolderError(f"{path}: expected a JSON object, got {type(document).__name__}")
    return document
