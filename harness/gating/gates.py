"""Gates: "OP THRESHOLD [RULE]" on one metric of one capability, parsed once, checked on any capability's result.

RULE decides a measurement with error bars: `point` (the estimate), `beyond noise` (fail only when the whole
95% CI fails) or `confident` (pass only when the whole CI passes); each verdict carries its minimum detectable
change, so a gate too small to resolve its own threshold is flagged `underpowered` instead of passing quietly
(docs/gates.md). Reading gate configs from TOML is `harness.gating.gate_config`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from harness.foundation import values
from harness.foundation.errors import InputError
from harness.foundation.records import CapabilityResult, GateResult, MetricSpec, MetricValue
from harness.measures.item_gates import OPS, shortfall
from harness.measures.statistics import minimum_detectable_change

RULES = ("point", "beyond noise", "confident")
RULE_PATTERN = r"(?:\s+(" + "|".join(RULES) + "))?"
_EXPR = re.compile(r"^\s*(>=|<=|>|<)\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)" + RULE_PATTERN + r"\s*$")
RESOLUTION = 0.1  # a gate must detect a change of 10 points on a 0-1 scale, or 10% of a wider range
NO_DATA_SEVERITY = 1e9  # a finite "worst" (JSON has no infinity)
UNBOUNDED_RESOLUTION = 0.25  # or 25% of an unbounded metric's threshold (ratios: noisier, coarser thresholds)


class GateConfigError(InputError):
    """A gate config is malformed; the message names the file and key."""


class GateConfigMissing(GateConfigError):
    """The gate config file does not exist."""


def decide(op: str, threshold: float, value: float, ci: tuple[float | None, float | None] = (None, None),
           rule: str = "point") -> tuple[bool, str]:
    """(passed, how it was decided) for `value OP threshold` under a decision rule.

    `beyond noise` fails only when even the CI's most favourable end fails; `confident` passes only when even
    its least favourable end passes. Without a CI both fall back to the point estimate. NaN always fails.

    >>> decide(">=", 0.85, 0.84, (0.80, 0.88), "beyond noise")
    (True, 'beyond noise: point 0.84 misses, but the 95% CI [0.8, 0.88] reaches 0.85')
    >>> decide(">=", 0.85, 0.90, (0.84, 0.95), "confident")[0]
    False
    """
    low, high = ci
    if math.isnan(value):
        return False, "no data"
    point = OPS[op](value, threshold)
    if rule == "point" or low is None or high is None:
        return point, "point estimate" + ("" if rule == "point" else f" (no CI for {rule})")
    favourable, unfavourable = (high, low) if op in (">=", ">") else (low, high)
    shown = f"95% CI [{low:.3g}, {high:.3g}]"
    if rule == "beyond noise":
        if point:
            return True, "beyond noise: point estimate passes"
        if OPS[op](favourable, threshold):
            return True, f"beyond noise: point {value:.3g} misses, but the {shown} reaches {threshold:g}"
        return False, f"beyond noise: the whole {shown} misses {threshold:g}"
    if not point:
        return False, "confident: point estimate fails"
    if OPS[op](unfavourable, threshold):
        return True, f"confident: the whole {shown} meets {threshold:g}"
    return False, f"confident: point {value:.3g} passes, but the {shown} reaches past {threshold:g}"


def resolution(threshold: float, spec: MetricSpec) -> float:
    """The change a gate on this metric must be able to detect: RESOLUTION on a 0-1 scale or of the range for
    wider bounded metrics, UNBOUNDED_RESOLUTION of the threshold for unbounded ones."""
    width = spec.high - spec.low
    if math.isinf(width):
        return UNBOUNDED_RESOLUTION * abs(threshold)
    return RESOLUTION * (1.0 if width <= 2 else width)


def severity(op: str, threshold: float, value: float, spec: MetricSpec | None) -> float:
    """How far `value` lies past `threshold` on the failing side, in units of the change the gate must resolve
    (`resolution`; the threshold's magnitude without a spec): 0 on the passing side, NO_DATA_SEVERITY with no data
    (first: a gate that measured nothing is the worst news). Why:
    failed gates are listed worst first, and a perplexity ratio of 16,806 against 1.25 must outrank an entropy
    of 0.24 against 0.3 although the raw distances say otherwise.

    >>> severity(">=", 0.85, 0.0, MetricSpec(0, 1, True, "")), severity("<=", 1.25, 1.0, None)
    (8.5, 0.0)
    """
    if math.isnan(value):
        return NO_DATA_SEVERITY
    past = shortfall(op, threshold, value)
    unit = resolution(threshold, spec) if spec is not None else abs(threshold)
    return max(past, 0.0) / (unit or 1.0)


@dataclass(frozen=True)
class Gate:
    """`capability.metric OP threshold`, decided by `rule` (point, beyond noise, confident)."""

    capability: str
    metric: str
    op: str
    threshold: float
    rule: str = "point"
    spec: MetricSpec | None = None

    @property
    def id(self) -> str:
        """Stable gate id, e.g. `identity.leak_rate`."""
        return f"{self.capability}.{self.metric}"

    @property
    def expression(self) -> str:
        """The gate as written in a gate config, e.g. '>= 0.85 beyond noise'."""
        return f"{self.op} {self.threshold:g}" + ("" if self.rule == "point" else f" {self.rule}")

    def zero_tolerance(self, spec: MetricSpec) -> bool:
        """True when a single bad item already violates the gate (e.g. rate >= 1.0, leak rate <= 0)."""
        return (self.op == ">=" and self.threshold >= spec.high) or (self.op == "<=" and self.threshold <= spec.low)

    def check(self, metric: MetricValue, detail: str = "") -> GateResult:
        """Compare a measured value with the threshold under the gate's rule; the message names gate, value,
        CI, threshold, the rule that decided and (when the gate is underpowered) a warning."""
        value = metric.value
        passed, how = decide(self.op, self.threshold, value, (metric.ci_low, metric.ci_high), self.rule)
        ci = f", 95% CI [{metric.ci_low:.3f}, {metric.ci_high:.3f}]" if metric.ci_low is not None else ""
        count = f"n={metric.n}" if metric.n is not None else ""
        shown = "no data" if math.isnan(value) else f"{value:.4g}"
        mde = minimum_detectable_change(metric.ci_low, metric.ci_high)
        warning = self.power_warning(mde, metric.n, value)
        message = (f"{'PASS' if passed else 'FAIL'} {self.id} = {shown} ({count}{ci}); required {self.op} "
                   f"{self.threshold:g}; decided by {how}")
        message += "".join(f"; {part}" for part in (detail, warning) if part)
        return GateResult(self.id, self.capability, self.metric, self.op, self.threshold, value, passed, message,
                          rule=self.rule, ci_low=metric.ci_low, ci_high=metric.ci_high, n=metric.n, mde=mde,
                          warning=warning, severity=round(severity(self.op, self.threshold, value, self.spec), 4))

    def power_warning(self, mde: float | None, n: int | None, value: float) -> str | None:
        """'underpowered: ...' when the gate cannot resolve its own threshold where it matters: the minimum
        detectable change exceeds the gate's resolution and the value lies within one MDE of the threshold (a
        measurement far from its threshold is decided whatever the noise)."""
        if mde is None or self.spec is None or math.isnan(value):
            return None
        needed = resolution(self.threshold, self.spec)
        if mde <= needed or abs(value - self.threshold) > mde:
            return None
        return (f"underpowered: with n={n} the smallest change detectable at 80% power is {mde:.3g}, more than "
                f"{needed:.3g}, and the value is within it of the threshold; grow the evaluation set")


def for_part(result: GateResult, part: str) -> GateResult:
    """A gate's verdict on one part (a checkpoint, a capability) under its own id: `<gate id>[<part>]`."""
    return replace(result, id=f"{result.id}[{part}]", message=result.message.replace(result.id,
                                                                                       f"{result.id}[{part}]", 1))


