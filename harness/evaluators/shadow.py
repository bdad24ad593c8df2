"""Shadow comparison: the same prompts through the adapter under test and a second (shadow) adapter.

Reports, per dataset, how often the two greedy answers disagree (with a Wilson 95% interval) and the mean
normalised edit distance between them, and lists the disagreements side by side. Nothing is gated: a shadow
run informs a rollout decision, it does not block a release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.data import Example
from harness.metrics import normalized_edit_distance, rate
from harness.model.lm import LanguageModel
from harness.results import MetricValue, Sample

CAPABILITY = "shadow"


def compare_with_shadow(tuned: LanguageModel, shadow: LanguageModel,
                        datasets: Mapping[str, Sequence[Example]]) -> tuple[list[MetricValue], list[Sample]]:
    """Disagreement rate and edit distance per dataset, and every disagreement (shadow answer as base_output)."""
    metrics, samples = [], []
    for name, examples in datasets.items():
        prompts = [ex.messages for ex in examples]
        ours, theirs = tuned.generate(prompts), shadow.generate(prompts)
        differ = [a != b for a, b in zip(ours, theirs, strict=True)]
        distances = [normalized_edit_distance(a, b) for a, b in zip(ours, theirs, strict=True)]
        metrics += [MetricValue(CAPABILITY, f"disagreement[{name}]", *rate(differ)),
                    MetricValue(CAPABILITY, f"edit_distance[{name}]", sum(distances) / len(distances),
                                n=len(distances))]
        samples += [Sample(CAPABILITY, f"{name}/{ex.id}", ex.prompt_text, ex.answer, b, a,
                           {"kind": name, "passed": False, "edit_distance": round(d, 4)})
                    for ex, a, b, flag, d in zip(examples, ours, theirs, differ, distances, strict=True) if flag]
    return metrics, samples
