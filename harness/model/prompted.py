"""The prompt-only baseline: the base model told in its prompt what the adapter was trained to do (a system prompt
and, optionally, k worked examples before every conversation). The cheapest alternative to a fine-tune, asked
through the same batched interface and request cache as the model it wraps, so "is a prompt enough?" is measured,
not guessed."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.data import ContextOverflowError, Example, load_examples, load_prompt_baseline
from harness.data.folder import DataFolder
from harness.data.prep import shared_records
from harness.foundation.cache import content_hash
from harness.model.protocol import Conversation, LanguageModel
from harness.model.sets import ModelSet


class PromptedModel:
    """`model` with `system` as its system prompt and `shots` (worked examples) before every conversation."""

    def __init__(self, model: LanguageModel, system: str, shots: Sequence[Example] = ()) -> None:
        self.model, self.name = model, f"{model.name} + prompt"
        turns = [turn for ex in shots for turn in (*ex.messages, ("assistant", ex.answer)) if turn[0] != "system"]
        self.prefix: Conversation = ((("system", system),) if system else ()) + tuple(turns)
        self.model_id = f"{getattr(model, 'model_id', model.name)}+prompt:{content_hash(self.prefix)[:12]}"

    @property
    def device(self) -> Any:
        """The wrapped model's device."""
        return self.model.device

    def prompted(self, conversation: Conversation) -> Conversation:
        """The conversation after the prompt (a system turn of its own is joined to the prompt's)."""
        own = tuple(conversation)
        if own and own[0][0] == "system" and self.prefix and self.prefix[0][0] == "system":
            return (("system", f"{self.prefix[0][1]}\n{own[0][1]}"), *self.prefix[1:], *own[1:])
        return self.prefix + own

    def added_tokens(self, conversations: Sequence[Conversation]) -> float | None:
        """Mean prompt tokens the prompt adds to a request (what it costs on every call), None when the wrapped
        model cannot count tokens."""
        count = getattr(self.model, "prompt_tokens", None)
        if count is None or not conversations:
            return None
        plain, prompted = count(conversations), count([self.prompted(c) for c in conversations])
        return sum(p - q for p, q in zip(prompted, plain, strict=True)) / len(conversations)

    @contextmanager
    def _named_as_the_cause(self) -> Iterator[None]:
        """A request too long for the model's context says that the baseline's prompt made it so."""
        try:
            yield
        except ContextOverflowError as err:
            raise ContextOverflowError(err.detail, f"the prompt-only baseline put {len(self.prefix)} turn(s) before "
                                       "it (its system prompt and worked examples): give it a shorter prompt or "
                                       "fewer examples (`prompt_shots` in identity/identity.toml, `shots` in "
                                       "prompted.toml)") from None

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        """Greedy completion of each conversation after the prompt (batched and cached by the wrapped model)."""
        with self._named_as_the_cause():
            return self.model.generate([self.prompted(c) for c in conversations], max_new_tokens)

    def loglikelihood(self, examples: Sequence[Example]) -> list[tuple[float, int]]:
        """Log-likelihood of each answer given the prompt and its conversation."""
        with self._named_as_the_cause():
            return self.model.loglikelihood([replace(ex, messages=self.prompted(ex.messages)) for ex in examples])

    def text_loglikelihood(self, texts: Sequence[str], window: int = 256, stride: int = 192
                           ) -> list[tuple[float, int]]:
        """Plain text has no conversation to put the prompt before: scored as the wrapped model scores it."""
        return self.model.text_loglikelihood(texts, window, stride)

    def timed_generate(self, conversations: Sequence[Conversation], new_tokens: int, repeats: int = 1,
                       cpu_time: bool = False) -> float:
        """Seconds for one batched generation after the prompt (what the prompt costs in time)."""
        with self._named_as_the_cause():
            return self.model.timed_generate([self.prompted(c) for c in conversations], new_tokens, repeats,
                                             cpu_time)


def identity_prompted(model: LanguageModel, fixtures: Path) -> PromptedModel | None:
    """`model` told the identity of `fixtures/identity/identity.toml` in its system prompt, after `prompt_shots`
    worked examples drawn (with `prompt_seed`) from `identity/self_cognition.json` that share no prompt with a probe
    of `identity/probes.json` (the prompt-only baseline of the identity adapter, the column beside base and tuned);
    None when the data folder has no identity."""
    folder = DataFolder(fixtures)
    spec = folder.identity_spec()
    if spec is None:
        return None
    if not spec.prompt_shots:
        return PromptedModel(model, spec.prompt)
    train = load_examples(folder.self_cognition, spec.variables)
    evaluated = load_examples(folder.probes, spec.variables) if folder.probes.is_file() else []
    return PromptedModel(model, spec.prompt, draw_shots(train, evaluated, spec.prompt_shots, spec.prompt_seed))


def with_identity_prompt(models: ModelSet, fixtures: Path) -> ModelSet:
    """`models` and, where the data folder has an identity, the base told it in a system prompt."""
    return models.with_prompted(identity_prompted(models.base, fixtures))


def draw_shots(train: Sequence[Example], evaluated: Sequence[Example], k: int, seed: int) -> list[Example]:
    """`k` worked examples drawn with `seed` from `train`, none sharing an id or a prompt with an item of
    `evaluated` (a shot must not answer a question it is scored on)."""
    held = set(shared_records(train, evaluated))
    pool = [ex for ex in train if ex.id not in held]
    return random.Random(seed).sample(pool, min(k, len(pool)))


def few_shot_prompt(fixtures: Path, task: str, dev: Sequence[Example]) -> tuple[str, list[Example]]:
    """A task's baseline prompt (`fixtures/prompted.toml` [new_task]): its system prompt and `shots` worked
    examples from `tasks/<task>/train.json` that are not dev items (by id or prompt), drawn with its seed."""
    folder = DataFolder(fixtures)
    config = load_prompt_baseline(folder.prompted, "new_task")
    return config.system, draw_shots(load_examples(folder.task(task, "train")), dev, config.shots,
                                     config.seed)


def prompt_verdict(prompt: float, adapter: float, prompt_kind: str, measure: str) -> str:
    """The prompt-only baseline against the adapter in words (`prompt`, `adapter`: the two rates); the gate's
    PASS / FAIL decides, the words say how far a prompt gets.

    >>> prompt_verdict(0.0, 0.88, "a system prompt", "claim rate")
    'the adapter is needed: prompting reaches 0.000, the adapter 0.880'
    >>> prompt_verdict(0.545, 0.862, "a system prompt", "claim rate")
    "a system prompt reaches 0.63 of the adapter's claim rate (0.545 vs 0.862); the adapter adds 0.317"
    >>> prompt_verdict(0.8, 0.9, "a system prompt", "claim rate")
    "a system prompt already reaches 0.89 of the adapter's claim rate (0.800 vs 0.900) at zero training cost"
    """
    share = prompt / adapter if adapter else float("nan")
    if share >= 0.8:
        return (f"{prompt_kind} already reaches {share:.2f} of the adapter's {measure} ({prompt:.3f} vs "
                f"{adapter:.3f}) at zero training cost")
    if share >= 0.5:
        return (f"{prompt_kind} reaches {share:.2f} of the adapter's {measure} ({prompt:.3f} vs {adapter:.3f}); "
                f"the adapter adds {adapter - prompt:.3f}")
    return f"the adapter is needed: prompting reaches {prompt:.3f}, the adapter {adapter:.3f}"

