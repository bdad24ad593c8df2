"""One example answered by the base and the tuned model: the record the dev-set accuracy and the
generation-quality capabilities share, and the batched call that produces it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.data import Example
from harness.measures.metrics import exact_match
from harness.model.protocol import LanguageModel


@dataclass(frozen=True)
class AnswerPair:
    """One example answered by base and tuned model."""

    example: Example
    base_output: str
    tuned_output: str

    @property
    def base_correct(self) -> bool:
        """Base answer matches the reference exactly (normalised)."""
        return exact_match(self.base_output, self.example.answer)

    @property
    def tuned_correct(self) -> bool:
        """Tuned answer matches the reference exactly (normalised)."""
        return exact_match(self.tuned_output, self.example.answer)

    @property
    def group(self) -> str:
        """`category/lang` of the item, for the per-group breakdown."""
        return f"{self.example.meta.get('category', 'all')}/{self.example.meta.get('lang', 'all')}"

    @property
    def category(self) -> str:
        """The item's `category` tag ('' when the data has none)."""
        return str(self.example.meta.get("category", ""))

    @property
    def lang(self) -> str:
        """The item's language tag, or the reference's language when the data has none."""
        return self.example.language


def answer_both(examples: Sequence[Example], base: LanguageModel, tuned: LanguageModel) -> list[AnswerPair]:
    """Base and tuned answers to every example's prompt (batched, cached per model)."""
    prompts = [ex.messages for ex in examples]
    return [AnswerPair(ex, b, t) for ex, b, t in zip(examples, base.generate(prompts), tuned.generate(prompts),
                                                    strict=True)]
