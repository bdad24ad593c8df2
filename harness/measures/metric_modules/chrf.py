"""Corpus chrF (sacrebleu) as a local `evaluate` metric module.

Example:
    >>> from harness.measures.metric_modules import load_metric
    >>> chrf = load_metric("chrf")  # evaluate.load of this file, by path
    >>> chrf.compute(predictions=["我是极光"], references=["我是极光"])
    {'chrf': 100.0}
"""

import datasets
import evaluate

from harness.measures.text_metrics import corpus_chrf


class Chrf(evaluate.Metric):
    """sacrebleu corpus chrF (0-100), one reference per prediction."""

    def _info(self):
        return evaluate.MetricInfo(
            description="Corpus chrF from sacrebleu (character n-gram F-score; language independent).",
            citation="Popovic, chrF: character n-gram F-score for automatic MT evaluation, WMT 2015.",
            inputs_description="predictions: list of str; references: list of str",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        return {"chrf": corpus_chrf(predictions, references)}
