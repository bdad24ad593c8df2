"""The protocols between evaluators and backends: what an evaluator may ask of a language model.

`LanguageModel` is the lean evaluation vocabulary, as in lm-evaluation-harness: greedy `generate`,
`loglikelihood` of an answer given its prompt and `text_loglikelihood` of plain text (both as (sum of
log-probabilities, token count): one sign convention) and `timed_generate` for latency. `AdapterIntrospection`
is what only the adapter-health checks ask (LoRA weights, activations, a merged copy), so a backend that cannot
look inside its weights (a server) still serves every other capability. Request caching is not part of either:
`harness.model.caching.CachingModel` adds it to any backend by composition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from harness.data import Example

Conversation = tuple[tuple[str, str], ...]  # ((role, text), ...)


@runtime_checkable
class LanguageModel(Protocol):
    """One model view (base, tuned, merged, ...) that evaluators query in batches."""

    @property
    def name(self) -> str:
        """What the report calls this view (base, tuned, tuned+merged, ...)."""

    @property
    def device(self) -> Any:
        """Where the model computes (a `torch.device`)."""

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        """Greedy completion of each conversation."""

    def loglikelihood(self, examples: Sequence[Example]) -> list[tuple[float, int]]:
        """(sum of log-probabilities, token count) of each example's answer given its prompt."""

    def text_loglikelihood(self, texts: Sequence[str], window: int = 256, stride: int = 192
                           ) -> list[tuple[float, int]]:
        """(sum of log-probabilities, scored token count) of each plain text, long texts in sliding windows."""

    def timed_generate(self, conversations: Sequence[Conversation], new_tokens: int, repeats: int = 1,
                       cpu_time: bool = False) -> float:
        """Seconds for one batched greedy generation of exactly `new_tokens` tokens (uncached)."""


@runtime_checkable
class AdapterIntrospection(Protocol):
    """What the adapter-health checks read from a model view: its LoRA layers and activations, a merged copy."""

    def answer_logits(self, examples: Sequence[Example]) -> list[Any]:
        """Logits over each example's answer tokens (tensors)."""

    def lora_layers(self) -> list[Any]:
        """The LoRA layers of the adapter this view runs with (`harness.model.lora_layers.LoraLayer`)."""

    def lora_activations(self, examples: Sequence[Example]) -> dict[str, Any]:
        """Per LoRA layer, the low-rank activations (outputs of `lora_A`) over the examples' tokens."""

    def merged(self) -> InspectableModel:
        """A copy with the adapter merged into the base weights."""


@runtime_checkable
class InspectableModel(LanguageModel, AdapterIntrospection, Protocol):
    """A model view that both answers and can be looked inside (the adapter-health inputs)."""
