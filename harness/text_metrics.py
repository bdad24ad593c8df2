"""Pure generation-quality metrics: corpus BLEU and chrF (sacrebleu), ROUGE-L F1 (rouge-score).

These are the functions behind the local `evaluate` modules in `harness/metric_modules/` (which users load by
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

from harness.metrics import bootstrap_ci, text_language

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


def _sacrebleu_metric(name: str, references: Sequence[str]):
    if name == "bleu":
        return sacrebleu.BLEU(tokenize=bleu_tokenizer(references))
    if name == "chrf":
        return sacrebleu.CHRF()
    raise ValueError(f"corpus metric must be 'bleu' or 'chrf', got {name!r}")


def corpus_score_ci(name: str, predictions: Sequence[str], references: Sequence[str],
                    baseline: Sequence[str] | None = None, resamples: int = 1000, seed: int = 0
                    ) -> tuple[float, float, float]:
    """(score, 95% low, high) of corpus BLEU or chrF by a percentile bootstrap over items; with `baseline`
    predictions, of the paired difference score(predictions) - score(baseline) on the same resamples.

    Sentence statistics are extracted once (sacrebleu's own bootstrap path), so resampling is cheap.

    >>> score, low, high = corpus_score_ci("chrf", ["极光", "abc"], ["极光", "abd"])
    >>> low <= score <= high and round(score, 2) == round(corpus_chrf(["极光", "abc"], ["极光", "abd"]), 2)
    True
    """
    metric = _sacrebleu_metric(name, references)
    stats = np.asarray(metric._extract_corpus_statistics(list(predictions), [list(references)]), dtype=float)
    if baseline is not None:
        stats_base = np.asarray(metric._extract_corpus_statistics(list(baseline), [list(references)]), dtype=float)

    def score(rows: np.ndarray) -> float:
        value = float(metric._compute_score_from_stats(stats[rows].sum(0)).score)
        if baseline is None:
            return value
        return value - float(metric._compute_score_from_stats(stats_base[rows].sum(0)).score)

    return score(np.arange(len(stats))), *bootstrap_ci(len(stats), score, resamples, seed)


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> list[float]:
    """ROUGE-L F1 (0-1) of each prediction against its reference, CJK split per character.

    >>> rouge_l(["我是极光"], ["我是极光"]), rouge_l(["a b"], ["c d"])
    ([1.0], [0.0])
    """
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=CjkTokenizer())
    return [scorer.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predictions, references, strict=True)]
