"""`CachingModel`: any `LanguageModel` with its answers memoised in a shared `RequestCache` (lm-eval's `CachingLM`).

A backend only computes; this wrapper keys each request by the weights' identity (`model_id`: the base digest
plus the adapter's) so every view of the same weights in a session, and with a persistent store every later
session, reuses an answer. Timing is never cached, and what the wrapper does not cache (LoRA introspection, the
backend's own attributes) passes through to the wrapped model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.data import Example
from harness.model.protocol import Conversation, LanguageModel
from harness.model.requests import RequestCache


class CachingModel:
    """`model`'s generate, loglikelihood, text_loglikelihood and (where it has one) prompt_tokens answered from
    `cache` under `model_id` when asked before; everything else delegated to `model`."""

    def __init__(self, model: LanguageModel, cache: RequestCache, model_id: str) -> None:
        self.inner = model
        self.cache = cache
        self.model_id = model_id

    @property
    def name(self) -> str:
        """The wrapped view's name."""
        return self.inner.name

    @property
    def device(self) -> Any:
        """Where the wrapped view computes."""
        return self.inner.device

    def __getattr__(self, attribute: str) -> Any:
        if attribute == "inner":  # not set yet (during unpickling or copying): no recursion
            raise AttributeError(attribute)
        value = getattr(self.inner, attribute)  # a backend without prompt_tokens has none here either
        return self._cached_prompt_tokens if attribute == "prompt_tokens" else value

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        """Greedy completions, keyed by the answer length limit (the view's default when not given)."""
        limit = max_new_tokens or getattr(self.inner, "max_new_tokens", None)
        return self.cache.answer(self.model_id, f"generate:{limit}", [tuple(c) for c in conversations],
                                 lambda todo: self.inner.generate(todo, limit))

    def loglikelihood(self, examples: Sequence[Example]) -> list[tuple[float, int]]:
        """(sum of log-probabilities, token count) of each answer, keyed by (prompt messages, answer)."""
        requests = [(tuple(ex.messages), ex.answer) for ex in examples]
        by_request = dict(zip(requests, examples, strict=True))
        return self.cache.answer(self.model_id, "loglikelihood", requests,
                                 lambda todo: self.inner.loglikelihood([by_request[r] for r in todo]))

    def text_loglikelihood(self, texts: Sequence[str], window: int = 256, stride: int = 192
                           ) -> list[tuple[float, int]]:
        """(sum of log-probabilities, scored token count) of each text, keyed by window and stride."""
        return self.cache.answer(self.model_id, f"text_loglikelihood:{window}:{stride}", list(texts),
                                 lambda todo: self.inner.text_loglikelihood(todo, window, stride))

    def _cached_prompt_tokens(self, conversations: Sequence[Conversation]) -> list[int]:
        """Each prompt's token count, from a backend that can count them (what a system prompt adds)."""
        count = self.inner.prompt_tokens  # type: ignore[attr-defined]
        return self.cache.answer(self.model_id, "prompt_tokens", [tuple(c) for c in conversations], count)

    def timed_generate(self, conversations: Sequence[Conversation], new_tokens: int, repeats: int = 1,
                       cpu_time: bool = False) -> float:
        """Seconds per batched generation: measured every time, never cached."""
        return self.inner.timed_generate(conversations, new_tokens, repeats, cpu_time)

    def merged(self) -> CachingModel:
        """The wrapped view's merged copy, cached under its own identity."""
        return CachingModel(self.inner.merged(), self.cache, f"{self.model_id}:merged")  # type: ignore[attr-defined]
