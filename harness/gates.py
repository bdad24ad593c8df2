"""Declarative gate thresholds: parsed from TOML into small objects with one-line failure messages.

A gate config maps capability -> metric -> "OP THRESHOLD" (OP one of >=, <=, >, <), or "off":

    [identity]
    held_out_claim_rate = ">= 0.9"
    leak_rate = "<= 0"

Unknown capabilities or metrics, malformed expressions and thresholds outside a metric's range are errors
naming the key. Sources, first found wins: `--gates FILE`, `[tool.tunegate.gates]` in the rootdir's
pyproject.toml, `fixtures/gates.toml`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.compat import tomllib
from harness.results import GateResult, MetricSpec, MetricValue

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_EXPR = re.compile(r"^\s*(>=|<=|>|<)\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


class GateConfigError(ValueError):
    """A gate config is malformed; the message names the file and key."""


@dataclass(frozen=True)
class Gate:
    """`capability.metric OP threshold`."""

    capability: str
    metric: str
    op: str
    threshold: float

    @property
    def id(self) -> str:
        """Stable gate id, e.g. `identity.leak_rate`."""
        return f"{self.capability}.{self.metric}"

    def zero_tolerance(self, spec: MetricSpec) -> bool:
        """True when a single bad item already violates the gate (e.g. rate >= 1.0, leak rate <= 0)."""
        return (self.op == ">=" and self.threshold >= spec.high) or (self.op == "<=" and self.threshold <= spec.low)

    def check(self, metric: MetricValue, detail: str = "") -> GateResult:
        """Compare a measured value with the threshold; the message names gate, value, CI and threshold."""
        value = metric.value
        passed = not math.isnan(value) and OPS[self.op](value, self.threshold)
        ci = f", 95% CI [{metric.ci_low:.3f}, {metric.ci_high:.3f}]" if metric.ci_low is not None else ""
        count = f"n={metric.n}" if metric.n is not None else ""
        shown = "no data" if math.isnan(value) else f"{value:.4g}"
        verdict = "PASS" if passed else "FAIL"
        message = f"{verdict} {self.id} = {shown} ({count}{ci}); required {self.op} {self.threshold:g}"
        if detail:
            message += f"; {detail}"
        return GateResult(self.id, self.capability, self.metric, self.op, self.threshold, value, passed, message)


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
        raise GateConfigError(f"{key}: expected a string like \">= 0.9\" or \"off\", got {expression!r}")
    op, threshold = match[1], float(match[2])
    if not spec.low <= threshold <= spec.high:
        raise GateConfigError(f"{key}: threshold {threshold:g} is outside the metric's range "
                              f"[{spec.low:g}, {spec.high:g}]")
    if (op in {">", ">="} and threshold > spec.high) or (op == ">" and threshold >= spec.high) or \
            (op == "<" and threshold <= spec.low):
        raise GateConfigError(f"{key}: {op} {threshold:g} can never be met in [{spec.low:g}, {spec.high:g}]")
    return Gate(capability, metric, op, threshold)


def check_gates(gates: Mapping[str, Gate], capability: str, metrics: Sequence[MetricValue],
                detail: Callable[[Gate], str] = lambda gate: "") -> dict[str, GateResult]:
    """Check every configured gate of `capability` against the tuned model's `metrics`, by gate id.

    `detail(gate)` adds evidence to the message (failing probes, a noise verdict, base vs tuned values).
    """
    tuned = {m.name: m for m in metrics if m.capability == capability and m.checkpoint == "tuned"}
    return {gate.id: gate.check(tuned[gate.metric], detail(gate))
            for gate in gates.values() if gate.capability == capability}


_RELATIVE = re.compile(r"^\s*([-+])\s*(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class RelativeGate:
    """`capability.metric: -2%` (may fall at most 2% below the baseline) or `+0.05` (may rise at most 0.05)."""

    capability: str
    metric: str
    direction: str
    amount: float
    percent: bool

    @property
    def id(self) -> str:
        """Stable gate id, e.g. `baseline.old_task.exact_match`."""
        return f"baseline.{self.capability}.{self.metric}"

    @property
    def bound(self) -> str:
        """The bound as written, e.g. '-2%'."""
        return f"{self.direction}{self.amount:g}{'%' if self.percent else ''}"

    def limit(self, baseline: float) -> float:
        """The worst value still allowed given the baseline's value."""
        delta = abs(baseline) * self.amount / 100 if self.percent else self.amount
        return baseline - delta if self.direction == "-" else baseline + delta

    def check(self, baseline: MetricValue, now: MetricValue, detail: str = "") -> GateResult:
        """Compare this run's value with the stored baseline's; the message names metric, both values, the
        delta and the bound."""
        limit = self.limit(baseline.value)
        op = ">=" if self.direction == "-" else "<="
        passed = not math.isnan(now.value) and OPS[op](now.value, limit)
        delta = now.value - baseline.value
        relative = f", {100 * delta / baseline.value:+.1f}%" if baseline.value else ""
        message = (f"{'PASS' if passed else 'FAIL'} {self.id}: baseline {baseline.value:.4g} -> now {now.value:.4g} "
                   f"(delta {delta:+.4g}{relative}); bound {self.bound} (limit {limit:.4g})")
        return GateResult(self.id, "baseline", f"{self.capability}.{self.metric}", op, limit, now.value, passed,
                          message + (f"; {detail}" if detail else ""))


