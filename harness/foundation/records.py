"""The vocabulary every layer shares: a metric's declaration and value, a before/after sample, a gate's verdict,
and what one capability's evaluation produces. Plain frozen dataclasses, no behaviour beyond formatting.

Evaluators build `MetricValue`s, `Sample`s and `CapabilityResult`s; `harness.gating.gates` turns them into
`GateResult`s; `harness.gating.results` writes them to results.json.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetricSpec:
    """Declaration of a gateable metric: its valid range and which direction is better."""

    low: float
    high: float
    higher_is_better: bool
    description: str


@dataclass(frozen=True)
class MetricValue:
    """One measured number with its 95% confidence interval and sample count."""

    capability: str
    name: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    checkpoint: str = "tuned"


@dataclass(frozen=True)
class Sample:
    """One probe or item: prompt, reference, base and tuned outputs, and its scores."""

    capability: str
    id: str
    prompt: str
    reference: str
    base_output: str
    tuned_output: str
    score: dict[str, Any]


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate on one metric: the decision `rule` (point, beyond noise, confident), the
    measurement's CI and n, its minimum detectable change at 80% power (`mde`), a power `warning`, a `note`
    the evaluation attached (what the verdict does not say, e.g. that a dev set is a recall sample) and the
    `severity` that orders failed gates worst first."""

    id: str
    capability: str
    metric: str
    op: str
    threshold: float
    value: float
    passed: bool
    message: str
    rule: str = "point"
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    mde: float | None = None
    warning: str | None = None
    note: str | None = None
    severity: float | None = None  # how far past its threshold, in units of the gate's resolution (0: on its side)

    @property
    def requirement(self) -> str:
        """The threshold as shown to people, e.g. '>= 0.85 beyond noise'."""
        return f"{self.op} {self.threshold:.4g}" + ("" if self.rule == "point" else f" {self.rule}")

    @property
    def configured_id(self) -> str:
        """The id of the configured gate this verdict is of (`audit.max_forgetting[checkpoint-2]` ->
        `audit.max_forgetting`): one gate gives one verdict per part."""
        return self.id.split("[", 1)[0]

    @property
    def part(self) -> str:
        """The part a per-part verdict is about (`audit.max_forgetting[checkpoint-2]` -> `checkpoint-2`), else ''.

        >>> GateResult("audit.max_forgetting[checkpoint-2]", "audit", "max_forgetting", "<=", 0.1, 0.0, True, "").part
        'checkpoint-2'
        """
        return self.id[self.id.rindex("[") + 1:-1] if self.id.endswith("]") and "[" in self.id else ""

    @property
    def verdict(self) -> str:
        """'PASS' or 'FAIL', marked '(underpowered)' when the gate cannot resolve its threshold."""
        return ("PASS" if self.passed else "FAIL") + (" (underpowered)" if self.warning else "")


@dataclass(frozen=True)
class CapabilityResult:
    """What one capability's evaluation produced: its metrics (base and tuned), before/after samples, and the
    evidence behind each gate (`evidence[metric name]`: failing probes, a noise verdict, base vs tuned values),
    which gate messages quote.

    `parts` (a checkpoint name -> its evidence line) makes the gates be checked once per part on the metrics of
    that checkpoint, each verdict named `<gate id>[<part>]` (the audit: one verdict per checkpoint). `run`
    holds sections for results.json's `run` header (e.g. the accuracy matrices of the sequences); `details`
    keeps the evaluator's own per-item results for a suite that tests items one by one. `unmeasured` maps the
    metrics the evaluation left out on purpose (their data is absent) to why: their gates give no verdict and
    their tests are skipped with that reason, which the run's headline repeats.
    """

    metrics: Sequence[MetricValue]
    samples: Sequence[Sample] = ()
    evidence: Mapping[str, str] = field(default_factory=dict)
    parts: Mapping[str, str] = field(default_factory=dict)
    run: Mapping[str, Any] = field(default_factory=dict)
    details: Any = None
    unmeasured: Mapping[str, str] = field(default_factory=dict)  # metric -> why it was left out: no verdict
    notes: Mapping[str, str] = field(default_factory=dict)  # metric -> what its verdict does not say

    def __post_init__(self) -> None:
        if not isinstance(self.unmeasured, Mapping):  # a set of names, as capabilities wrote it before reasons
            object.__setattr__(self, "unmeasured", dict.fromkeys(self.unmeasured, "not measured: its data is absent"))
