"""Check base-model and adapter folders from their files alone, before any weight is loaded.

Reading a safetensors header (`safetensors_header`) gives every tensor's shape and tells a damaged or truncated
file from a whole one in microseconds; a base's config is checked against its weights (`base_config`), an
adapter's config against its tensors (`adapter_config`). With the base model's shapes, an adapter's shapes are
checked against the layers they modify, and against its own `r`, without torch. Every problem is a
`ModelFolderError` naming the file and the key or tensor at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.foundation.errors import ModelFolderError, read_json
from harness.foundation.textfiles import read_text_file
from harness.model.adapter_config import check_lora_config, check_targets, lora_module
from harness.model.base_config import check_base_config, check_tokenizer_files, check_weights_agree
from harness.model.safetensors_header import safetensors_shapes

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "vocab.txt")
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
ADAPTER_CONFIG, ADAPTER_WEIGHTS, ADAPTER_PICKLE = "adapter_config.json", "adapter_model.safetensors", \
    "adapter_model.bin"
CONV1D_MODEL_TYPES = ("gpt2", "openai-gpt")  # transformers models whose linear layers are Conv1D (weight: in, out)
_PREFIX = "base_model.model."  # of a saved module's tensor name


class UnsafeWeightsError(ModelFolderError):
    """Only pickled weights were found and pickle loading was not allowed."""


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
    check_base_config(folder / "config.json", config)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise ModelFolderError(f"{folder}: no tokenizer files (one of {', '.join(TOKENIZER_FILES)}); save the "
                               "tokenizer next to the model with `tokenizer.save_pretrained(folder)`")
    check_tokenizer_files(folder)
    shapes = _weight_shapes(folder, allow_pickle)
    check_weights_agree(folder, config, shapes)
    return ModelFacts(folder, config, shapes)


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
    check_lora_config(folder / ADAPTER_CONFIG, config)
    for weights in safe_weight_files(folder, ADAPTER_WEIGHTS, ADAPTER_PICKLE, allow_pickle):
        shapes = safetensors_shapes(weights)
        for key, shape in shapes.items():
            _check_adapter_tensor(folder, config, key, shape, base)
        check_targets(folder / ADAPTER_CONFIG, config, {m for k in shapes if (m := lora_module(k))},
                      _linear_modules(base), base.config["model_type"] if base else None)
    return config


def _linear_modules(base: ModelFacts | None) -> list[str]:
    """The base's modules with a 2-D weight (those LoRA may adapt), from its weight files."""
    if base is None:
        return []
    return [k.removesuffix(".weight") for k, s in base.shapes.items() if k.endswith(".weight") and len(s) == 2]


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


def _check_adapter_tensor(folder: Path, config: dict, key: str, shape: tuple[int, ...], base: ModelFacts | None
                          ) -> None:
    """One adapter tensor against `r` and the base layer it modifies (or, for a saved module, replaces)."""
    where = f"{folder / ADAPTER_WEIGHTS}: tensor {key!r} (shape {list(shape)})"
    module, kind = lora_module(key), key.rpartition(".lora_")[2]
    if module is None:  # a saved module (modules_to_save, resized embeddings) replaces the base's tensor
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