def parse_relative_gates(table: Any, registry: Mapping[str, Mapping[str, MetricSpec]], where: str
                         ) -> dict[str, RelativeGate]:
    """The `[baseline]` table: `"capability.metric" = "-2%" | "+5%" | "-0.02"`, keys checked against `registry`."""
    if not isinstance(table, Mapping):
        raise GateConfigError(f"{where}: [baseline] must be a table of \"capability.metric\" = \"-2%\"")
    gates = {}
    for key, expression in table.items():
        capability, _, metric = key.partition(".")
        if metric not in registry.get(capability, {}):
            raise GateConfigError(f"{where}: [baseline] {key!r} is not a known capability.metric")
        match = _RELATIVE.match(expression) if isinstance(expression, str) else None
        if not match:
            raise GateConfigError(f"{where}: [baseline] {key}: expected a signed bound like \"-2%\" or "
                                  f"\"+0.05\", got {expression!r}")
        gate = RelativeGate(capability, metric, match[1], float(match[2]), bool(match[3]))
        gates[gate.id] = gate
    return gates


@dataclass(frozen=True)
class GateConfig:
    """All configured gates, by id, the relative-to-baseline gates, and where they were read from."""

    gates: Mapping[str, Gate]
    source: str
    relative: Mapping[str, RelativeGate] = field(default_factory=dict)

    def for_capability(self, capability: str) -> list[Gate]:
        """The gates of one capability, in config order."""
        return [g for g in self.gates.values() if g.capability == capability]

    def to_dict(self) -> dict[str, str]:
        """Effective thresholds as `{gate id: "OP THRESHOLD"}` (for results.json)."""
        return {**{gid: f"{g.op} {g.threshold:g}" for gid, g in self.gates.items()},
                **{gid: g.bound for gid, g in self.relative.items()}}


def gate_config_from_mapping(raw: Mapping[str, Any], registry: Mapping[str, Mapping[str, MetricSpec]],
                             where: str) -> GateConfig:
    """Build a GateConfig from `{capability: {metric: expression}}`, checking every key against `registry`."""
    gates: dict[str, Gate] = {}
    relative = parse_relative_gates(raw.get("baseline", {}), registry, where)
    for capability, table in raw.items():
        if capability == "baseline":
            continue
        if capability not in registry:
            raise GateConfigError(f"{where}: unknown capability {capability!r}; known: {sorted(registry)}")
        if not isinstance(table, Mapping):
            raise GateConfigError(f"{where}: [{capability}] must be a table of metric = \"OP THRESHOLD\"")
        for metric, expression in table.items():
            if metric not in registry[capability]:
                raise GateConfigError(f"{where}: unknown metric {capability}.{metric}; "
                                      f"known: {sorted(registry[capability])}")
            gate = parse_gate(capability, metric, expression, registry[capability][metric], where)
            if gate:
                gates[gate.id] = gate
    return GateConfig(gates, where, relative)


def load_gate_config(explicit: str | Path | None, rootdir: Path, fixtures: Path,
                     registry: Mapping[str, Mapping[str, MetricSpec]]) -> GateConfig:
    """Read gates from `--gates FILE`, else `[tool.tunegate.gates]` in pyproject.toml, else fixtures/gates.toml."""
    if explicit:
        return gate_config_from_mapping(_read_toml(Path(explicit)), registry, str(explicit))
    pyproject = rootdir / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("tunegate", {}).get("gates")
        if section is not None:
            return gate_config_from_mapping(section, registry, f"{pyproject} [tool.tunegate.gates]")
    default = fixtures / "gates.toml"
    return gate_config_from_mapping(_read_toml(default), registry, str(default))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateConfigError(f"{path}: gate config file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise GateConfigError(f"{path}: invalid TOML: {err}") from None
