"""The model views a session evaluates, each an `HFLanguageModel` over lazily loaded weights inside a
`CachingModel` (answers shared through the session's request cache): base and
tuned over one copy of the base weights with an adapter attached, the plain base model (no peft wrapper, for
latency) and an untrained model of the base architecture (forward transfer's reference)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from harness.model.caching import CachingModel
from harness.model.lm import HFLanguageModel, SharedWeights
from harness.model.loading import DTYPES, BaseModel, adapter_digest, attach_adapters
from harness.model.protocol import LanguageModel
from harness.model.requests import RequestCache
from harness.model.sets import ModelSet


def plain_base(base_model: BaseModel, cache: RequestCache | None = None) -> LanguageModel:
    """The base model loaded on its own, without a peft wrapper (the fair reference for latency)."""
    model, tokenizer = base_model.load()
    return _view(base_model, model, tokenizer, name="base (plain)", model_id=base_model.digest, cache=cache)


def untrained_like(base_model: BaseModel, seed: int = 0, cache: RequestCache | None = None) -> LanguageModel:
    """A randomly initialised model with the base model's architecture and tokenizer: the "untrained
    baseline" b_j of forward transfer."""
    from transformers import AutoConfig, AutoModelForCausalLM

    tokenizer = base_model.load_tokenizer()
    torch.manual_seed(seed)
    config = AutoConfig.from_pretrained(base_model.path, trust_remote_code=False)
    model = AutoModelForCausalLM.from_config(config).to(device=base_model.device, dtype=DTYPES[base_model.dtype])
    return _view(base_model, model.eval(), tokenizer, name="untrained",
                 model_id=f"untrained:{base_model.digest}:{seed}", cache=cache)


def base_and_tuned(base_model: BaseModel, adapter: str | Path, allow_pickle: bool = False,
                   cache: RequestCache | None = None) -> ModelSet:
    """The base view and the tuned view over one copy of the base weights with `adapter` attached (after fit checks),
    loaded when a request first misses the cache.

    Views share `cache` (a new one if not given): the base view under the base digest, the tuned view under
    base + adapter digest.
    """
    base, tuned = _over_one_base(base_model, {"tuned": ("default", adapter)}, allow_pickle, cache)
    return ModelSet(base, tuned)


def base_tuned_and_shadow(base_model: BaseModel, adapter: str | Path, shadow: str | Path, allow_pickle: bool = False,
                          cache: RequestCache | None = None) -> tuple[ModelSet, LanguageModel]:
    """(base and tuned views, shadow view): `base_and_tuned` with a second adapter (--shadow) loaded into the
    same copy of the base weights, so a shadow comparison loads the base once."""
    base, tuned, other = _over_one_base(base_model, {"tuned": ("default", adapter), "shadow": ("shadow", shadow)},
                                        allow_pickle, cache)
    return ModelSet(base, tuned), other


def _view(base_model: BaseModel, *args: Any, model_id: str, cache: RequestCache | None, **kwargs: Any
          ) -> CachingModel:
    """A model view answering in the base's batch size and answer length (--batch-size, --max-new-tokens), its
    answers kept in `cache` (a new one if not given) under `model_id`, the identity of its weights."""
    computed = HFLanguageModel(*args, batch_size=base_model.batch_size, max_new_tokens=base_model.max_new_tokens,
                               **kwargs)
    return CachingModel(computed, cache if cache is not None else RequestCache(), model_id)


def base_and_full(base_model: BaseModel, tuned: BaseModel, cache: RequestCache | None = None) -> ModelSet:
    """The base view and the tuned view of a base and a full fine-tuned (or merged) model of the same architecture, each
    loaded when a request first misses the cache."""
    cache = cache if cache is not None else RequestCache()
    return ModelSet(_view(base_model, SharedWeights(base_model.load, base_model.device), name="base",
                          model_id=base_model.digest, cache=cache),
                    _view(base_model, SharedWeights(tuned.load, tuned.device), name="tuned", model_id=tuned.digest,
                          cache=cache))


def adapter_chain(base_model: BaseModel, adapters: Sequence[str | Path], allow_pickle: bool = False,
                  cache: RequestCache | None = None) -> list[LanguageModel]:
    """The base view, then one tuned view per adapter in order (a sequence's stages, a run's checkpoints), all over
    one copy of the base weights: the adapters are loaded into one peft model (`attach_adapters`) and each view
    switches to its own, so a run of N checkpoints loads the base once, not N times."""
    if not adapters:
        raise ValueError("adapter_chain needs at least one adapter")
    named = {f"tuned[{index}]": (f"a{index}", adapter) for index, adapter in enumerate(adapters)}
    return _over_one_base(base_model, named, allow_pickle, cache)


def _over_one_base(base_model: BaseModel, adapters: dict[str, tuple[str, str | Path]], allow_pickle: bool,
                   cache: RequestCache | None) -> list[LanguageModel]:
    """The base view, then a view per entry of `adapters` ({view name: (peft adapter name, folder)}), all over
    one copy of the base weights with every adapter loaded into it, loaded when a request first misses the
    cache; the views share `cache` (a new one if not given)."""
    def load() -> tuple[torch.nn.Module, Any]:
        model, tokenizer = base_model.load()
        return attach_adapters(model, dict(adapters.values()), allow_pickle=allow_pickle), tokenizer

    weights = SharedWeights(load, base_model.device)
    cache = cache if cache is not None else RequestCache()
    base = _view(base_model, weights, name="base", model_id=base_model.digest, adapter_enabled=False, cache=cache)
    return [base, *(_view(base_model, weights, name=view, adapter_name=name, cache=cache,
                          model_id=f"{base_model.digest}+{adapter_digest(folder)}")
                    for view, (name, folder) in adapters.items())]
