"""The capability registry: the one place a capability is declared.

A `Capability` names a thing a fine-tune is gated on (identity, old-task accuracy, latency, ...): its pytest
marker's help text, its gateable metrics, its evaluator (`evaluate(models, data, settings) -> CapabilityResult`),
the type of `models` it takes (`harness.model.sets`), an optional extra report section, and how its gates behave
(greedy outputs compared with a baseline for drift; failures re-measured once). Markers, the metric registry
that gate configs are validated against, the report's extra sections and the drift gates all derive from it.

Users add their own capabilities from a conftest or plugin through the `pytest_tunegate_capabilities` hook
(`harness.plugin.hookspecs`); see `examples/`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.evaluators import (
    adapter_health,
    audit,
    data_quality,
    forgetting,
    generation,
    identity,
    latency,
    perplexity,
    shadow,
    training,
)
from harness.evaluators.accuracy import NEW_TASK, OLD_TASK
from harness.foundation.records import CapabilityResult, GateResult, MetricSpec
from harness.gating.baselines import DRIFT, DRIFT_METRICS
from harness.gating.gates import Gate, confirm_failures, judge
from harness.gating.results import RunRecord
from harness.model.sets import CheckpointModels, HealthModels, LatencyViews, ModelSet, ShadowPair
from harness.report.panels import audit_section, strategy_section

Evaluate = Callable[[Any, Any, Any], CapabilityResult]  # (models, data, settings): each built-in's own is typed
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CapabilityError(ValueError):
    """A capability declaration is invalid, or a name is registered twice or unknown."""


@dataclass(frozen=True)
class Capability:
    """One gated capability.

    `evaluate(models, data, settings)` measures it (`settings`: the run's effective options) and returns a
    `CapabilityResult`; `report_section(record)` renders extra HTML beyond the generic section every capability
    gets (gates, metrics base vs tuned, samples). `compares_outputs`: its samples are greedy outputs, so under
    `--baseline` the `[drift]` gates compare them with the baseline's. `remeasure_failures`: a failing gate is
    measured once more and fails only when the re-measurement confirms it (timings). `default_gates`: its
    gates (metric -> "OP THRESHOLD [RULE]") when the gate config has no table for it.
    `takes`: the type (or types) of the `models` its evaluator takes, checked before it runs, so a suite that
    hands it the wrong set fails naming both; None accepts anything (a plug-in that unpacks a pair).
    `needs_adapter`: it measures the adapter itself, so it does not apply to a full model (--tuned-model).
    `grades_model`: whether it grades a model the user brings (--adapter / --tuned-model): "default" (unless the
    gate config's `[graded_by]` leaves it out), "named" (only where `[graded_by]` names it), or None (it grades
    the run, not that model: forgetting, audit, shadow).
    """

    name: str
    description: str
    metrics: Mapping[str, MetricSpec] = field(default_factory=dict)
    evaluate: Evaluate | None = None
    report_section: Callable[[RunRecord], str] | None = None
    compares_outputs: bool = False
    remeasure_failures: bool = False
    default_gates: Mapping[str, str] = field(default_factory=dict)
    needs_adapter: bool = False
    grades_model: str | None = None
    takes: type | tuple[type, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise CapabilityError(f"capability name {self.name!r} must be lower-case letters, digits and _ "
                                  "(it becomes a pytest marker and a gate-config table)")
        for metric, spec in self.metrics.items():
            if not isinstance(spec, MetricSpec):
                raise CapabilityError(f"capability {self.name}: metric {metric!r} must be a MetricSpec, "
                                      f"got {type(spec).__name__}")
        unknown = sorted(set(self.default_gates) - set(self.metrics))
        if unknown:
            raise CapabilityError(f"capability {self.name}: default_gates name unknown metrics {unknown}; "
                                  f"known: {sorted(self.metrics)}")

    def run(self, gates: Sequence[Gate], models: Any, data: Any, settings: Any
            ) -> tuple[CapabilityResult, dict[str, GateResult]]:
        """Evaluate and check `gates` (this capability's); with `remeasure_failures`, a failing gate is measured
        again and the re-measurement decides it. Returns the deciding result and the verdicts by gate id."""
        if self.evaluate is None:
            raise CapabilityError(f"capability {self.name} declares no evaluate function")
        if self.takes is ModelSet and isinstance(models, tuple) and len(models) in (2, 3):
            models = ModelSet(*models)  # (base, tuned[, prompted]): what suites passed before the type existed
        if self.takes is not None and not isinstance(models, self.takes):
            raise CapabilityError(f"capability {self.name} takes {_type_names(self.takes)} as its models, got "
                                  f"{type(models).__name__}")
        result = self.evaluate(models, data, settings)
        verdicts = judge(gates, result)
        if self.remeasure_failures and not all(v.passed for v in verdicts.values()):
            result = self.evaluate(models, data, settings)
            verdicts = confirm_failures(verdicts, judge(gates, result))
        return result, verdicts


def _type_names(types: type | tuple[type, ...]) -> str:
    """'ModelSet' or 'dict or Mapping': what a capability's `takes` names."""
    return " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))


class CapabilityRegistry:
    """Capabilities by name, in registration order."""

    def __init__(self, capabilities: Sequence[Capability] = ()) -> None:
        self._by_name: dict[str, Capability] = {}
        for capability in capabilities:
            self.add(capability)

    def add(self, capability: Capability) -> Capability:
        """Register a capability; a second one of the same name is an error."""
        if not isinstance(capability, Capability):
            raise CapabilityError(f"register a harness.capabilities.Capability, got {type(capability).__name__}")
        if capability.name in self._by_name:
            raise CapabilityError(f"capability {capability.name!r} is registered twice")
        self._by_name[capability.name] = capability
        return capability

    def __getitem__(self, name: str) -> Capability:
        try:
            return self._by_name[name]
        except KeyError:
            raise CapabilityError(f"unknown capability {name!r}; registered: {sorted(self._by_name)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Capability]:
        return iter(self._by_name.values())

    def metric_specs(self) -> dict[str, Mapping[str, MetricSpec]]:
        """{capability: {metric: spec}}: what a gate config is validated against."""
        return {c.name: c.metrics for c in self}

    def grading(self, named: bool = False) -> list[str]:
        """The capabilities that grade a model the user brings: by default (`named=False`), or all that may."""
        return [c.name for c in self if c.grades_model == "default" or (named and c.grades_model == "named")]

    def default_gates(self) -> dict[str, Mapping[str, str]]:
        """{capability: its default gates} for capabilities that declare any."""
        return {c.name: c.default_gates for c in self if c.default_gates}

    def markers(self) -> dict[str, str]:
        """{marker name: help text}, one marker per capability."""
        return {c.name: c.description for c in self}

    def report_sections(self) -> list[Callable[[RunRecord], str]]:
        """The capabilities' extra report sections, in registration order."""
        return [c.report_section for c in self if c.report_section]


def builtin_capabilities() -> CapabilityRegistry:
    """A new registry holding tunegate's own capabilities."""
    return CapabilityRegistry([
        Capability(identity.CAPABILITY, "identity suite: the adapter claims its new name and author, and nothing "
                   "else changes", identity.METRICS, identity.evaluate, compares_outputs=True, grades_model="default",
                   takes=ModelSet),
        Capability(OLD_TASK.name, "old-task accuracy, base vs tuned", OLD_TASK.metrics, OLD_TASK.evaluate,
                   compares_outputs=True, grades_model="default", takes=ModelSet),
        Capability(NEW_TASK.name, "new-task accuracy, base vs tuned", NEW_TASK.metrics, NEW_TASK.evaluate,
                   compares_outputs=True, grades_model="default", takes=ModelSet),
        Capability(perplexity.CAPABILITY, "held-out perplexity, base vs tuned", perplexity.METRICS,
                   perplexity.evaluate, grades_model="default", takes=ModelSet),
        Capability(adapter_health.CAPABILITY, "adapter activation entropy and weight health",
                   adapter_health.METRICS, adapter_health.evaluate, needs_adapter=True, grades_model="default",
                   takes=HealthModels),
        Capability(generation.CAPABILITY, "generation quality (BLEU, chrF, ROUGE-L)", generation.METRICS,
                   generation.evaluate, compares_outputs=True, grades_model="default", takes=ModelSet),
        Capability(latency.CAPABILITY, "generation latency and throughput, base vs tuned", latency.METRICS,
                   latency.evaluate, remeasure_failures=True, grades_model="default", takes=LatencyViews),
        Capability(forgetting.CAPABILITY, "forgetting across increments (ACC, BWT, FWT)", forgetting.METRICS,
                   forgetting.evaluate, report_section=strategy_section, takes=Mapping),
        Capability(data_quality.CAPABILITY, "the data: no dev item leaked from training, few duplicates, few "
                   "examples cut by max_length", data_quality.METRICS, data_quality.evaluate, takes=type(None)),
        Capability(training.CAPABILITY, "training health: every trained adapter's loss fell and stayed finite",
                   training.METRICS, training.evaluate, takes=type(None)),
        Capability(audit.CAPABILITY, "nightly audit over every checkpoint of a run", audit.METRICS, audit.evaluate,
                   report_section=audit_section, takes=CheckpointModels),
        Capability(shadow.CAPABILITY, "shadow comparison with a second adapter (--shadow); reported, never gated",
                   evaluate=shadow.evaluate, takes=ShadowPair),
        Capability(DRIFT, "output drift against the stored baseline (--baseline); its gates run in each "
                   "capability's suite", DRIFT_METRICS),
    ])
