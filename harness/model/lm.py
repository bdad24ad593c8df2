"""The narrow language-model interface every evaluator talks to: batched `generate` and `loglikelihood`.

One `LanguageModel` wraps a Hugging Face causal LM (plain or peft) and a tokenizer. `adapter_enabled=False`
gives the base model's view of a peft model (through `disable_adapter()`), so base and tuned answers come from
one copy of the weights. Results are memoised per request, so suites that ask the same question share one
computation per session.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import torch

from harness.data import Example
from harness.model.loading import BaseModel, attach_adapter
from harness.progress import progress
from harness.training.batching import answer_ids, prompt_ids

Conversation = tuple[tuple[str, str], ...]


class LanguageModel:
    """Batched greedy generation and answer log-likelihood over one model view (base or tuned)."""

    def __init__(self, model: torch.nn.Module, tokenizer, *, name: str, adapter_enabled: bool = True,
                 batch_size: int = 32, max_new_tokens: int = 48) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.adapter_enabled = adapter_enabled
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self._generated: dict[tuple[Conversation, int], str] = {}

    @property
    def device(self) -> torch.device:
        """Device the model's weights live on."""
        return next(self.model.parameters()).device

    def _view(self):
        """Context in which forward passes see this view's weights (adapter on or off)."""
        if not self.adapter_enabled and hasattr(self.model, "disable_adapter"):
            return self.model.disable_adapter()
        return nullcontext()

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        """Greedy completions of each conversation, computed in left-padded batches, memoised."""
        limit = max_new_tokens or self.max_new_tokens
        todo = list(dict.fromkeys(tuple(c) for c in conversations if (tuple(c), limit) not in self._generated))
        encoded = {c: prompt_ids(self.tokenizer, c) for c in todo}
        todo.sort(key=lambda c: len(encoded[c]))  # similar lengths share a batch: less padding
        batches = [todo[i:i + self.batch_size] for i in range(0, len(todo), self.batch_size)]
        for batch in progress(batches, desc=f"generating ({self.name})"):
            for conv, text in zip(batch, self._generate_batch([encoded[c] for c in batch], limit), strict=True):
                self._generated[(conv, limit)] = text
        return [self._generated[(tuple(c), limit)] for c in conversations]

    @torch.inference_mode()
    def _generate_batch(self, prompts: list[list[int]], limit: int) -> list[str]:
        pad = self.tokenizer.pad_token_id
        width = max(map(len, prompts))
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        with self._view():
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=limit, do_sample=False,
                                      eos_token_id=self.tokenizer.eos_token_id, pad_token_id=pad,
                                      top_p=None, top_k=None, temperature=None)
        return [text.strip() for text in self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)]

    def loglikelihood(self, examples: Sequence[Example]) -> list[tuple[float, int]]:
        """(sum of log-probabilities, token count) of each example's answer (+ eos) given its prompt."""
        pairs = [(prompt_ids(self.tokenizer, ex.messages), answer_ids(self.tokenizer, ex.answer)) for ex in examples]
        results: list[tuple[float, int]] = []
        for start in range(0, len(pairs), self.batch_size):
            results += self._loglikelihood_batch(pairs[start:start + self.batch_size])
        return results

    def _loglikelihood_batch(self, pairs: list[tuple[list[int], list[int]]]) -> list[tuple[float, int]]:
        return self._scored_logprobs([(p + a, len(p)) for p, a in pairs])

    def text_nll(self, texts: Sequence[str], window: int = 256, stride: int = 192) -> list[tuple[float, int]]:
        """(summed negative log-likelihood, scored token count) of each plain text.

        Every token after the first is scored once; texts longer than `window` tokens are covered by
        sliding windows that start every `stride` tokens (see `sliding_windows`). Windows of all texts
        are batched together with attention masks.
        """
        ids = [list(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        spans = [(i, start, end, first) for i, seq in enumerate(ids)
                 for start, end, first in sliding_windows(len(seq), window, stride)]
        items = [(ids[i][start:end], first - start) for i, start, end, first in spans]
        totals = [[0.0, 0] for _ in texts]
        for begin in range(0, len(items), self.batch_size):
            scores = self._scored_logprobs(items[begin:begin + self.batch_size])
            for (i, *_), (logprob, count) in zip(spans[begin:begin + self.batch_size], scores, strict=True):
                totals[i][0] -= logprob
                totals[i][1] += count
        return [(nll, count) for nll, count in totals]

    @torch.inference_mode()
    def _scored_logprobs(self, items: list[tuple[list[int], int]]) -> list[tuple[float, int]]:
        """For each (token ids, first scored position): summed log-probability of the tokens from that
        position on, each predicted from everything before it; one right-padded, masked forward pass."""
        pad = self.tokenizer.pad_token_id
        width = max(len(seq) for seq, _ in items)
        ids = torch.full((len(items), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, (seq, _) in enumerate(items):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        with self._view():
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
        out = []
        for row, (seq, first) in enumerate(items):
            positions = torch.arange(first - 1, len(seq) - 1)
            token_lp = logprobs[row, positions, torch.tensor(seq[first:])]
            out.append((float(token_lp.sum()), len(seq) - first))
        return out


def base_and_tuned(base_model: BaseModel, adapter: str | Path, allow_pickle: bool = False
                   ) -> tuple[LanguageModel, LanguageModel]:
    """(base view, tuned view) over one copy of the base weights with `adapter` attached (after fit checks)."""
    model, tokenizer = base_model.load()
    tuned = attach_adapter(model, adapter, allow_pickle=allow_pickle)
    return (LanguageModel(tuned, tokenizer, name="base", adapter_enabled=False),
            LanguageModel(tuned, tokenizer, name="tuned"))


def sliding_windows(n_tokens: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, first_scored) spans covering a sequence so that every token after the first is scored
    exactly once, each with at least one token of context inside its window.

    A window starts every `stride` tokens; it scores the tokens the previous window did not reach.

    >>> sliding_windows(10, 4, 3)
    [(0, 4, 1), (3, 7, 4), (6, 10, 7)]
    >>> sliding_windows(3, 8, 4)
    [(0, 3, 1)]
    """
    if not 0 < stride < window:
        raise ValueError(f"stride must be in [1, window - 1], got stride={stride}, window={window}")
    spans, scored_to = [], 1
    for start in range(0, max(1, n_tokens - 1), stride):
        end = min(start + window, n_tokens)
        if end > scored_to:
            spans.append((start, end, max(scored_to, start + 1)))
            scored_to = end
        if end == n_tokens:
            break
    return spans
