"""Load a base model and tokenizer safely; attach a LoRA adapter after checking that it fits the base.

Safe by default: safetensors only (a pickled `.bin` is refused unless `allow_pickle`), and
`trust_remote_code=False`. An adapter whose target modules or tensor shapes do not match the base is a clear
error naming the tensor; a differing base name in `adapter_config.json` is only a warning, because tools record
hub ids or paths from other machines there.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.foundation.cache import content_hash, directory_digest
from harness.foundation.errors import ModelFolderError, summary
from harness.model.files import (
    ADAPTER_WEIGHTS,
    check_adapter_folder,
    safe_weight_files,
    safetensors_shapes,
)
from harness.model.prompts import prompt_template

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class AdapterMismatchError(ModelFolderError):
    """The adapter cannot be applied to this base model (missing modules or differing shapes)."""


def resolve_device(choice: str) -> str:
    """'auto' becomes 'cuda' when a GPU is visible, else 'cpu'; 'cuda' without a GPU is an error."""
    if choice not in {"auto", "cpu", "cuda"}:
        raise ValueError(f"--device must be auto, cpu or cuda, got {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA device is available")
    return ("cuda" if torch.cuda.is_available() else "cpu") if choice == "auto" else choice


AUTO_BATCH_SIZE = {"cpu": 64, "cuda": 256}  # where --batch-size auto starts; out-of-memory halves it


def resolve_batch_size(choice: int | str, device: str) -> int:
    """--batch-size: a number as given; "auto" starts at 64 on CPU (memory is not what limits it there) and 256 on
    a GPU, from where the out-of-memory back-off halves it until a batch fits."""
    return AUTO_BATCH_SIZE["cuda" if device.startswith("cuda") else "cpu"] if choice == "auto" else int(choice)


def resolve_dtype(choice: str, device: str) -> str:
    """'auto' is bfloat16 on a GPU that supports it, float32 otherwise."""
    if choice != "auto" and choice not in DTYPES:
        raise ValueError(f"--dtype must be auto, float32, bfloat16 or float16, got {choice!r}")
    if choice != "auto":
        return choice
    return "bfloat16" if device == "cuda" and torch.cuda.is_bf16_supported() else "float32"


@dataclass(frozen=True)
class BaseModel:
    """A base model folder, its content digest, and where and in which precision to run it."""

    path: str
    digest: str
    device: str = "cpu"
    dtype: str = "float32"
    allow_pickle: bool = False
    prompt_format: str = "auto"
    batch_size: int = 64  # sequences per padded batch of every model view over this base
    max_new_tokens: int = 48  # greedy answers stop here at the latest
    device_map: str | None = None  # "auto": spread over every visible GPU (a model larger than one)

    @classmethod
    def at(cls, path: str | Path, device: str = "cpu", dtype: str = "float32", allow_pickle: bool = False,
           prompt_format: str = "auto", batch_size: int = 64, max_new_tokens: int = 48,
           device_map: str | None = None) -> BaseModel:
        """Describe the model folder at `path`: its digest (`model_digest`, with a prompt format other than the
        folder's own folded in, since it changes every answer)."""
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise ModelFolderError(f"{folder}: not a model folder (no config.json)")
        safe_weight_files(folder, "model.safetensors*", "pytorch_model*.bin", allow_pickle)
        digest = model_digest(folder)
        if prompt_format not in ("auto", "chat"):  # "chat" is the folder's own template, already in the digest
            fmt = Path(prompt_format).read_text(encoding="utf-8") if prompt_format.endswith(".jinja") else \
                prompt_format
            digest = content_hash([digest, fmt])
        return cls(str(folder.resolve()), digest, device, dtype, allow_pickle, prompt_format, batch_size,
                   max_new_tokens, device_map)

    def load_tokenizer(self):
        """The tokenizer of this model folder in the run's prompt format (`prompt_tokenizer`)."""
        return prompt_tokenizer(self.path, self.prompt_format)

    def load(self):
        """(model, tokenizer): the model in eval mode on its device (or spread by its device map), the tokenizer
        with a pad token."""
        tokenizer = self.load_tokenizer()
        with _library_errors(self.path, "the model"):
            model = AutoModelForCausalLM.from_pretrained(self.path, dtype=DTYPES[self.dtype], trust_remote_code=False,
                                                         use_safetensors=None if self.allow_pickle else True,
                                                         device_map=self.device_map)
        return (model if self.device_map else model.to(self.device)).eval(), tokenizer


def prompt_tokenizer(folder: str | Path, prompt_format: str = "auto"):
    """The tokenizer of a model folder, prompting in `prompt_format` (`prompt_template`), with a pad token (eos
    when it has none); a ModelFolderError naming the folder when it cannot be loaded."""
    with _library_errors(folder, "the tokenizer"):
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
        tokenizer.chat_template = prompt_template(tokenizer, prompt_format)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@contextmanager
def _library_errors(folder: str | Path, what: str) -> Iterator[None]:
    """A transformers / peft / safetensors failure to read `folder` as a ModelFolderError naming it (first line of
    the library's message, the exception kept as the cause)."""
    try:
        yield
    except ModelFolderError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as err:
        raise ModelFolderError(f"{folder}: cannot load {what}: {type(err).__name__}: {summary(err)}") from err


MODEL_IDENTITY = ("config.json", "generation_config.json", "*.safetensors", "model.safetensors.index.json",
                  "pytorch_model*.bin", "tokenizer*", "special_tokens_map.json", "added_tokens.json", "vocab.*",
                  "merges.txt", "spiece.model", "chat_template.*")  # never build metadata, logs or checksums


def model_digest(folder: Path) -> str:
    """Content digest of what makes a model answer as it does: weights, config, tokenizer and chat template.
    Build metadata (`build_info.json`), logs and checksum lists are left out, so the same bits built twice have
    one digest."""
    return directory_digest(folder, MODEL_IDENTITY)


def adapter_digest(path: str | Path) -> str:
    """Content digest of an adapter folder (config + weights)."""
    return directory_digest(Path(path), ("adapter_config.json", "adapter_model.*"))


def check_adapter_fits(model: torch.nn.Module, adapter_dir: str | Path, allow_pickle: bool = False) -> dict:
    """Validate a peft LoRA adapter folder against `model`; return its adapter_config.

    Raises ModelFolderError for a folder that is not a whole LoRA adapter (`check_adapter_folder`), and
    AdapterMismatchError naming the first tensor whose module is missing from the loaded base or whose shape does
    not match the base layer.
    """
    folder = Path(adapter_dir)
    config = check_adapter_folder(folder, allow_pickle=allow_pickle)
    if (folder / ADAPTER_WEIGHTS).is_file():
        modules = dict(model.named_modules())
        for key, shape in safetensors_shapes(folder / ADAPTER_WEIGHTS).items():
            _check_tensor(key, shape, modules, folder)
    _warn_on_base_name(config, model)
    return config


def _check_tensor(key: str, shape: tuple[int, ...], modules: dict, folder: Path) -> None:
    """One adapter tensor: its target module must exist in the base with matching in/out features."""
    module_path, _, kind = key.removeprefix("base_model.model.").rpartition(".lora_")
    if not module_path:
        return  # modules_to_save and other non-LoRA tensors are checked by peft itself
    target = modules.get(module_path)
    if target is None:
        raise AdapterMismatchError(f"{folder}: tensor {key!r} targets module {module_path!r}, "
                                   "which the base model does not have (different architecture or target_modules)")
    in_features, out_features = getattr(target, "in_features", None), getattr(target, "out_features", None)
    if kind.startswith("A.") and in_features is not None and shape[-1] != in_features:
        raise AdapterMismatchError(f"{folder}: tensor {key!r} has shape {list(shape)} but base layer "
                                   f"{module_path!r} takes {in_features} input features")
    if kind.startswith("B.") and out_features is not None and shape[0] != out_features:
        raise AdapterMismatchError(f"{folder}: tensor {key!r} has shape {list(shape)} but base layer "
                                   f"{module_path!r} produces {out_features} output features")


def _warn_on_base_name(config: dict, model: torch.nn.Module) -> None:
    recorded = str(config.get("base_model_name_or_path") or "")
    actual = str(getattr(model.config, "_name_or_path", "") or "")
    if recorded and actual and Path(recorded).name != Path(actual).name:
        warnings.warn(f"adapter_config.json names base {recorded!r}, evaluating on {actual!r}; shapes match, "
                      "so continuing (the recorded name is only a hint)", UserWarning, stacklevel=3)


def attach_adapters(model: torch.nn.Module, adapters: Mapping[str, str | Path], allow_pickle: bool = False):
    """Wrap `model` once and load every adapter of `adapters` ({peft adapter name: folder}) into it, each checked
    to fit first: one copy of the base weights serves them all, a view picks its adapter with `set_adapter`."""
    from peft import PeftModel

    for folder in adapters.values():
        check_adapter_fits(model, folder, allow_pickle)
    (first_name, first), *rest = adapters.items()
    with _library_errors(first, "the adapter"):
        peft_model = PeftModel.from_pretrained(model, str(first), adapter_name=first_name, is_trainable=False)
    for name, folder in rest:
        with _library_errors(folder, "the adapter"):
            peft_model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
    return peft_model.eval()


def attach_adapter(model: torch.nn.Module, adapter_dir: str | Path, allow_pickle: bool = False):
    """Check the adapter fits, then wrap `model` in a peft model with the adapter loaded as "default" (eval
    mode)."""
    return attach_adapters(model, {"default": adapter_dir}, allow_pickle)
