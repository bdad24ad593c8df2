"""Pure numerics of LoRA adapter health: activation entropy and rate, effective rank, relative update size.

Tensor in, float out; no function here loads a model. Each has a doctest example.
"""

from __future__ import annotations

import math

import torch

ACTIVE_EPSILON = 1e-6


def activation_entropy(activations: torch.Tensor) -> float:
    """Mean entropy of softmax(a) over the r low-rank activations of each token, normalised by ln(r) into [0, 1].

    `activations` is (tokens, r), padding already removed. Computed from log-softmax (stable for large
    activations); 1 means every rank direction is used evenly, 0 means one direction dominates every token.
    NaN when there are no tokens or the activations are not finite; 0 for r = 1.

    >>> round(activation_entropy(torch.zeros(5, 8)), 6)
    1.0
    >>> activation_entropy(torch.tensor([[1e4, 0.0, 0.0, 0.0]])) < 1e-6
    True
    """
    tokens, rank = activations.shape
    if tokens == 0 or not bool(torch.isfinite(activations).all()):
        return math.nan
    if rank == 1:
        return 0.0
    entropy = torch.distributions.Categorical(logits=activations.double()).entropy()
    return float(entropy.mean().clamp(min=0.0) / math.log(rank))


def activation_rate(activations: torch.Tensor, epsilon: float = ACTIVE_EPSILON) -> float:
    """Fraction of low-rank activations with |a| > epsilon (NaN counts as inactive); NaN with no tokens.

    >>> activation_rate(torch.tensor([[0.0, 0.5], [1e-9, -2.0]]))
    0.5
    """
    if activations.numel() == 0:
        return math.nan
    return float((activations.abs() > epsilon).double().mean())


def effective_rank(matrix: torch.Tensor) -> float:
    """Roy & Vetterli's effective rank exp(H(s / sum s)) of a matrix's singular values s; 0 for a zero matrix,
    NaN for a non-finite one. Between 1 and the rank for any non-zero matrix.

    >>> round(effective_rank(torch.eye(4)), 6), round(effective_rank(torch.ones(3, 5)), 6)
    (4.0, 1.0)
    """
    if not bool(torch.isfinite(matrix).all()):
        return math.nan
    singular = torch.linalg.svdvals(matrix.double())
    total = singular.sum()
    if total <= 0:
        return 0.0
    p = singular[singular > 0] / total
    return float(torch.exp(-(p * p.log()).sum()))


def update_ratio(delta: torch.Tensor, weight: torch.Tensor) -> float:
    """Relative size of a weight update, ||delta||_F / ||W||_F (NaN when either is not finite).

    >>> update_ratio(torch.full((2, 2), 0.5), torch.ones(2, 2))
    0.5
    """
    norm = float(torch.linalg.matrix_norm(delta.double()))
    return norm / float(torch.linalg.matrix_norm(weight.double())) if math.isfinite(norm) else math.nan