def parse_gate(capability: str, metric: str, expression: Any, spec: MetricSpec, where: str) -> Gate | None:
    """Parse one `"OP THRESHOLD"` expression (None for "off"), validating it against the metric's range."""
    key = f"{where}: {capability}.{metric}"
    if expression == "off":
        return None
    match = _EXPR.match(expression) if isinstance(expression, str) else None
    if not match:
        raise GateConfigError(f"{key}: expected a string like \">= 0.9\", \">= 0.9 beyond noise\", "
                              f"\">= 0.9 confident\" or \"off\", got {values.described(expression)}")
    op, threshold, rule = match[1], float(match[2]), match[3] or "point"
    if not math.isfinite(threshold):  # "<= 1e999" on an unbounded ratio would pass every value
        raise GateConfigError(f"{key}: threshold {match[2]} is not a finite number: a gate that no value can fail")
    if not spec.low <= threshold <= spec.high:
        raise GateConfigError(f"{key}: threshold {threshold:g} is outside the metric's range "
                              f"[{spec.low:g}, {spec.high:g}]")
    if (op in {">", ">="} and threshold > spec.high) or (op == ">" and threshold >= spec.high) or \
            (op == "<" and threshold <= spec.low):
        raise GateConfigError(f"{key}: {op} {threshold:g} can never be met in [{spec.low:g}, {spec.high:g}]")
    if (op == "<=" and threshold >= spec.high) or (op == ">=" and threshold <= spec.low):
        raise GateConfigError(f"{key}: {op} {threshold:g} is met by every value in [{spec.low:g}, {spec.high:g}]: a "
                              "gate that can never fail; tighten the threshold, or write \"off\"")
    return Gate(capability, metric, op, threshold, rule, spec)


