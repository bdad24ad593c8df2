"""A fake language model for fast tests: answers from a table, no weights, microseconds per call.

It implements `harness.model.protocol.LanguageModel`, so every evaluator and the whole plugin path (gates,
baselines, drift, reports, JUnit names) can be exercised without loading or training a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace

from harness.data import Example
from harness.model.protocol import Conversation
from harness.model.sets import ModelSet


class FakeModel:
    """Answers each conversation's last message from `answers` (else `default`); an answer scores log-prob 0
    per token when it is the table's answer and -5 otherwise."""

    device = SimpleNamespace(type="cpu")

    def __init__(self, name: str, answers: Mapping[str, str], default: str = "") -> None:
        self.name = name
        self.answers = dict(answers)
        self.default = default
        self.calls = 0

    def _answer(self, conversation: Conversation) -> str:
        return self.answers.get(conversation[-1][1], self.default)

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        """The table's answer to each conversation's last message."""
        self.calls += 1
        return [self._answer(tuple(c)) for c in conversations]

    def loglikelihood(self, examples: Sequence[Example]) -> list[tuple[float, int]]:
        """0 per token for the answer this model gives, -5 per token for any other."""
        out = []
        for ex in examples:
            tokens = max(1, len(ex.answer.split()))
            out.append((0.0 if self._answer(ex.messages) == ex.answer else -5.0 * tokens, tokens))
        return out

    def text_loglikelihood(self, texts: Sequence[str], window: int = 256, stride: int = 192
                           ) -> list[tuple[float, int]]:
        """-1 per whitespace token."""
        return [(-1.0 * len(t.split()), len(t.split())) for t in texts]

    def timed_generate(self, conversations: Sequence[Conversation], new_tokens: int, repeats: int = 1,
                       cpu_time: bool = False) -> float:
        """A constant 10 ms."""
        return 0.01

    def answer_logits(self, examples: Sequence[Example]) -> list:
        """No logits: a fake has no vocabulary."""
        return []

    def lora_layers(self) -> list:
        """No LoRA layers."""
        return []

    def lora_activations(self, examples: Sequence[Example]) -> dict:
        """No activations."""
        return {}

    def merged(self) -> FakeModel:
        """Itself: there is nothing to merge."""
        return self


def question_set(size: int = 40) -> list[Example]:
    """`size` one-turn questions q0, q1, ... with answers a0, a1, ..."""
    return [Example(f"item-{i}", (("user", f"q{i}"),), f"a{i}") for i in range(size)]


def fake_pair(examples: Sequence[Example], wrong: int = 0) -> ModelSet:
    """Base and tuned: the base answers every example right; the tuned answers the first `wrong` wrongly."""
    right = {ex.prompt_text: ex.answer for ex in examples}
    tuned = {**right, **{ex.prompt_text: "no idea" for ex in list(examples)[:wrong]}}
    return ModelSet(FakeModel("base", right), FakeModel("tuned", tuned))
