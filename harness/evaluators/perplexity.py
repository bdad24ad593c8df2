"""Perplexity capability: did the adapter make ordinary text (and the old task's answers) less likely?

Token-weighted perplexity (sum of token NLL over token count) of base and tuned model on held-out text, per
language, and on the base task's dev answers given their prompts. The gate is on tuned / base ratios, with a
bootstrap interval that resamples texts. With the prompt-only baseline (the base told in a system prompt what
the adapter learned) the dev answers are scored under it too: the `prompted` column, and its ratio to the base
(what the prompt costs the old task's answers, beside what the adapter costs them). Held-out text is scored as
raw text, outside any conversation, so a system prompt has nothing to attach to and that corpus has no prompted
column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from harness.data import Example
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue, Sample
from harness.measures.metrics import perplexity, text_language
from harness.measures.statistics import bootstrap_counts, percentile_interval
from harness.model.sets import ModelSet

CAPABILITY = "perplexity"
METRICS = {
    "heldout_ratio": MetricSpec(0, math.inf, False, "tuned / base perplexity on held-out text"),
    "dev_answers_ratio": MetricSpec(0, math.inf, False, "tuned / base perplexity of the base task's dev answers"),
}


@dataclass(frozen=True)
class Scored:
    """Per-item (NLL sum, token count) of one corpus under base and tuned model (and the prompted base, when
    it was scored)."""

    name: str
    langs: list[str]
    base: list[tuple[float, int]]
    tuned: list[tuple[float, int]]
    prompted: list[tuple[float, int]] | None = None

    def columns(self) -> dict[str, np.ndarray]:
        """(NLL sum, token count) rows by checkpoint: base, tuned and, when scored, prompted."""
        rows = {"base": self.base, "tuned": self.tuned, "prompted": self.prompted}
        return {name: np.asarray(pairs, dtype=float) for name, pairs in rows.items() if pairs is not None}


def score_corpora(texts: list[str], dev: list[Example], models: ModelSet, window: int, stride: int
                  ) -> list[Scored]:
    """NLL of held-out texts (sliding windows) and of dev answers given prompts, under base and tuned (the
    prompted base, when the set has one, scores the dev answers only); a corpus with nothing in it (its file is
    not in the data folder) is left out."""
    base, tuned, prompted = models.base, models.tuned, models.prompted

    def nll(scores: list[tuple[float, int]]) -> list[tuple[float, int]]:
        return [(-logprob, count) for logprob, count in scores]

    corpora = []
    if texts:
        corpora.append(Scored("heldout", [text_language(t) for t in texts],
                              nll(base.text_loglikelihood(texts, window, stride)),
                              nll(tuned.text_loglikelihood(texts, window, stride))))
    if dev:
        corpora.append(Scored("dev_answers", [str(ex.meta.get("lang", "all")) for ex in dev],
                              nll(base.loglikelihood(dev)), nll(tuned.loglikelihood(dev)),
                              nll(prompted.loglikelihood(dev)) if prompted is not None else None))
    return corpora


def _ppl(pairs: np.ndarray) -> float:
    """Token-weighted perplexity of (NLL sum, token count) rows."""
    nll, tokens = pairs.sum(axis=0)
    return perplexity(float(nll), int(tokens))


def _ppls(sums: np.ndarray) -> np.ndarray:
    """Perplexity of each row of (NLL sum, token count) sums."""
    return np.exp(sums[:, 0] / sums[:, 1])


def perplexity_metrics(corpora: list[Scored]) -> list[MetricValue]:
    """Perplexity of each scored model per corpus and language, and its ratio to the base with a bootstrap CI
    (`<corpus>_ratio`: tuned / base, the gated one; prompted / base under the `prompted` checkpoint)."""
    out: list[MetricValue] = []
    for corpus in corpora:
        langs, columns = np.asarray(corpus.langs), corpus.columns()
        counts = bootstrap_counts(len(langs))  # every resample's (NLL, tokens) sums in one product
        for checkpoint, pairs in columns.items():
            tokens = int(pairs[:, 1].sum())
            out.append(MetricValue(CAPABILITY, corpus.name, _ppl(pairs), n=tokens, checkpoint=checkpoint))
            for lang in sorted(set(corpus.langs)):
                rows = pairs[langs == lang]
                out.append(MetricValue(CAPABILITY, f"{corpus.name}[{lang}]", _ppl(rows),
                                       n=int(rows[:, 1].sum()), checkpoint=checkpoint))
            if checkpoint != "base":
                low, high = percentile_interval(_ppls(counts @ pairs) / _ppls(counts @ columns["base"]))
                out.append(MetricValue(CAPABILITY, f"{corpus.name}_ratio", _ppl(pairs) / _ppl(columns["base"]),
                                       low, high, len(langs), checkpoint))  # n: the texts the bootstrap resamples
    return out


class PerplexityData(NamedTuple):
    """The perplexity capability's data: held-out texts and the dev examples whose answers are scored."""

    texts: list[str]
    dev: list[Example]


class Windowing(Protocol):
    """The run settings perplexity reads: its sliding window and stride in tokens."""

    ppl_window: int
    ppl_stride: int


def evaluate(models: ModelSet, data: PerplexityData, settings: Windowing) -> CapabilityResult:
    """The models of the set score the held-out texts and dev answers of `data` with the window and stride of
    `settings`: the models' perplexities, the ratios, and the perplexities behind each ratio as its evidence. An
    empty corpus leaves its ratio unmeasured (no verdict)."""
    texts, dev = data
    corpora = score_corpora(texts, dev, models, settings.ppl_window, settings.ppl_stride)
    metrics = perplexity_metrics(corpora)
    value = {(m.checkpoint, m.name): m.value for m in metrics}
    evidence = {f"{c.name}_ratio": f"perplexity base {value['base', c.name]:.4g} -> tuned {value['tuned', c.name]:.4g}"
                + (f"; the prompted base {value['prompted', c.name]:.4g}" if c.prompted is not None else "")
                for c in corpora}
    unmeasured = {metric: f"no {metric.removesuffix('_ratio')} text: the data folder has none to score"
                  for metric in set(METRICS) - {f"{c.name}_ratio" for c in corpora}}
    samples = [s for c in corpora for s in corpus_samples(c, texts if c.name == "heldout" else dev)]
    return CapabilityResult(metrics, samples, evidence=evidence, details=corpora, unmeasured=unmeasured)


SHOWN_TEXT = 160  # characters of a held-out text quoted in its row


def corpus_samples(corpus: Scored, items: Sequence[str | Example]) -> list[Sample]:
    """One row per scored text: its tokens, base and tuned perplexity and their ratio (`figures`), the ratio being
    its part in the corpus's ratio gate (see `harness.measures.item_gates`)."""
    samples = []
    for i, (item, lang, base, tuned) in enumerate(zip(items, corpus.langs, corpus.base, corpus.tuned, strict=True)):
        before, after = perplexity(*base), perplexity(*tuned)
        if isinstance(item, Example):  # the answer scored; its prompt is in the old task's rows
            item_id, prompt, reference = item.id, "", item.answer
        else:
            item_id, reference = f"{corpus.name}-{i + 1:03d}", ""
            prompt = item if len(item) <= SHOWN_TEXT else item[:SHOWN_TEXT] + "…"
        samples.append(Sample(CAPABILITY, item_id, prompt, reference, "", "",
                              {"type": corpus.name, "language": lang, "gates": {f"{corpus.name}_ratio": after / before},
                               "figures": {"tokens": int(base[1]), "perplexity": [round(before, 3), round(after, 3)],
                                           "ratio": round(after / before, 3)}}))
    return samples
