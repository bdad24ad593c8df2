"""The one model protocol between evaluators and backends: what an evaluator may ask of a language model.

A tiny request vocabulary, as in lm-evaluation-harness: greedy `generate`, `loglikelihood` of an answer
given its prompt and `text_loglikelihood` of plain text (both as (sum of log-probabilities, token count):
one sign convention), `timed_generate` for latency, and for the adapter-health checks `answer_logits`,
`lora_layers`, `lora_activations` and a `merged()` copy. `harness.model.lm.HFLanguageModel` implements it over
Hugging Face + peft; anything with these methods (a fake in a test, another backend) serves the evaluators.
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

    name: str

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

    def answer_logits(self, examples: Sequence[Example]) -> list[Any]:
        """Logits over each example's answer tokens (tensors)."""

    def lora_layers(self) -> list[Any]:
        """The LoRA layers of the adapter this view runs with (`harness.model.lora_layers.LoraLayer`)."""

    def lora_activations(self, examples: Sequence[Example]) -> dict[str, Any]:
        """Per LoRA layer, the low-rank activations (outputs of `lora_A`) over the examples' tokens."""

    def merged(self) -> LanguageModel:
        """A copy with the adapter merged into the base weights."""
