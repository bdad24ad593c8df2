"""Perplexity capability: did the adapter make ordinary text (and the old task's answers) less likely?

Token-weighted perplexity (sum of token NLL over token count) of base and tuned model on held-out text, per
language, and on the base task's dev answers given their prompts. The gate is on tuned / base ratios, with a
bootstrap interval that resamples texts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.data import Example
from harness.metrics import perplexity, text_language
from harness.model.protocol import LanguageModel
from harness.records import CapabilityResult, MetricSpec, MetricValue
from harness.statistics import bootstrap_counts, percentile_interval

CAPABILITY = "perplexity"
METRICS = {
    "heldout_ratio": MetricSpec(0, math.inf, False, "tuned / base perplexity on held-out text"),
    "dev_answers_ratio": MetricSpec(0, math.inf, False, "tuned / base perplexity of the base task's dev answers"),
}


@dataclass(frozen=True)
class Scored:
    """Per-item (NLL sum, token count) of one corpus under base and tuned model."""

    name: str
    langs: list[str]
    base: list[tuple[float, int]]
    tuned: list[tuple[float, int]]


def score_corpora(texts: list[str], dev: list[Example], base: LanguageModel, tuned: LanguageModel,
                  window: int, stride: int) -> list[Scored]:
    """NLL of held-out texts (sliding windows) and of dev answers given prompts, under both models; a corpus
    with nothing in it (its file is not in the data folder) is left out."""
    def nll(scores: list[tuple[float, int]]) -> list[tuple[float, int]]:
        return [(-logprob, count) for logprob, count in scores]

    corpora = []
    if texts:
        corpora.append(Scored("heldout", [text_language(t) for t in texts],
                              nll(base.text_loglikelihood(texts, window, stride)),
                              nll(tuned.text_loglikelihood(texts, window, stride))))
    if dev:
        corpora.append(Scored("dev_answers", [str(ex.meta.get("lang", "all")) for ex in dev],
                              nll(base.loglikelihood(dev)), nll(tuned.loglikelihood(dev))))
    return corpora


def _ppl(pairs: np.ndarray) -> float:
    """Token-weighted perplexity of (NLL sum, token count) rows."""
    nll, tokens = pairs.sum(axis=0)
    return perplexity(float(nll), int(tokens))


def _ppls(sums: np.ndarray) -> np.ndarray:
    """Perplexity of each row of (NLL sum, token count) sums."""
    return np.exp(sums[:, 0] / sums[:, 1])


def perplexity_metrics(corpora: list[Scored]) -> list[MetricValue]:
    """Perplexity of base and tuned per corpus and language, and tuned / base ratios with bootstrap CIs."""
    out: list[MetricValue] = []
    for corpus in corpora:
        langs = np.asarray(corpus.langs)
        base, tuned = np.asarray(corpus.base, dtype=float), np.asarray(corpus.tuned, dtype=float)
        tokens = int(tuned[:, 1].sum())
        for checkpoint, pairs in (("base", base), ("tuned", tuned)):
            out.append(MetricValue(CAPABILITY, corpus.name, _ppl(pairs), n=tokens, checkpoint=checkpoint))
            for lang in sorted(set(corpus.langs)):
                rows = pairs[langs == lang]
                out.append(MetricValue(CAPABILITY, f"{corpus.name}[{lang}]", _ppl(rows),
                                       n=int(rows[:, 1].sum()), checkpoint=checkpoint))

        counts = bootstrap_counts(len(langs))  # every resample's (NLL, tokens) sums in one product
        low, high = percentile_interval(_ppls(counts @ tuned) / _ppls(counts @ base))
        out.append(MetricValue(CAPABILITY, f"{corpus.name}_ratio", _ppl(tuned) / _ppl(base), low, high, tokens))
    return out


def evaluate(models: Sequence[LanguageModel], data: tuple[list[str], list[Example]], settings: Any) -> CapabilityResult:
    """`models` = (base, tuned) score `data` = (held-out texts, dev examples) with the window and stride of
    `settings` (`ppl_window`, `ppl_stride`): both models' perplexities, the ratios, and the two perplexities
    behind each ratio as its evidence. An empty corpus leaves its ratio unmeasured (no verdict)."""
    texts, dev = data
    corpora = score_corpora(texts, dev, *models, settings.ppl_window, settings.ppl_stride)
    metrics = perplexity_metrics(corpora)
    value = {(m.checkpoint, m.name): m.value for m in metrics}
    evidence = {f"{c.name}_ratio": f"perplexity base {value['base', c.name]:.4g} -> tuned {value['tuned', c.name]:.4g}"
                for c in corpora}
    unmeasured = set(METRICS) - {f"{c.name}_ratio" for c in corpora}
    return CapabilityResult(metrics, evidence=evidence, details=corpora, unmeasured=frozenset(unmeasured))
