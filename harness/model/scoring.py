"""The arithmetic of scoring text with a causal LM, apart from any model: which windows cover a long text, and
the log-probability of each target token computed without a float32 copy of the whole vocabulary
distribution."""

from __future__ import annotations

import torch


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) at every position (batch, tokens), float32, computed one row at a time: the target's logit
    minus the log-sum-exp over the vocabulary, so no float32 copy of the whole (batch, tokens, vocabulary)
    distribution is made (about 10 GB at a 152k vocabulary, batch 64 x 255 tokens).

    >>> logits = torch.randn(2, 3, 5)
    >>> targets = torch.randint(0, 5, (2, 3))
    >>> expected = torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    >>> bool(torch.allclose(token_logprobs(logits, targets), expected, atol=1e-6))
    True
    """
    out = torch.empty(targets.shape, dtype=torch.float32, device=logits.device)
    for row in range(logits.shape[0]):
        row_logits = logits[row].float()
        out[row] = row_logits.gather(-1, targets[row].unsqueeze(-1)).squeeze(-1) - torch.logsumexp(row_logits, -1)
    return out


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
