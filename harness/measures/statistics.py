"""Statistics behind every interval and verdict: one seeded, vectorised bootstrap (item indices drawn once per
resample, or their counts for sums as one matrix product), Wilson intervals for rates, the exact McNemar test
for paired right/wrong items, paired differences, the fastest-half location used for timings, and the minimum
detectable change a gate's interval implies.

Pure numpy and math; every function has a doctest example.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default); (0, 1) when n is 0.

    >>> [round(x, 3) for x in wilson_interval(9, 10)]
    [0.596, 0.982]
    >>> wilson_interval(0, 0), wilson_interval(0, 215)[0], wilson_interval(215, 215)[1]
    ((0.0, 1.0), 0.0, 1.0)
    """
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n], got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: rounding must not exclude p itself
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def rate(flags: Sequence[bool]) -> tuple[float, float, float, int]:
    """(proportion, ci_low, ci_high, n) of True values; the proportion of an empty sequence is NaN.

    >>> rate([True, True, False, True])[0], rate([True, True, False, True])[3]
    (0.75, 4)
    """
    n, k = len(flags), sum(bool(f) for f in flags)
    low, high = wilson_interval(k, n)
    return (k / n if n else math.nan), low, high, n


def paired_bootstrap_ci(before: Sequence[float], after: Sequence[float], resamples: int = 2000, seed: int = 0,
                        level: float = 0.95) -> tuple[float, float, float]:
    """(mean(before) - mean(after), ci_low, ci_high): a percentile bootstrap over paired items.

    >>> drop, low, high = paired_bootstrap_ci([1, 1, 1, 0] * 25, [1, 0, 1, 0] * 25)
    >>> drop, low <= drop <= high
    (0.25, True)
    """
    if len(before) != len(after) or not before:
        raise ValueError("paired_bootstrap_ci needs two non-empty sequences of equal length")
    mean, low, high, _ = mean_ci(np.subtract(before, after, dtype=float), resamples, seed, level)
    return mean, low, high


def bootstrap_draws(n_items: int, resamples: int = 2000, seed: int = 0) -> np.ndarray:
    """A (resamples, n_items) array of item indices drawn with replacement: one bootstrap resample per row."""
    return np.random.default_rng(seed).integers(0, n_items, (resamples, n_items))


def bootstrap_counts(n_items: int, resamples: int = 2000, seed: int = 0) -> np.ndarray:
    """A (resamples, n_items) array: how often each item appears in each resample of `bootstrap_draws` (same
    seed, same resamples), so `bootstrap_counts(...) @ per_item_statistics` sums every resample at once.

    >>> bootstrap_counts(3, resamples=4).sum(axis=1).tolist()
    [3, 3, 3, 3]
    """
    draws = bootstrap_draws(n_items, resamples, seed)
    flat = (np.arange(resamples)[:, None] * n_items + draws).ravel()
    return np.bincount(flat, minlength=resamples * n_items).reshape(resamples, n_items)


def percentile_interval(samples: Iterable[float], level: float = 0.95) -> tuple[float, float]:
    """The (low, high) percentile interval holding `level` of the bootstrap `samples`.

    >>> percentile_interval(range(101))
    (2.0, 97.0)
    """
    ordered = np.sort(np.fromiter(samples, dtype=float))
    tail = (1 - level) / 2
    return float(ordered[int(tail * (len(ordered) - 1))]), float(ordered[int((1 - tail) * (len(ordered) - 1))])


def mean_ci(values: Sequence[float] | np.ndarray, resamples: int = 2000, seed: int = 0,
            level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, 95% bootstrap low, high, n) of per-item scores, all resamples computed at once.

    >>> mean, low, high, n = mean_ci([0.0, 1.0] * 20)
    >>> mean, n, low < 0.5 < high
    (0.5, 40, True)
    """
    array = np.asarray(values, dtype=float)
    if not array.size:
        raise ValueError("mean_ci needs at least one value")
    low, high = percentile_interval(array[bootstrap_draws(array.size, resamples, seed)].mean(axis=1), level)
    return float(array.mean()), low, high, int(array.size)


Z_95, Z_POWER_80 = 1.959964, 0.841621


def minimum_detectable_change(ci_low: float | None, ci_high: float | None) -> float | None:
    """The smallest true change a gate on this measurement detects with 80% power at the 5% level:
    (z_0.975 + z_0.8) standard errors, the standard error read off the 95% CI (width / 2 x 1.96).
    None without a CI.

    >>> round(minimum_detectable_change(0.742, 0.977), 3)   # 22/24 (Wilson): cannot tell 0.9 from 0.73
    0.168
    >>> minimum_detectable_change(None, None) is None
    True
    """
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return None
    return (Z_95 + Z_POWER_80) * (ci_high - ci_low) / (2 * Z_95)


def mcnemar_exact_p(only_before: int, only_after: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (items right only before / only after).

    >>> mcnemar_exact_p(0, 0), round(mcnemar_exact_p(10, 1), 4)
    (1.0, 0.0117)
    """
    n, k = only_before + only_after, min(only_before, only_after)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def fast_half_mean(values: Sequence[float] | np.ndarray) -> float:
    """Mean of the fastest (smallest) half of the values: load bursts only add time, so this ignores them.

    >>> fast_half_mean([1.0, 1.2, 9.0, 1.1])
    1.05
    """
    ordered = sorted(values)
    keep = ordered[: max(1, math.ceil(len(ordered) / 2))]
    return float(sum(keep) / len(keep))


def fast_half_means(rows: np.ndarray) -> np.ndarray:
    """fast_half_mean of every row of a 2-D array at once."""
    keep = max(1, math.ceil(rows.shape[1] / 2))
    return np.sort(rows, axis=1)[:, :keep].mean(axis=1)


def resampled_fast_half_means(values: np.ndarray, resamples: int = 500) -> np.ndarray:
    """fast_half_mean of each bootstrap resample of rounds (the same seeded draws for every view, so ratios of
    two views stay paired by round)."""
    return fast_half_means(values[bootstrap_draws(len(values), resamples)])


def fast_half_mean_ci(values: Sequence[float]) -> tuple[float, float, float, int]:
    """(fast_half_mean, bootstrap 95% low, high, n) of per-round values.

    >>> value, low, high, n = fast_half_mean_ci([1.0, 1.1, 1.2, 5.0] * 5)
    >>> round(value, 6), n, low <= value <= high
    (1.05, 20, True)
    """
    low, high = percentile_interval(resampled_fast_half_means(np.asarray(values, dtype=float)))
    return fast_half_mean(values), low, high, len(values)


def ratio_ci(numerator: Sequence[float], denominator: Sequence[float]) -> tuple[float, float, float, int]:
    """fast_half_mean(numerator) / fast_half_mean(denominator) with a bootstrap 95% CI over paired rounds."""
    top, bottom = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    low, high = percentile_interval(resampled_fast_half_means(top) / resampled_fast_half_means(bottom))
    return fast_half_mean(top) / fast_half_mean(bottom), low, high, len(top)
