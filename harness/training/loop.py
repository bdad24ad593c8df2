"""The optimisation loop shared by pretraining the built-in model and training adapters (nanoGPT-short)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from harness.foundation.progress import progress
from harness.training.batching import IGNORE_INDEX


@dataclass(frozen=True)
class LoopSettings:
    """Optimiser and schedule knobs of one training run."""

    steps: int
    learning_rate: float
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    gradient_accumulation: int = 1
    eval_every: int = 0
    early_stopping_patience: int = 0
    max_grad_norm: float = 1.0


@dataclass
class LoopResult:
    """What a training run did: the per-step log and how it ended (`stop`: `reason` "steps" | "early stopping" |
    "diverged", the step it ended at, and with eval, the best eval loss, its step and whether the weights of that
    step were restored)."""

    log: list[dict]
    stop: dict


class _BestWeights:
    """A copy of the trainable weights at the best eval loss so far, put back at the end of training."""

    def __init__(self, params: list[torch.nn.Parameter]) -> None:
        self.params, self.loss = params, math.inf
        self.copy: list[torch.Tensor] | None = None
        self.step: int | None = None

    def offer(self, step: int, loss: float) -> bool:
        """Keep the weights if `loss` is the best so far; True when it is."""
        if not loss < self.loss:
            return False
        self.copy, self.step, self.loss = [p.detach().clone() for p in self.params], step, loss
        return True

    @torch.no_grad()
    def restore(self) -> None:
        """Put the kept weights back (no-op when none were kept)."""
        for param, kept in zip(self.params, self.copy or [], strict=False):
            param.copy_(kept)


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warm-up then cosine decay to 10% of the peak.

    >>> lr_factor(0, 100, 10), lr_factor(10, 100, 10), round(lr_factor(100, 100, 10), 3)
    (0.1, 1.0, 0.1)
    """
    if step < warmup:
        return (step + 1) / warmup
    progress_ = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))


def model_loss(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    """The model's own loss on a batch with `labels`."""
    return model(**batch).loss


def answer_loss(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled (answer) tokens, projecting to the vocabulary only where a
    label is: the model's own loss, at a fraction of the output layer's cost (prompts and padding need hidden
    states, not logits). Models that cannot be split that way (no decoder / output-embedding accessors, logit
    soft-capping or scaling) use their own forward."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(inner, "config", None)
    try:
        decoder, head = inner.get_decoder(), inner.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        decoder = head = None
    if decoder is None or head is None or getattr(config, "final_logit_softcapping", None) or \
            getattr(config, "logit_scale", None):
        return model_loss(model, batch)
    hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"][:, 1:]
    keep = labels != IGNORE_INDEX
    logits = head(hidden[:, :-1][keep]).float()
    return torch.nn.functional.cross_entropy(logits, labels[keep])


def train_loop(model: torch.nn.Module, batches: Iterator[dict], settings: LoopSettings, desc: str,
               eval_loss: Callable[[], float] | None = None,
               penalty: Callable[[], torch.Tensor] | None = None,
               loss_fn: Callable[[torch.nn.Module, dict], torch.Tensor] = model_loss,
               lr_scale: Callable[[str], float] = lambda name: 1.0) -> LoopResult:
    """Run AdamW for `settings.steps` optimiser steps; return the per-step log and how training ended.

    `loss_fn(model, batch)` gives the data loss (default: the model's own); `lr_scale(parameter name)` scales
    the learning rate per parameter (default: 1). `penalty()`, when given, is added to every optimiser step's
    loss (a regulariser such as an L2 pull toward earlier weights); the logged `loss` is the data loss alone.

    Each log row has `step`, `loss` (mean over the accumulated micro-batches) and `lr`; rows where
    `eval_loss` ran also have `eval_loss`. Early stopping ends training when eval loss has not improved
    for `early_stopping_patience` evaluations and puts back the weights of the best evaluation. A non-finite
    training loss ends training before the optimiser step ("diverged"): the weights stay finite and the log
    says where it happened (the training gates fail on it; nothing raises).
    """
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    scales = sorted({lr_scale(name) for name, _ in named})
    groups = [{"params": [p for name, p in named if lr_scale(name) == s], "scale": s} for s in scales]
    optimizer = torch.optim.AdamW(groups, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    warmup = int(settings.steps * settings.warmup_ratio)
    device = next(model.parameters()).device
    log: list[dict] = []
    best, stale, stop = _BestWeights(params), 0, dict[str, Any](reason="steps")
    model.train()
    for step in progress(range(settings.steps), desc=desc):
        for group in optimizer.param_groups:
            group["lr"] = settings.learning_rate * group["scale"] * lr_factor(step, settings.steps, warmup)
        total = 0.0
        for _ in range(settings.gradient_accumulation):
            batch = {k: v.to(device) for k, v in next(batches).items()}
            loss = loss_fn(model, batch) / settings.gradient_accumulation
            total += loss.item()
            if penalty is not None:
                loss = loss + penalty() / settings.gradient_accumulation
            if not math.isfinite(total):
                break
            loss.backward()
        if not math.isfinite(total):
            log.append({"step": step + 1, "loss": None, "nonfinite_loss": str(total)})
            stop = {"reason": "diverged", "detail": f"non-finite training loss ({total}) at step {step + 1}"}
            break
        torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        row = {"step": step + 1, "loss": round(total, 6),
               "lr": settings.learning_rate * lr_factor(step, settings.steps, warmup)}
        if eval_loss and settings.eval_every and (step + 1) % settings.eval_every == 0:
            row["eval_loss"] = round(eval_loss(), 6)
            stale = 0 if best.offer(step + 1, row["eval_loss"]) else stale + 1
        log.append(row)
        if settings.early_stopping_patience and stale >= settings.early_stopping_patience:
            stop = {"reason": "early stopping", "detail": f"eval loss not improved for {stale} evaluations"}
            break
    if best.step is not None:
        restore = bool(settings.early_stopping_patience) and best.step != log[-1]["step"]
        if restore:
            best.restore()
        stop |= {"best_step": best.step, "best_eval_loss": best.loss, "restored_best": restore}
    model.eval()
    return LoopResult(log, {**stop, "at_step": log[-1]["step"] if log else 0})
