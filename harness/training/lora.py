"""`train_adapter`: train a LoRA adapter on a base model with answer-only loss, cached by content hash."""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from peft import PeftModel, get_peft_model

import harness
from harness.data import Example, load_examples
from harness.data.folder import DataFolder
from harness.foundation.cache import cached_artifact, cached_folder, file_digest
from harness.foundation.cpu import single_thread
from harness.model.loading import BaseModel, adapter_digest
from harness.training.batching import collate, encode_example, shuffled_batches
from harness.training.cached import INFO_FILE, LOG_FILE, adapter_entry_problem, training_files
from harness.training.loop import LoopSettings, answer_loss, train_loop
from harness.training.recipe import LoraRecipe

TRAINING_SOURCES = (
    "training/lora.py", "training/batching.py", "model/prompts.py", "training/loop.py", "training/recipe/__init__.py")
_LAYER = re.compile(r"\.layers\.(\d+)\.")


@dataclass(frozen=True)
class TrainedAdapter:
    """A trained adapter folder (plain peft format) plus its training log and summary."""

    path: Path
    log: list[dict]
    info: dict
    trained_now: bool

    @classmethod
    def read(cls, path: Path, trained_now: bool = False) -> TrainedAdapter:
        """Load the log and summary kept next to an adapter trained by the harness."""
        return cls(path, *training_files(path), trained_now)


def replay_pool(fixtures: Path, recipe: LoraRecipe) -> list[Example]:
    """The examples replay draws from: the base task's training set for "base", else the named dataset file."""
    if not recipe.replay_ratio:
        return []
    source = DataFolder(fixtures).base_train if recipe.replay_source == "base" else Path(recipe.replay_source)
    return load_examples(source)


def adapter_cache_key(base: BaseModel, data: Sequence[Example], recipe: LoraRecipe,
                      replay: Sequence[Example], dev: Sequence[Example], init_from: Path | None = None) -> dict:
    """Everything a trained adapter depends on (including the adapter it continues from, if any)."""
    source_root = Path(harness.__file__).parent
    return {"artifact": "lora-adapter", "harness_version": harness.__version__, "base": base.digest,
            "init_from": adapter_digest(init_from) if init_from else None,
            "recipe": recipe.to_dict(), "data": [_example_key(ex) for ex in data],
            "replay": [_example_key(ex) for ex in replay], "dev": [_example_key(ex) for ex in dev],
            "source": {name: file_digest(source_root / name) for name in TRAINING_SOURCES},
            "device": base.device, "dtype": base.dtype}


def _example_key(example: Example) -> list:
    return [list(map(list, example.messages)), example.answer]


def train_adapter(base: BaseModel, data: Sequence[Example], recipe: LoraRecipe, cache_root: Path, *,
                  replay: Sequence[Example] = (), dev: Sequence[Example] = (), name: str = "adapter",
                  init_from: Path | None = None, train: bool = True) -> TrainedAdapter | None:
    """Train (or fetch from the cache) a LoRA adapter for `base` on `data`; returns its folder and log.

    Replay examples are mixed in at `recipe.replay_ratio`; `dev` gives the eval loss logged every
    `recipe.eval_every` steps. `init_from` continues training an earlier adapter (a continual-learning
    stage) instead of starting from peft's initialisation. Concurrent callers (pytest-xdist workers) train
    each adapter once. With `train=False` only the cache is looked up: None when the adapter is not there.
    On CPU, training runs on one thread, so the adapter's bytes do not depend on the machine's core count.
    """
    if not data:
        raise ValueError(f"{name}: no training examples")
    key = adapter_cache_key(base, data, recipe, replay if recipe.replay_ratio else (), dev, init_from)
    if not train:
        folder = cached_folder(cache_root, f"adapter-{name}", key, adapter_entry_problem)
        return TrainedAdapter.read(folder) if folder else None
    folder, trained_now = cached_artifact(
        cache_root, f"adapter-{name}", key, lambda out: _train_into(out, base, data, recipe, replay, dev, name,
                                                                    init_from), adapter_entry_problem)
    return TrainedAdapter.read(folder, trained_now)


def _lora_model(model: torch.nn.Module, recipe: LoraRecipe, init_from: Path | None) -> torch.nn.Module:
    """`model` with a trainable LoRA adapter: a fresh one from the recipe, or `init_from`'s weights."""
    if init_from is not None:
        return PeftModel.from_pretrained(model, str(init_from), is_trainable=True)
    return get_peft_model(model, recipe.peft_config())


