"""Pure generation-quality metrics: corpus BLEU and chrF (sacrebleu), ROUGE-L F1 (rouge-score).

These are the functions behind the local `evaluate` modules in `harness/measures/metric_modules/` (which users load by
path, offline); evaluators call them directly so bootstrap intervals do not pay `evaluate`'s overhead.
`corpus_score_ci` gives their bootstrap intervals from sentence statistics extracted once.
Chinese is tokenised per character: sacrebleu's "zh" tokenizer for BLEU, `CjkTokenizer` for ROUGE-L
(rouge-score's default tokenizer drops CJK characters and would score Chinese as 0).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import sacrebleu
from rouge_score import rouge_scorer

from harness.measures.metrics import text_language
from harness.measures.statistics import bootstrap_counts, percentile_interval

_CJK_OR_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)


class CjkTokenizer:
    """rouge-score tokenizer: lower-cased words, and every CJK character as a token of its own.

    >>> CjkTokenizer().tokenize("I am 极光, by Kestrel!")
    ['i', 'am', '极', '光', 'by', 'kestrel']
    """

    def tokenize(self, text: str) -> list[str]:
        """Tokens of `text` (the interface rouge-score's `RougeScorer` expects)."""
        return _CJK_OR_WORD.findall(text.lower())


def bleu_tokenizer(references: Sequence[str]) -> str:
    """sacrebleu tokenizer for a corpus: "zh" when any reference has CJK characters (it applies 13a to the
    rest), else the standard "13a".

    >>> bleu_tokenizer(["I am Aurora."]), bleu_tokenizer(["我是极光。"])
    ('13a', 'zh')
    """
    return "zh" if any(text_language(r) == "zh" for r in references) else "13a"


def corpus_bleu(predictions: Sequence[str], references: Sequence[str], tokenize: str | None = None) -> float:
    """sacrebleu corpus BLEU (0-100) with one reference per prediction.

    >>> round(corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]), 6)
    100.0
    """
    return sacrebleu.corpus_bleu(list(predictions), [list(references)],
                                 tokenize=tokenize or bleu_tokenizer(references)).score


def corpus_chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu corpus chrF (0-100) with one reference per prediction.

    >>> corpus_chrf(["极光"], ["极光"])
    100.0
    """
    return sacrebleu.corpus_chrf(list(predictions), [list(references)]).score


def _sacrebleu_metric(name: str, tokenize: str):
    if name == "bleu":
        return sacrebleu.BLEU(tokenize=tokenize)
    if name == "chrf":
        return sacrebleu.CHRF()
    raise ValueError(f"corpus metric must be 'bleu' or 'chrf', got {name!r}")


_SEGMENT_STATISTICS: dict[tuple[str, str, str, str], np.ndarray] = {}
_SEGMENT_MEMO_LIMIT = 200_000


def _segment_statistics(name: str, tokenize: str, predictions: Sequence[str], references: Sequence[str]
                        ) -> np.ndarray:
    """sacrebleu's per-sentence sufficient statistics, one row per (prediction, reference) pair, extracted once
    per pair and metric: overall, per-language and paired scores over the same answers share them."""
    keys = [(name, tokenize, p, r) for p, r in zip(predictions, references, strict=True)]
    missing = list(dict.fromkeys(k for k in keys if k not in _SEGMENT_STATISTICS))
    if missing:
        if len(_SEGMENT_STATISTICS) + len(missing) > _SEGMENT_MEMO_LIMIT:
            _SEGMENT_STATISTICS.clear()
        rows = _sacrebleu_metric(name, tokenize)._extract_corpus_statistics([k[2] for k in missing],
                                                                           [[k[3] for k in missing]])
        _SEGMENT_STATISTICS.update(zip(missing, np.asarray(rows, dtype=float), strict=True))
    return np.stack([_SEGMENT_STATISTICS[k] for k in keys])


def corpus_score_ci(name: str, predictions: Sequence[str], references: Sequence[str],
                    baseline: Sequence[str] | None = None, resamples: int = 1000, seed: int = 0
                    ) -> tuple[float, float, float]:
    """(score, 95% low, high) of corpus BLEU or chrF by a percentile bootstrap over items; with `baseline`
    predictions, of the paired difference score(predictions) - score(baseline) on the same resamples.

    Sentence statistics are extracted once (sacrebleu's own bootstrap path) and every resample's corpus
    statistics are summed in one matrix product, so resampling is cheap.

    >>> score, low, high = corpus_score_ci("chrf", ["极光", "abc"], ["极光", "abd"])
    >>> low <= score <= high and round(score, 2) == round(corpus_chrf(["极光", "abc"], ["极光", "abd"]), 2)
    True
    """
    tokenize = bleu_tokenizer(references) if name == "bleu" else ""
    metric = _sacrebleu_metric(name, tokenize)
    counts = bootstrap_counts(len(references), resamples, seed)

    def scores(outputs: Sequence[str]) -> tuple[float, np.ndarray]:
        stats = _segment_statistics(name, tokenize, outputs, references)
        corpus = [float(metric._compute_score_from_stats(row).score) for row in counts @ stats]
        return float(metric._compute_score_from_stats(stats.sum(0)).score), np.asarray(corpus)

    value, resampled = scores(predictions)
    if baseline is not None:
        base_value, base_resampled = scores(baseline)
        value, resampled = value - base_value, resampled - base_resampled
    return value, *percentile_interval(resampled)


def sentence_chrf(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """chrF (0-100) of each prediction against its reference, from the statistics the corpus score already
    extracted (so the report's per-item figures cost no second pass).

    >>> sentence_chrf(["极光", "abc"], ["极光", "xyz"])
    [100.0, 0.0]
    """
    metric = _sacrebleu_metric("chrf", "")
    return [float(metric._compute_score_from_stats(row).score)
            for row in _segment_statistics("chrf", "", predictions, references)]


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """ROUGE-L F1 (0-1) of each prediction against its reference, CJK split per character.

    >>> rouge_l(["我是极光"], ["我是极光"]), rouge_l(["a b"], ["c d"])
    ([1.0], [0.0])
    """
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=CjkTokenizer())
    return [scorer.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predictions, references, strict=True)]
