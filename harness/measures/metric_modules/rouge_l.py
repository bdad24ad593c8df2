"""ROUGE-L F1 (rouge-score, CJK split per character) as a local `evaluate` metric module.

Example:
    >>> from harness.measures.metric_modules import load_metric
    >>> rouge = load_metric("rouge_l")  # evaluate.load of this file, by path
    >>> rouge.compute(predictions=["我是极光"], references=["我是极光"])
    {'rouge_l': 1.0}
"""

import datasets
import evaluate

from harness.measures.text_metrics import rouge_l


class RougeL(evaluate.Metric):
    """Mean ROUGE-L F1 (0-1) over prediction/reference pairs; Chinese tokenised per character."""

    def _info(self):
        return evaluate.MetricInfo(
            description="Mean ROUGE-L F1 from rouge-score with a tokenizer that splits CJK characters.",
            citation="Lin, ROUGE: A Package for Automatic Evaluation of Summaries, 2004.",
            inputs_description="predictions: list of str; references: list of str",
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}))

    def _compute(self, predictions, references):
        scores = rouge_l(predictions, references)
        return {"rouge_l": sum(scores) / len(scores) if scores else float("nan")}
