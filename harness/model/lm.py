"""The Hugging Face + peft implementation of the model protocol (`harness.model.protocol.LanguageModel`).

One `HFLanguageModel` wraps a Hugging Face causal LM (plain or peft) and a tokenizer and only computes: the
session's views wrap it in `harness.model.caching.CachingModel` for their shared answer cache.
`adapter_enabled=False` gives the base model's view of a peft model (through `disable_adapter()`), so base and
tuned answers come from one copy of the weights. It also implements `AdapterIntrospection` (LoRA layers and
activations, a `merged()` copy) for the adapter-health checks.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from harness.data import ContextOverflowError, Example
from harness.foundation.progress import progress
from harness.model import processes
from harness.model.lora_layers import LoraLayer, capture_lora_activations, lora_layers
from harness.model.prompts import answer_ids, prompt_ids, stop_token_ids
from harness.model.protocol import Conversation
from harness.model.scoring import sliding_windows, token_logprobs

DEFAULT_BATCH_SIZE = 64  # sequences per padded batch, for generation and scoring alike


class SharedWeights:
    """A model and its tokenizer, loaded on first use and shared by the views that compute with them: a run
    whose answers are all cached (a warm run) never loads them. Answers are cached under the weights' digests,
    so a cached answer means these weights loaded (and passed the adapter fit checks) when it was computed."""

    def __init__(self, load: Callable[[], tuple[torch.nn.Module, Any]], device: str) -> None:
        self._load = load
        self._loaded: tuple[torch.nn.Module, Any] | None = None
        self.device = torch.device(device)

    @classmethod
    def ready(cls, model: torch.nn.Module, tokenizer) -> SharedWeights:
        """Weights that are already in memory."""
        weights = cls(lambda: (model, tokenizer), str(next(model.parameters()).device))
        weights.get()
        return weights

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory yet."""
        return self._loaded is not None

    def get(self) -> tuple[torch.nn.Module, Any]:
        """(model, tokenizer), loading them the first time."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded


class HFLanguageModel:
    """Batched greedy generation, answer and text log-likelihood over one model view (base or tuned).

    `model` is a loaded module (with its `tokenizer`) or `SharedWeights`, loaded on the first computation (a
    `CachingModel` around this view computes only what its cache lacks).
    """

    def __init__(self, model: torch.nn.Module | SharedWeights, tokenizer=None, *, name: str,
                 adapter_enabled: bool = True, batch_size: int = DEFAULT_BATCH_SIZE, max_new_tokens: int = 48,
                 adapter_name: str = "default") -> None:
        self._weights = model if isinstance(model, SharedWeights) else SharedWeights.ready(model, tokenizer)
        self.name = name
        self.adapter_enabled = adapter_enabled
        self.adapter_name = adapter_name  # which of the peft model's adapters this view computes with
        self.batch_size = batch_size  # how requests are batched (the same in every process)
        self.fitting_batch_size = batch_size  # what fits the device: halved on out-of-memory
        self._stop_ids: list[int] | None = None
        self.max_new_tokens = max_new_tokens

    @property
    def model(self) -> torch.nn.Module:
        """The (peft-wrapped or plain) causal LM this view computes with; loads shared weights on first use."""
        return self._weights.get()[0]

    @property
    def tokenizer(self):
        """The tokenizer (with a pad token) of this view's model."""
        return self._weights.get()[1]

    @property
    def device(self) -> torch.device:
        """Device the model's weights live on (the device they will load on, before they are loaded)."""
        return next(self.model.parameters()).device if self._weights.loaded else self._weights.device

    def _view(self):
        """Context in which forward passes see this view's weights (adapter on or off)."""
        if not self.adapter_enabled and hasattr(self.model, "disable_adapter"):
            return self.model.disable_adapter()
        if getattr(self.model, "active_adapter", self.adapter_name) != self.adapter_name:
            self.model.set_adapter(self.adapter_name)
        return nullcontext()

    def generate(self, conversations: Sequence[Conversation], max_new_tokens: int | None = None) -> list[str]:
        """Greedy completions of each conversation, computed in left-padded batches."""
        limit = max_new_tokens or self.max_new_tokens
        conversations = [tuple(c) for c in conversations]
        encoded = [prompt_ids(self.tokenizer, c) for c in conversations]
        self._check_context([(len(ids) + limit, c) for ids, c in zip(encoded, conversations, strict=True)],
                            f" (with {limit} new tokens)", limit)
        return self._in_batches(encoded, lambda batch: self._decode(self._generate_batch(batch, limit)),
                                f"generating ({self.name})", length=len)

    def prompt_tokens(self, conversations: Sequence[Conversation]) -> list[int]:
        """How many tokens each conversation's prompt is (chat template included)."""
        return [len(prompt_ids(self.tokenizer, c)) for c in conversations]

    def _in_batches(self, items: list, run: Callable[[list], list], desc: str = "",
                    length: Callable[[Any], int] | None = None) -> list:
        """`run` over padded batches of `batch_size` items; the outputs, one per item, in the order of `items`.
        With `length`, items are batched shortest first (similar lengths: less padding). Under `accelerate
        launch` the batches are shared among the processes and gathered (`harness.model.processes`): the same
        batches, so the same numbers, as one process."""
        order = sorted(range(len(items)), key=lambda i: length(items[i])) if length else list(range(len(items)))
        batches = [[items[i] for i in order[start:start + self.batch_size]]
                   for start in range(0, len(order), self.batch_size)]
        sharing = processes.current()
        with progress(total=sum(len(batches[k]) for k in sharing.mine(len(batches))), desc=desc) as bar:
            outputs = sharing.share(batches, lambda batch: self._fitting(batch, run, bar))
        by_item = dict(zip(order, outputs, strict=True))
        return [by_item[i] for i in range(len(items))]

    def _fitting(self, batch: list, run: Callable[[list], list], bar) -> list:
        """`run` over `batch` in pieces of at most `fitting_batch_size`: a piece that runs out of accelerator
        memory halves that size (kept for the rest of the run: `--batch-size` is where a large model starts, not
        a size it must fit) and is retried."""
        out: list = []
        while len(out) < len(batch):
            piece = batch[len(out):len(out) + self.fitting_batch_size]
            try:
                out += run(piece)
            except torch.OutOfMemoryError:
                if len(piece) == 1:
                    raise
                self.fitting_batch_size = max(1, min(self.fitting_batch_size // 2, len(piece) - 1))
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
            bar.update(len(piece))
        return out

    @property
    def stop_ids(self) -> list[int]:
        """The tokens generation stops at (`stop_token_ids`: eos and the chat template's end-of-turn token)."""
        if self._stop_ids is None:
            self._stop_ids = stop_token_ids(self.tokenizer, getattr(self.model, "generation_config", None))
        return self._stop_ids

    def _check_context(self, lengths: list[tuple[int, Conversation]], extra: str = "", new_tokens: int = 0) -> None:
        """Before any inference: a ContextOverflowError (a DataError) for the first input longer than the model's
        positions (attending over it would fail, or silently read positions the model never learned)."""
        limit = getattr(self.model.config, "max_position_embeddings", None)
        for length, conversation in lengths:
            if isinstance(limit, int) and length > limit:
                text = conversation[-1][1] if conversation else ""
                prompt = length - new_tokens
                remedy = (f"lower --max-new-tokens ({new_tokens}) to {limit - prompt} or less, or shorten that record"
                          if new_tokens and prompt <= limit - 1 else "shorten or drop that record")
                raise ContextOverflowError(f"an input of {length} tokens{extra} is longer than the model's context "
                                           f"of {limit} positions (its last turn begins {text[:60]!r})", remedy)

    def _decode(self, new_ids: torch.Tensor) -> list[str]:
        return [text.strip() for text in self.tokenizer.batch_decode(new_ids, skip_special_tokens=True)]

    @torch.inference_mode()
    def _generate_batch(self, prompts: list[list[int]], limit: int, min_new_tokens: int = 0) -> torch.Tensor:
        """Greedy new token ids (batch, <= limit) of left-padded `prompts`."""
        pad = self.tokenizer.pad_token_id
        width = max(map(len, prompts))
        ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        with self._view():
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=limit, do_sample=False,
                                      min_new_tokens=min_new_tokens or None,
                                      eos_token_id=self.stop_ids, pad_token_id=pad,
                                      top_p=None, top_k=None, temperature=None)
        return out[:, width:]

    def timed_generate(self, conversations: Sequence[Conversation], new_tokens: int, repeats: int = 1,
                       cpu_time: bool = False) -> float:
        """Seconds one batched greedy generation of exactly `new_tokens` tokens per conversation takes, averaged
        over `repeats` back-to-back runs (never cached: this is the latency measurement). With `cpu_time` the
        clock is this process's CPU time (for single-threaded CPU timing: other processes competing for the
        cores do not inflate it), else wall time, synchronised with the GPU."""
        prompts = [prompt_ids(self.tokenizer, c) for c in conversations]
        clock = time.process_time if cpu_time else time.perf_counter
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        started = clock()
        for _ in range(repeats):
            self._generate_batch(prompts, new_tokens, min_new_tokens=new_tokens)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return (clock() - started) / repeats

    def loglikelihood(self, examples: Sequence[Example]) -> list[tuple[float, int]]:
        """(sum of log-probabilities, token count) of each example's answer (+ eos) given its prompt."""
        requests = [(tuple(ex.messages), ex.answer) for ex in examples]
        items = [self._answer_item(messages, answer) for messages, answer in requests]
        self._check_context([(len(ids), messages) for (ids, _), (messages, _) in zip(items, requests, strict=True)])
        return self._in_batches(items, self._scored_logprobs, length=_sequence_length)

    def _answer_item(self, messages: Conversation, answer: str) -> tuple[list[int], int]:
        prompt = prompt_ids(self.tokenizer, messages)
        return prompt + answer_ids(self.tokenizer, answer), len(prompt)

    def text_loglikelihood(self, texts: Sequence[str], window: int = 256, stride: int = 192
                           ) -> list[tuple[float, int]]:
        """(sum of log-probabilities, scored token count) of each plain text.

        Every token after the first is scored once; texts longer than `window` tokens are covered by
        sliding windows that start every `stride` tokens (see `sliding_windows`). Windows of all texts
        are batched together with attention masks.
        """
        ids = [list(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        spans = [(i, start, end, first) for i, seq in enumerate(ids)
                 for start, end, first in sliding_windows(len(seq), window, stride)]
        items = [(ids[i][start:end], first - start) for i, start, end, first in spans]
        sums, counts = [0.0] * len(texts), [0] * len(texts)
        scored = self._in_batches(items, self._scored_logprobs, length=_sequence_length)
        for (i, *_), (logprob, count) in zip(spans, scored, strict=True):
            sums[i] += logprob
            counts[i] += count
        return list(zip(sums, counts, strict=True))

    @torch.inference_mode()
    def _forward(self, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, attention mask), both on the model's device, of one right-padded, masked forward pass."""
        width = max(map(len, sequences))
        ids = torch.full((len(sequences), width), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        with self._view():
            logits = self.model(input_ids=ids, attention_mask=mask).logits
        return logits, mask

    def _scored_logprobs(self, items: list[tuple[list[int], int]]) -> list[tuple[float, int]]:
        """For each (token ids, first scored position): summed log-probability of the tokens from that
        position on, each predicted from everything before it; one right-padded, masked forward pass."""
        logits, mask = self._forward([seq for seq, _ in items])
        width = logits.shape[1]
        targets = torch.tensor([seq[1:] + [0] * (width - len(seq)) for seq, _ in items], device=logits.device)
        token_lp = token_logprobs(logits[:, :-1], targets)
        position = torch.arange(width - 1, device=logits.device)
        firsts = torch.tensor([first - 1 for _, first in items], device=logits.device)
        scored = (position[None, :] >= firsts[:, None]) & mask[:, 1:].bool()
        sums = (token_lp * scored).sum(dim=1).tolist()
        return [(total, len(seq) - first) for total, (seq, first) in zip(sums, items, strict=True)]

    def answer_logits(self, examples: Sequence[Example]) -> list[torch.Tensor]:
        """The logits (answer tokens x vocab, float32, CPU) predicting each example's answer (+ eos)."""
        items = [self._answer_item(tuple(ex.messages), ex.answer) for ex in examples]
        out = []
        for start in range(0, len(items), self.batch_size):
            batch = items[start:start + self.batch_size]
            logits, _ = self._forward([seq for seq, _ in batch])
            out += [logits[row, first - 1:len(seq) - 1].float().cpu() for row, (seq, first) in enumerate(batch)]
        return out

    def lora_activations(self, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
        """Every LoRA layer's low-rank activations (real tokens x r; padding dropped) on prompt + answer."""
        sequences = [seq for seq, _ in (self._answer_item(tuple(ex.messages), ex.answer) for ex in examples)]
        per_layer: dict[str, list[torch.Tensor]] = {}
        for start in range(0, len(sequences), self.batch_size):
            with capture_lora_activations(self.model, self.adapter_name) as captured:
                _, mask = self._forward(sequences[start:start + self.batch_size])
            for layer, outputs in captured.items():
                per_layer.setdefault(layer, []).extend(out[mask.bool().cpu()] for out in outputs)
        return {layer: torch.cat(parts) for layer, parts in per_layer.items()}

    def lora_layers(self) -> list[LoraLayer]:
        """The adapter's LoRA layers (weights, scaling, base weight); empty for a plain model."""
        return lora_layers(self.model, self.adapter_name)

    def merged(self) -> HFLanguageModel:
        """A separate merged copy of this tuned view (`merge_and_unload()` on a deep copy of the peft model)."""
        merged = copy.deepcopy(self.model).merge_and_unload().eval()
        return HFLanguageModel(merged, self.tokenizer, name=f"{self.name}+merged", batch_size=self.batch_size,
                               max_new_tokens=self.max_new_tokens)


def _sequence_length(item: tuple[list[int], int]) -> int:
    """The token count of a (token ids, first scored position) scoring item."""
    return len(item[0])


def answer_fingerprint(device: str, dtype: str, batch_size: int) -> dict:
    """What besides the weights decides a cached answer: library versions, device, dtype, CPU threads, batch size
    and the harness code that encodes, batches and decodes (this module and the prompt encoding)."""
    import peft
    import transformers

    from harness.foundation.cache import file_digest

    here = Path(__file__).parent
    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "device": device, "dtype": dtype, "threads": torch.get_num_threads(), "batch_size": batch_size,
            "code": [file_digest(here / "lm.py"), file_digest(here / "prompts.py")]}
