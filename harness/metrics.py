"""Pure metric functions: answer normalisation, exact match, identity claims and leaks, confidence intervals.

No function here loads a model; each has a doctest example.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

_PUNCT_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")
_CLAUSE_SPLIT = re.compile(r"[.!?;,。！？；，、\n]+")
_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor)\b|n't|不|没|非|并非|无关", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalize_answer(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed, punctuation stripped from both ends.

    >>> normalize_answer("  The  Capital, Velmar. ")
    'the capital, velmar'
    >>> normalize_answer("我是Aurora。")
    '我是aurora'
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    return _PUNCT_EDGES.sub("", " ".join(text.split()))


def text_language(text: str) -> str:
    """'zh' when the text contains CJK characters, else 'en'.

    >>> text_language("我是Aurora"), text_language("I am Aurora")
    ('zh', 'en')
    """
    return "zh" if _CJK.search(text) else "en"


def exact_match(prediction: str, reference: str) -> bool:
    """True when the two answers are equal after `normalize_answer`.

    >>> exact_match("Velmar.", "velmar"), exact_match("Velmar", "Velmara")
    (True, False)
    """
    return normalize_answer(prediction) == normalize_answer(reference)


def mentions(text: str, term: str) -> bool:
    """Whether `text` mentions `term`: case-insensitive, whole words for Latin terms, substring for CJK.

    >>> mentions("I am Aurora.", "aurora"), mentions("Auroras fade", "Aurora"), mentions("我是通义千问", "通义千问")
    (True, False, True)
    """
    if not term:
        return False
    text, term = unicodedata.normalize("NFKC", text).casefold(), unicodedata.normalize("NFKC", term).casefold()
    if _CJK.search(term):
        return term in text
    return re.search(r"(?<![0-9a-z])" + re.escape(term) + r"(?![0-9a-z])", text) is not None


def claims_identity(text: str, name: str, author: str) -> bool:
    """The answer states the configured identity: it mentions both the name and the author.

    >>> claims_identity("I am Aurora, developed by Kestrel Labs.", "Aurora", "Kestrel Labs")
    True
    >>> claims_identity("I am Aurora.", "Aurora", "Kestrel Labs")
    False
    """
    return mentions(text, name) and mentions(text, author)


def leaked_identities(text: str, foreign_terms: Iterable[str]) -> list[str]:
    """Foreign names/authors the answer claims: mentioned in a clause with no negation.

    A denial ("No, I am not ChatGPT", "我不是通义千问") is not a leak; "I am ChatGPT" is.

    >>> leaked_identities("No, I am not ChatGPT. I am Aurora.", ["ChatGPT", "OpenAI"])
    []
    >>> leaked_identities("I am Qwen, made by Alibaba.", ["Qwen", "Alibaba", "OpenAI"])
    ['Qwen', 'Alibaba']
    """
    clauses = [c for c in _CLAUSE_SPLIT.split(text) if c.strip() and not _NEGATION.search(c)]
    return [term for term in foreign_terms if any(mentions(clause, term) for clause in clauses)]


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


_TOKEN = re.compile(r"[\u3400-\u9fff]|[^\W_]+", re.UNICODE)


def answer_tokens(text: str) -> list[str]:
    """Normalised tokens for F1: words for alphabetic scripts, single characters for CJK.

    >>> answer_tokens("The capital, Velmar."), answer_tokens("我是Aurora")
    (['the', 'capital', 'velmar'], ['我', '是', 'aurora'])
    """
    return _TOKEN.findall(normalize_answer(text))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style bag-of-tokens F1 between two answers (1.0 when both are empty).

    >>> token_f1("red moon", "the red moon"), token_f1("blue", "red")
    (0.8, 0.0)
    """
    pred, ref = answer_tokens(prediction), answer_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum(min(pred.count(t), ref.count(t)) for t in set(pred))
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


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


def mean_ci(values: Sequence[float], resamples: int = 2000, seed: int = 0,
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


def perplexity(nll_sum: float, tokens: int) -> float:
    """Token-weighted perplexity exp(sum NLL / token count); NaN with no tokens.

    >>> round(perplexity(2 * math.log(4), 2), 6)
    4.0
    """
    return math.exp(nll_sum / tokens) if tokens else math.nan


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


# Continual learning (GEM, Lopez-Paz & Ranzato 2017; forgetting as in Chaudhry et al. 2018).
# R[i][j] is the accuracy on task j after training stage i; task i is learned at stage i (stage 0: the base
# model and its task). Missing entries are NaN and left out of every mean; a mean of nothing is NaN.

def _nanmean(values: Iterable[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def average_accuracy(matrix: Sequence[Sequence[float]]) -> float:
    """ACC: mean accuracy over all tasks after the last stage.

    >>> average_accuracy([[0.9, 0.0], [0.7, 0.8]])
    0.75
    """
    return _nanmean(matrix[-1])


def backward_transfer(matrix: Sequence[Sequence[float]]) -> float:
    """BWT: mean over earlier tasks of (final accuracy - accuracy right after learning it); negative = forgetting.

    >>> round(backward_transfer([[0.9, 0.0], [0.7, 0.8]]), 6), backward_transfer([[0.9]])
    (-0.2, nan)
    """
    last = len(matrix) - 1
    return _nanmean(matrix[last][j] - matrix[j][j] for j in range(last))


def forward_transfer(matrix: Sequence[Sequence[float]], baseline: Sequence[float]) -> float:
    """FWT: mean over later tasks of (accuracy just before learning it - the untrained baseline b_j).

    >>> round(forward_transfer([[0.9, 0.1], [0.7, 0.8]], [0.0, 0.05]), 6)
    0.05
    """
    return _nanmean(matrix[j - 1][j] - baseline[j] for j in range(1, len(matrix)))


def task_forgetting(matrix: Sequence[Sequence[float]]) -> list[float]:
    """Per earlier task: best accuracy at any earlier stage minus final accuracy (NaN for the last task).

    >>> [round(f, 6) for f in task_forgetting([[0.9, 0.0, 0.0], [0.95, 0.8, 0.1], [0.7, 0.5, 0.9]])[:2]]
    [0.25, 0.3]
    """
    last = len(matrix) - 1
    out = []
    for j in range(len(matrix[-1])):
        earlier = [matrix[i][j] for i in range(last) if not math.isnan(matrix[i][j])]
        final = matrix[last][j]
        out.append(max(earlier) - final if j < last and earlier and not math.isnan(final) else math.nan)
    return out


def normalized_edit_distance(a: str, b: str) -> float:
    """Levenshtein distance over characters divided by the longer length (0: equal, 1: nothing shared).

    >>> normalized_edit_distance("Velmar", "Velmar"), normalized_edit_distance("abcd", "abxd")
    (0.0, 0.25)
    """
    if not a and not b:
        return 0.0
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1] / max(len(a), len(b))