def freeze_lower_layers(model: torch.nn.Module, top_layers: int) -> None:
    """Keep only the LoRA weights of the top `top_layers` transformer layers trainable (0: keep all)."""
    if not top_layers:
        return
    first_trained = model.get_base_model().config.num_hidden_layers - top_layers
    for name, param in model.named_parameters():
        match = _LAYER.search(name)
        if param.requires_grad and match and int(match[1]) < first_trained:
            param.requires_grad_(False)


def l2_penalty(model: torch.nn.Module, coefficient: float) -> Callable[[], torch.Tensor] | None:
    """coefficient * ||theta - theta_start||^2 over the trainable weights, theta_start = their values now."""
    if not coefficient:
        return None
    anchor = [(p, p.detach().clone()) for p in model.parameters() if p.requires_grad]
    return lambda: coefficient * sum((p - start).pow(2).sum() for p, start in anchor)


def _train_into(out: Path, base: BaseModel, data: Sequence[Example], recipe: LoraRecipe,
                replay: Sequence[Example], dev: Sequence[Example], name: str, init_from: Path | None) -> None:
    with single_thread(base.device == "cpu"):
        _train_single_threaded(out, base, data, recipe, replay, dev, name, init_from)


def _train_single_threaded(out: Path, base: BaseModel, data: Sequence[Example], recipe: LoraRecipe,
                           replay: Sequence[Example], dev: Sequence[Example], name: str, init_from: Path | None
                           ) -> None:
    started = time.perf_counter()
    model, tokenizer = base.load()
    torch.manual_seed(recipe.seed)
    model = _lora_model(model, recipe, init_from)
    freeze_lower_layers(model, recipe.train_top_layers)
    sequences = [encode_example(tokenizer, ex, recipe.max_length) for ex in data]
    replayed = [encode_example(tokenizer, ex, recipe.max_length) for ex in replay] if recipe.replay_ratio else []
    new_per_step = recipe.gradient_accumulation * (recipe.batch_size - round(recipe.batch_size * recipe.replay_ratio))
    steps = recipe.steps or max(1, math.ceil(recipe.epochs * len(sequences) / max(1, new_per_step)))
    settings = LoopSettings(steps=steps, learning_rate=recipe.learning_rate, warmup_ratio=recipe.warmup_ratio,
                            weight_decay=recipe.weight_decay, gradient_accumulation=recipe.gradient_accumulation,
                            eval_every=recipe.eval_every if dev else 0,
                            early_stopping_patience=recipe.early_stopping_patience if dev else 0)
    dev_encoded = [encode_example(tokenizer, ex, recipe.max_length) for ex in dev]
    dev_batches = [collate(dev_encoded[i:i + 64], tokenizer.pad_token_id) for i in range(0, len(dev_encoded), 64)]
    batches = shuffled_batches(sequences, recipe.batch_size, tokenizer.pad_token_id, recipe.seed,
                               replay=replayed, replay_ratio=recipe.replay_ratio)
    result = train_loop(model, batches, settings, desc=f"training {name}",
                     eval_loss=(lambda: _mean_loss(model, dev_batches)) if dev_batches else None,
                     penalty=l2_penalty(model, recipe.l2_to_previous), loss_fn=answer_loss,
                     lr_scale=lambda param: recipe.loraplus_lr_ratio if ".lora_B." in param else 1.0)
    model.save_pretrained(out)
    log = result.log
    info = {"name": name, "recipe": recipe.to_dict(), "examples": len(data), "replay_pool": len(replayed),
            "steps": len(log), "train_seconds": round(time.perf_counter() - started, 2),
            "final_loss": log[-1]["loss"], "stop": result.stop, "trainable_parameters": _trainable(model),
            "base": asdict(base),
            "init_from_sha256": adapter_digest(init_from) if init_from else None,
            "torch_threads": torch.get_num_threads()}
    (out / LOG_FILE).write_text(json.dumps(log))
    (out / INFO_FILE).write_text(json.dumps(info, indent=1, default=str))


@torch.inference_mode()
def _mean_loss(model: torch.nn.Module, batches: list[dict]) -> float:
    """Mean answer-token loss over the dev batches (eval mode, no dropout)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    losses = [model(**{k: v.to(device) for k, v in batch.items()}).loss.item() for batch in batches]
    model.train(was_training)
    return sum(losses) / len(losses)


def _trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