def check_gates(gates: Iterable[Gate], metrics: Sequence[MetricValue], evidence: Mapping[str, str] | None = None,
                checkpoint: str = "tuned", unmeasured: Iterable[str] = ()) -> dict[str, GateResult]:
    """Check each gate against the metric of its name measured on `checkpoint`, by gate id; `evidence[metric]`
    (failing probes, a noise verdict, base vs tuned values) is added to the message.

    A gate whose metric was not measured is an error naming the gate and what was measured, unless the metric is
    `unmeasured` on purpose (its data is absent): that gate gives no verdict.
    """
    measured = {m.name: m for m in metrics if m.checkpoint == checkpoint}
    evidence, skipped = evidence or {}, set(unmeasured)
    out = {}
    for gate in (g for g in gates if g.metric not in skipped):
        if gate.metric not in measured:
            raise GateConfigError(f"gate {gate.id}: the evaluation measured no {checkpoint!r} value of "
                                  f"{gate.metric!r} (measured: {sorted(measured)})")
        out[gate.id] = gate.check(measured[gate.metric], evidence.get(gate.metric, ""))
    return out


def judge(gates: Sequence[Gate], result: CapabilityResult) -> dict[str, GateResult]:
    """A capability's verdicts on its evaluation: its gates on the tuned metrics, or, when the result has
    `parts` (checkpoints), on each part's metrics under ids `<gate id>[<part>]`, the part's line as evidence."""
    if not result.parts:
        verdicts = check_gates(gates, result.metrics, result.evidence, unmeasured=result.unmeasured)
        return {gid: replace(v, note=result.notes[v.metric]) if v.metric in result.notes else v
                for gid, v in verdicts.items()}
    out = {}
    for part, line in result.parts.items():
        evidence = {g.metric: "; ".join(x for x in (result.evidence.get(g.metric, ""), line) if x) for g in gates}
        for verdict in check_gates(gates, result.metrics, evidence, part, result.unmeasured).values():
            verdict = for_part(verdict, part)
            out[verdict.id] = verdict
    return out


