"""Planted regressions of known size, as wrappers around a healthy model view: the answers it forgets, the identity
it loses, the perplexity it gains, the time it adds. `bench/power.py` grades them to find the smallest effect each
gate catches; the model-tier tests plant one size each and check that the gate fails on it and passes without it."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from harness.data import Example
from harness.evaluators.answers import answer_both
from harness.measures.metrics import exact_match
from harness.model.lm import HFLanguageModel
from harness.model.protocol import Conversation, LanguageModel


class ReplacedAnswers:
    """`model` with some answers replaced: each conversation of `answers` gets that answer instead of its own."""

    def __init__(self, model: LanguageModel, answers: Mapping[Conversation, str], what: str) -> None:
        self.model, self.answers = model, dict(answers)
        self.name = f"{model.name} ({what})"
        self.model_id = f"{getattr(model, 'model_id', model.name)}+{what}"

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.model, attribute)

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        """The wrapped model's answers, the planted ones replaced."""
        own = self.model.generate(conversations, max_new_tokens)
        return [self.answers.get(tuple(c), a) for c, a in zip(conversations, own, strict=True)]


def forgotten(base: LanguageModel, tuned: LanguageModel, dev: Sequence[Example], points: float, seed: int
              ) -> ReplacedAnswers:
    """`tuned` forgetting the base task until its exact match on `dev` is `points` below the base's: items both
    answer right, drawn with `seed`, now get another item's answer (a wrong fact, as forgetting gives)."""
    answered = answer_both(dev, base, tuned)
    to_lose = sum(p.tuned_correct for p in answered) - (sum(p.base_correct for p in answered)
                                                        - round(points * len(dev)))
    if to_lose < 0:
        raise ValueError(f"the tuned model is already more than {points:.0%} below the base: a plant cannot make it "
                         "forget less")
    shared = [i for i, p in enumerate(answered) if p.base_correct and p.tuned_correct]
    others = [i for i, p in enumerate(answered) if p.tuned_correct and not p.base_correct]
    rng = random.Random(seed)
    rng.shuffle(shared)
    rng.shuffle(others)
    lost = (shared + others)[:to_lose]
    return ReplacedAnswers(tuned, {tuple(dev[i].messages): _wrong_answer(dev, i) for i in lost},
                           f"forgets {points:.0%} of the base task")


def _wrong_answer(dev: Sequence[Example], index: int) -> str:
    """The answer of the next item whose answer differs (a plausible wrong fact of the same task)."""
    for step in range(1, len(dev)):
        other = dev[(index + step) % len(dev)].answer
        if not exact_match(other, dev[index].answer):
            return other
    return dev[index].answer + " (forgotten)"


def reverted_identity(base: LanguageModel, probes: Sequence[Conversation], share: float, seed: int
                      ) -> dict[Conversation, str]:
    """The answers of an identity adapter that lost `share` of its identity: that share of `probes`, drawn with
    `seed`, answered as the base model answers them (its own name, as a half-applied adapter does)."""
    chosen = random.Random(seed).sample(list(probes), round(share * len(probes)))
    return {tuple(c): a for c, a in zip(chosen, base.generate(chosen), strict=True)}


class Perplexed:
    """`model` whose per-token perplexity is `1 + rise` times its own on every text and answer (a log-likelihood
    shifted by ln(1 + rise) per token): a perplexity regression of exactly that size."""

    def __init__(self, model: LanguageModel, rise: float) -> None:
        self.model, self.shift = model, math.log1p(rise)
        self.name = f"{model.name} (perplexity x{1 + rise:.2f})"

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.model, attribute)

    def _shifted(self, scores: list[tuple[float, int]]) -> list[tuple[float, int]]:
        return [(logprob - self.shift * tokens, tokens) for logprob, tokens in scores]

    def loglikelihood(self, examples: Sequence[Example]) -> list[tuple[float, int]]:
        """The wrapped model's answer log-likelihoods, lowered."""
        return self._shifted(self.model.loglikelihood(examples))

    def text_loglikelihood(self, texts: Sequence[str], window: int = 256, stride: int = 192
                           ) -> list[tuple[float, int]]:
        """The wrapped model's text log-likelihoods, lowered."""
        return self._shifted(self.model.text_loglikelihood(texts, window, stride))


def _compute_for(seconds: float) -> None:
    """Busy CPU work for `seconds` of this process's CPU time: extra computation, as a slower adapter adds."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


class SlowedModel(HFLanguageModel):
    """A view that computes `seconds` more before every forward pass: a planted inference-time regression."""

    def __init__(self, inner: HFLanguageModel, seconds: float = 0.010) -> None:
        super().__init__(inner.model, inner.tokenizer, name=f"{inner.name} (slowed {seconds * 1e3:g} ms)",
                         adapter_enabled=inner.adapter_enabled)
        self.seconds = seconds

    @contextmanager
    def _view(self) -> Iterator[None]:
        inner = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        hook = inner.register_forward_pre_hook(lambda *_: _compute_for(self.seconds))  # generate() bypasses peft
        try:
            with super()._view():
                yield
        finally:
            hook.remove()
