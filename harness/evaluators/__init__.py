"""Evaluators: one capability per module, each declaring its gateable metrics.

`CAPABILITY_METRICS` is the registry the gate config is validated against.
"""

from __future__ import annotations

from harness.baselines import DRIFT, DRIFT_METRICS
from harness.evaluators import (
    adapter_health,
    audit,
    forgetting,
    generation,
    identity,
    latency,
    new_task,
    old_task,
    perplexity,
)
from harness.results import MetricSpec

CAPABILITY_METRICS: dict[str, dict[str, MetricSpec]] = {
    identity.CAPABILITY: identity.METRICS,
    old_task.CAPABILITY: old_task.METRICS,
    new_task.CAPABILITY: new_task.METRICS,
    perplexity.CAPABILITY: perplexity.METRICS,
    adapter_health.CAPABILITY: adapter_health.METRICS,
    generation.CAPABILITY: generation.METRICS,
    latency.CAPABILITY: latency.METRICS,
    forgetting.CAPABILITY: forgetting.METRICS,
    audit.CAPABILITY: audit.METRICS,
    DRIFT: DRIFT_METRICS,
}