def confirm_failures(first: Mapping[str, GateResult], again: Mapping[str, GateResult]) -> dict[str, GateResult]:
    """Verdicts after a re-measurement (timings on a shared machine): a gate that passed the first measurement
    keeps that verdict; one that failed takes the re-measurement's, its message saying what the first said."""
    verdicts = {}
    for gid, verdict in first.items():
        if verdict.passed:
            verdicts[gid] = verdict
            continue
        outcome = "confirmed the FAIL" if not again[gid].passed else "passed"
        note = f"re-measured after a first FAIL at {verdict.value:.4g}: the re-measurement {outcome}"
        verdicts[gid] = replace(again[gid], message=f"{again[gid].message}; {note}")
    return verdicts


@dataclass(frozen=True)
class RelativeGate:
    """`capability.metric: -2%` (may fall at most 2% below the baseline) or `+0.05` (may rise at most 0.05)."""

    capability: str
    metric: str
    direction: str
    amount: float
    percent: bool
    rule: str = "point"

    @property
    def id(self) -> str:
        """Stable gate id, e.g. `baseline.old_task.exact_match`."""
        return f"baseline.{self.capability}.{self.metric}"

    @property
    def bound(self) -> str:
        """The bound as written, e.g. '-2%' or '-2% beyond noise'."""
        rule = "" if self.rule == "point" else f" {self.rule}"
        return f"{self.direction}{self.amount:g}{'%' if self.percent else ''}{rule}"

    def limit(self, baseline: float) -> float:
        """The worst value still allowed given the baseline's value."""
        delta = abs(baseline) * self.amount / 100 if self.percent else self.amount
        return baseline - delta if self.direction == "-" else baseline + delta

    def check(self, baseline: MetricValue, now: MetricValue, paired: tuple[float, float, int] | None = None
              ) -> GateResult:
        """Compare this run's value with the stored baseline's under the gate's rule. `paired` is the bootstrap
        CI (low, high) and n of the per-item change on the items both runs answered; without it the rule uses
        this run's own CI. The message names metric, both values, the delta, the bound and the rule."""
        limit = self.limit(baseline.value)
        op = ">=" if self.direction == "-" else "<="
        ci, n = ((baseline.value + paired[0], baseline.value + paired[1]), paired[2]) if paired else \
            ((now.ci_low, now.ci_high), now.n)
        passed, how = decide(op, limit, now.value, ci, self.rule)
        delta = now.value - baseline.value
        relative = f", {100 * delta / baseline.value:+.1f}%" if baseline.value else ""
        message = (f"{'PASS' if passed else 'FAIL'} {self.id}: baseline {baseline.value:.4g} -> now {now.value:.4g} "
                   f"(delta {delta:+.4g}{relative}); bound {self.bound} (limit {limit:.4g}); decided by {how}")
        if paired:
            message += (f"; paired on {paired[2]} items: change {delta:+.4f}, 95% CI [{paired[0]:+.4f}, "
                        f"{paired[1]:+.4f}]")
        mde = minimum_detectable_change(*ci)
        return GateResult(self.id, "baseline", f"{self.capability}.{self.metric}", op, limit, now.value, passed,
                          message, rule=self.rule, ci_low=ci[0], ci_high=ci[1], n=n, mde=mde)

    def missing(self, what: str) -> GateResult:
        """A failed verdict for a gate that cannot be checked: `what` says which side lacks the metric."""
        return GateResult(self.id, "baseline", f"{self.capability}.{self.metric}", ">=", math.nan, math.nan, False,
                          f"FAIL {self.id}: {what} has no {self.capability}.{self.metric}; a [baseline] gate "
                          "that cannot be compared fails (save a complete baseline, or turn the gate off)")
