"""Data capability: is the data a run trains and evaluates on fit for it? From the validation reports of each
dataset (`harness.data.prep.dataset_report`): dev items whose prompt is a training prompt (leakage: the dev score
would measure memory), the largest share of near-duplicate training records, and the largest share of training
examples longer than their recipe's `max_length` (cut in training). Each dataset's figures are breakdowns; the
evidence names the leaked and duplicated ids."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from harness.data.prep import DataReport
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue

CAPABILITY = "data"
METRICS = {
    "dev_leaks": MetricSpec(0, math.inf, False, "dev items whose (normalised) prompt is a training prompt"),
    "duplicate_rate": MetricSpec(0, 1, False, "largest share of near-duplicate records in a training set"),
    "over_max_length": MetricSpec(0, 1, False, "largest share of a training set longer than its max_length"),
}


def _shown(pairs: Sequence, limit: int = 5) -> str:
    text = ", ".join(f"{a} = {b}" if isinstance(a, str) and b else str(a) for a, b in pairs[:limit])
    return text + (" ..." if len(pairs) > limit else "")


NO_TRAINING_SET = "no training set: the data folder has no train.json to check for leaks, duplicates or truncation"


def evaluate(models: None, data: Sequence[DataReport], settings: Any = None) -> CapabilityResult:
    """`data` = one validation report per dataset: the gated figures over all of them, each one's as breakdowns."""
    if not data:
        return CapabilityResult([], unmeasured=dict.fromkeys(METRICS, NO_TRAINING_SET))
    over = {r.name: len(r.over_max_length) / r.records if r.records else 0.0 for r in data}
    metrics = [MetricValue(CAPABILITY, "dev_leaks", sum(len(r.leaks) for r in data), n=len(data)),
               MetricValue(CAPABILITY, "duplicate_rate", max(r.duplicate_rate for r in data),
                           n=sum(r.records for r in data)),
               MetricValue(CAPABILITY, "over_max_length", max(over.values()), n=sum(r.records for r in data))]
    for r in data:
        metrics += [MetricValue(CAPABILITY, f"dev_leaks[{r.name}]", len(r.leaks), n=r.records),
                    MetricValue(CAPABILITY, f"duplicate_rate[{r.name}]", r.duplicate_rate, n=r.records),
                    MetricValue(CAPABILITY, f"over_max_length[{r.name}]", over[r.name], n=r.records)]
    leaks = [(f"{r.name}: dev {dev}", f"train {train}") for r in data for dev, train in r.leaks]
    duplicates = [(f"{r.name}: {dup}", first) for r in data for dup, first in r.normalised_duplicates]
    cut = [(f"{r.name}: {ex}", "") for r in data for ex in r.over_max_length]
    recall = [r.name for r in data if r.recall_set]
    notes = {"dev_leaks": f"{', '.join(recall)}: every dev prompt is also a training prompt (a recall sample drawn "
                          "from train): its accuracy gates measure recall of trained items, not answers to new "
                          "questions (docs/data-folder.md)"} if recall else {}
    return CapabilityResult(metrics, notes=notes, evidence={
        "dev_leaks": f"leaked ({len(leaks)}): {_shown(leaks)}" if leaks else
                     "no dev set shares part of its prompts with its training set" + (
                         f" (drawn wholly from it, a recall sample: {', '.join(recall)})" if recall else ""),
        "duplicate_rate": f"near-duplicates ({len(duplicates)}): {_shown(duplicates)}" if duplicates else "",
        "over_max_length": f"cut by max_length ({len(cut)}): {_shown(cut)}" if cut else ""})
