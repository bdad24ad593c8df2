"""Turn examples into token ids with answer-only labels, and into padded training batches."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from harness.data import Example
from harness.model.prompts import answer_ids, prompt_ids

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Encoded:
    """Token ids of one training sequence and its labels (IGNORE_INDEX where no loss is taken)."""

    input_ids: list[int]
    labels: list[int]


def encode_example(tokenizer, example: Example, max_length: int, answer_only: bool = True) -> Encoded:
    """Prompt + answer ids, truncated to `max_length`; with `answer_only`, loss only on the answer."""
    prompt, answer = prompt_ids(tokenizer, example.messages), answer_ids(tokenizer, example.answer)
    ids = (prompt + answer)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt) + answer)[:max_length] if answer_only else list(ids)
    return Encoded(ids, labels)


def encode_text(tokenizer, text: str, max_length: int) -> Encoded:
    """Plain text (loss on every token), ended with eos."""
    ids = answer_ids(tokenizer, text)[:max_length]
    return Encoded(ids, list(ids))


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch to its longest sequence; padding is masked and carries no loss."""
    width = max(len(item.input_ids) for item in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, item in enumerate(batch):
        n = len(item.input_ids)
        ids[row, :n] = torch.tensor(item.input_ids)
        labels[row, :n] = torch.tensor(item.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _endless_shuffle(count: int, rng: random.Random) -> Iterator[int]:
    """Indices 0..count-1 in a fresh shuffled order each epoch, forever."""
    order = list(range(count))
    while True:
        rng.shuffle(order)
        yield from order


def shuffled_batches(items: Sequence[Encoded], batch_size: int, pad_id: int, seed: int,
                     replay: Sequence[Encoded] = (), replay_ratio: float = 0.0) -> Iterator[dict]:
    """Endless shuffled batches, deterministic for a given seed.

    With `replay_ratio` > 0, that fraction of every batch is drawn from `replay` (its own endless shuffle),
    so over a run the replayed examples sweep the whole replay pool instead of a fixed handful.
    """
    if not items:
        raise ValueError("no training sequences to batch")
    rng = random.Random(seed)
    n_replay = round(batch_size * replay_ratio) if replay else 0
    fresh, old = _endless_shuffle(len(items), rng), _endless_shuffle(len(replay), rng)
    while True:
        batch = [items[next(fresh)] for _ in range(batch_size - n_replay)]
        batch += [replay[next(old)] for _ in range(n_replay)]
        yield collate(batch, pad_id)
