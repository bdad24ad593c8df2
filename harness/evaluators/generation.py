"""Generation-quality capability: how close are the generated answers to the references, base vs tuned?

BLEU and chrF (sacrebleu, corpus level) and ROUGE-L F1 (rouge-score, Chinese split per character), plus
exact match and token F1, overall and per language, each with a 95% bootstrap interval over items. The
data is the adapter's own target behaviour: the identity probes that carry a reference answer (held-in,
held-out and adversarial, English and Chinese). The gain in chrF over the base is a paired bootstrap. With the
prompt-only baseline (the base told in a system prompt what the adapter learned), its answers are scored the same
way: the `prompted` column.
"""

from __future__ import annotations

from typing import Any

from harness.data import Example
from harness.evaluators.answers import AnswerPair, answer_both
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue, Sample
from harness.measures.metrics import exact_match, token_f1
from harness.measures.statistics import mean_ci, rate
from harness.measures.text_metrics import corpus_score_ci, rouge_l, sentence_chrf
from harness.model.sets import ModelSet

CAPABILITY = "generation"
METRICS = {
    "bleu": MetricSpec(0, 100, True, "tuned model's corpus BLEU against the references"),
    "chrf": MetricSpec(0, 100, True, "tuned model's corpus chrF against the references"),
    "rouge_l": MetricSpec(0, 1, True, "tuned model's mean ROUGE-L F1 (CJK per character)"),
    "exact_match": MetricSpec(0, 1, True, "tuned answers equal to the reference (normalised)"),
    "token_f1": MetricSpec(0, 1, True, "tuned model's mean token F1"),
    "chrf_gain": MetricSpec(-100, 100, True, "tuned chrF minus base chrF on the same items"),
}


def _scores(outputs: list[str], refs: list[str]) -> dict[str, tuple[float, float, float, int]]:
    return {"bleu": (*corpus_score_ci("bleu", outputs, refs), len(refs)),
            "chrf": (*corpus_score_ci("chrf", outputs, refs), len(refs)),
            "rouge_l": mean_ci(rouge_l(outputs, refs)),
            "exact_match": rate([exact_match(o, r) for o, r in zip(outputs, refs, strict=True)]),
            "token_f1": mean_ci([token_f1(o, r) for o, r in zip(outputs, refs, strict=True)])}


def generation_metrics(items: list[AnswerPair], prompted: list[str] | None = None) -> list[MetricValue]:
    """Every quality metric for base and tuned (and the prompted base's answers `prompted`, when given), overall
    and per language, and each one's paired chrF gain over the base."""
    out: list[MetricValue] = []
    langs = sorted({g.lang for g in items})
    refs = [g.example.answer for g in items]
    answers = {"base": [g.base_output for g in items], "tuned": [g.tuned_output for g in items]}
    if prompted is not None:
        answers["prompted"] = prompted
    for checkpoint, outputs in answers.items():
        for lang in [None, *langs] if len(langs) > 1 else [None]:
            chosen = [i for i, g in enumerate(items) if lang is None or g.lang == lang]
            suffix = f"[{lang}]" if lang else ""
            out += [MetricValue(CAPABILITY, name + suffix, *values, checkpoint=checkpoint)
                    for name, values in _scores([outputs[i] for i in chosen], [refs[i] for i in chosen]).items()]
        if checkpoint != "base":
            gain = corpus_score_ci("chrf", outputs, refs, baseline=answers["base"])
            out.append(MetricValue(CAPABILITY, "chrf_gain", *gain, len(items), checkpoint))
    return out


def evaluate(models: ModelSet, data: list[Example], settings: Any = None) -> CapabilityResult:
    """Base and tuned (and the prompted base, when the set has one) answer every example of `data`: the quality
    metrics of each, the before/after samples, and the base (and prompted) value beside each gate's tuned value
    as its evidence."""
    items = answer_both(data, models.base, models.tuned)
    prompted = models.prompted
    prompted_answers = prompted.generate([ex.messages for ex in data]) if prompted is not None else None
    metrics = generation_metrics(items, prompted_answers)
    value = {(m.checkpoint, m.name): m.value for m in metrics}
    labels = {"base": "base", "prompted": "the prompted base"}
    evidence = {name: "; ".join(f"{label} {value[checkpoint, name]:.4g}" for checkpoint, label in labels.items()
                                if (checkpoint, name) in value)
                for name in METRICS if ("tuned", name) in value}
    return CapabilityResult(metrics, generation_samples(items), evidence, details=items)


def generation_samples(items: list[AnswerPair]) -> list[Sample]:
    """Before/after rows with each item's chrF and ROUGE-L (base and tuned, `figures`), its part in each gate
    (its tuned chrF and ROUGE-L, its chrF gain; see `harness.measures.item_gates`) and whether tuned got better or
    worse; a row passes when tuned is no worse than base."""
    refs = [g.example.answer for g in items]
    base, tuned = [g.base_output for g in items], [g.tuned_output for g in items]
    chrf = zip(sentence_chrf(base, refs), sentence_chrf(tuned, refs), strict=True)
    rouge = zip(rouge_l(base, refs), rouge_l(tuned, refs), strict=True)
    samples = []
    for g, (chrf_b, chrf_t), (rouge_b, rouge_t) in zip(items, chrf, rouge, strict=True):
        change = chrf_t - chrf_b
        samples.append(Sample(CAPABILITY, g.example.id, g.example.prompt_text, g.example.answer, g.base_output,
                              g.tuned_output,
                              {"type": g.category, "language": g.lang, "passed": rouge_t >= rouge_b,
                               "outcome": "better" if change > 0 else "worse" if change < 0 else "same",
                               "figures": {"chrF": [round(chrf_b, 1), round(chrf_t, 1)],
                                           "ROUGE-L": [round(rouge_b, 3), round(rouge_t, 3)]},
                               "gates": {"chrf": round(chrf_t, 2), "rouge_l": round(rouge_t, 4),
                                         "chrf_gain": round(change, 2)}}))
    return samples
