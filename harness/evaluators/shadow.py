"""Shadow comparison: the same prompts through the adapter under test and a second (shadow) adapter.

Reports, per dataset, how often the two greedy answers disagree (with a Wilson 95% interval) and the mean
normalised edit distance between them, and lists the disagreements side by side. Nothing is gated: a shadow
run informs a rollout decision, it does not block a release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.data import Example, IdentitySpec, load_examples
from harness.data.folder import DataFolder
from harness.foundation.records import CapabilityResult, MetricValue, Sample
from harness.measures.metrics import normalized_edit_distance
from harness.measures.statistics import rate
from harness.model.protocol import LanguageModel
from harness.model.sets import ShadowPair

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
                           {"type": name, "passed": False, "edit_distance": round(d, 4)})
                    for ex, a, b, flag, d in zip(examples, ours, theirs, differ, distances, strict=True) if flag]
    return metrics, samples


def shadow_datasets(fixtures: Path, spec: IdentitySpec) -> dict[str, list[Example]]:
    """The prompts both adapters answer: the identity probes and every task's dev set (`tasks/*/dev.json`)."""
    folder = DataFolder(fixtures)
    return {"identity": load_examples(folder.probes, spec.variables),
            **{d.name: load_examples(folder.task(d.name, "dev")) for d in sorted(folder.tasks.iterdir())
               if folder.task(d.name, "dev").is_file()}}


def evaluate(models: ShadowPair, data: Mapping[str, Sequence[Example]], settings: Any = None) -> CapabilityResult:
    """The adapter under test and the shadow adapter on every dataset of `data`: see `compare_with_shadow`."""
    metrics, samples = compare_with_shadow(models.tuned, models.shadow, data)
    return CapabilityResult(metrics, samples)
