"""Corpus BLEU (sacrebleu) as a local `evaluate` metric module.

Example:
    >>> from harness.measures.metric_modules import load_metric
    >>> bleu = load_metric("bleu")  # evaluate.load of this file, by path
    >>> scores = bleu.compute(predictions=["the cat sat on the mat"], references=["the cat sat on the mat"])
    >>> round(scores["bleu"], 6), scores["tokenize"]
    (100.0, '13a')
"""

import datasets
import evaluate

from harness.measures.text_metrics import bleu_tokenizer, corpus_bleu


class Bleu(evaluate.Metric):
    """sacrebleu corpus BLEU (0-100), one reference per prediction; "zh" tokenisation when references have CJK."""

    def _info(self):
        return evaluate.MetricInfo(
            description="Corpus BLEU from sacrebleu; tokenize defaults to 'zh' for CJK references, else '13a'.",
            citation="Post, A Call for Clarity in Reporting BLEU Scores, WMT 2018.",
            inputs_description="predictions: list of str; references: list of str; tokenize: optional str",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references, tokenize=None):
        tokenize = tokenize or bleu_tokenizer(references)
        return {"bleu": corpus_bleu(predictions, references, tokenize), "tokenize": tokenize}
