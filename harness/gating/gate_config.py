"""Gate configs: the TOML that says which gates a run checks, validated against the capability registry.

A gate config maps capability -> metric -> "OP THRESHOLD [RULE]" (see `harness.gating.gates`), plus a `[baseline]`
table of relative bounds (`"capability.metric" = "-2%"`) and a `[graded_by]` table saying which capabilities grade
a model the user brings (`"<glob on the --adapter / --tuned-model path>" = ["old_task", ...]`, first match
wins). Unknown capabilities or metrics, malformed
expressions and thresholds outside a metric's range are errors naming the file and key. Sources, first found
wins: `--gates FILE`, `[tool.tunegate.gates]` in the rootdir's pyproject.toml, `<data-dir>/gates.toml`; a
capability the config does not name takes its registered default gates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from harness.data.folder import DataFolder
from harness.foundation import values
from harness.foundation.records import MetricSpec
from harness.foundation.textfiles import read_toml
from harness.gating.gates import RULE_PATTERN, Gate, GateConfigError, GateConfigMissing, RelativeGate, parse_gate

_RELATIVE = re.compile(r"^\s*([-+])\s*(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*(%?)" + RULE_PATTERN + r"\s*$")


def _check_relative(gate: RelativeGate, spec: MetricSpec, key: str) -> None:
    """Refuse a bound no regression can fail: a non-finite amount, one that limits only the metric's good
    direction ("+2%" on a higher-is-better metric lets any drop pass), or one as wide as the metric's range."""
    if not math.isfinite(gate.amount):
        raise GateConfigError(f"{key}: {gate.bound!r} is not a finite bound: no change could fail it")
    if (gate.direction == "+") == spec.higher_is_better:
        worse, better = ("fall", "rise") if spec.higher_is_better else ("rise", "fall")
        raise GateConfigError(f"{key}: {gate.bound!r} limits how far the metric may {better}, its good direction, "
                              f"so any {'drop' if spec.higher_is_better else 'rise'} passes; bound how far it may "
                              f"{worse}: \"{'-' if spec.higher_is_better else '+'}{gate.bound[1:]}\"")
    if _allows_the_whole_range(gate, spec):
        change = "drop" if spec.higher_is_better else "rise"
        raise GateConfigError(f"{key}: {gate.bound!r} allows a {change} across the metric's whole range "
                              f"[{spec.low:g}, {spec.high:g}], so no change could fail it; use a smaller bound")


def _allows_the_whole_range(gate: RelativeGate, spec: MetricSpec) -> bool:
    """Whether the bound's worst allowed value lies outside the metric's range for every baseline: "-100%" of a
    metric that cannot go negative, or an absolute change as wide as the range."""
    if gate.percent:
        return gate.direction == "-" and gate.amount >= 100 and spec.low >= 0
    return gate.amount >= spec.high - spec.low


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
                                  f"\"+0.05\", got {values.described(expression)}")
        gate = RelativeGate(capability, metric, match[1], float(match[2]), bool(match[3]), match[4] or "point")
        _check_relative(gate, registry[capability][metric], f"{where}: [baseline] {key}")
        gates[gate.id] = gate
    return gates


@dataclass(frozen=True)
class GateConfig:
    """All configured gates: the `absolute` ones (a threshold on one metric) and the `relative` ones (a bound
    on the change from a stored baseline), each by id, and where they were read from."""

    absolute: Mapping[str, Gate]
    source: str
    relative: Mapping[str, RelativeGate] = field(default_factory=dict)
    graded_by: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (path glob, capabilities), in config order

    def grading(self, model: Path) -> tuple[tuple[str, ...], str] | None:
        """The capabilities `[graded_by]` names for a brought model's path (matched as given, absolute, or by
        folder name) and the rule that matched; None when no rule matches."""
        for pattern, capabilities in self.graded_by:
            if any(fnmatch(candidate, pattern) for candidate in (str(model), str(model.resolve()), model.name)):
                return capabilities, f"{self.source} [graded_by] {pattern!r}"
        return None

    def for_capability(self, capability: str) -> list[Gate]:
        """The gates of one capability, in config order."""
        return [g for g in self.absolute.values() if g.capability == capability]

    def to_dict(self) -> dict[str, str]:
        """Effective thresholds as `{gate id: "OP THRESHOLD"}` (for results.json)."""
        return {**{gid: g.expression for gid, g in self.absolute.items()},
                **{gid: g.bound for gid, g in self.relative.items()}}


def parse_graded_by(table: Any, grading: Collection[str], where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The `[graded_by]` table: `"<path glob>" = ["capability", ...]`, each a capability that grades a model."""
    if not isinstance(table, Mapping):
        raise GateConfigError(f"{where}: [graded_by] must be a table of \"<adapter path glob>\" = [\"old_task\", ...]")
    rules = []
    for pattern, names in table.items():
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise GateConfigError(f"{where}: [graded_by] {pattern!r}: expected a list of capability names, "
                                  f"got {names!r}")
        if unknown := [n for n in names if n not in grading]:
            raise GateConfigError(f"{where}: [graded_by] {pattern!r}: {', '.join(unknown)} cannot grade a model "
                                  f"you bring; these can: {', '.join(sorted(grading))}")
        rules.append((pattern, tuple(names)))
    return tuple(rules)


def gate_config_from_mapping(raw: Mapping[str, Any], registry: Mapping[str, Mapping[str, MetricSpec]],
                             where: str, defaults: Mapping[str, Mapping[str, Any]] | None = None,
                             grading: Collection[str] = ()) -> GateConfig:
    """Build a GateConfig from `{capability: {metric: expression}}`, checking every key against `registry`;
    `defaults` supplies the table of a capability the mapping does not name (a capability's default gates);
    `grading` names the capabilities a `[graded_by]` rule may list."""
    gates: dict[str, Gate] = {}
    relative = parse_relative_gates(raw.get("baseline", {}), registry, where)
    graded_by = parse_graded_by(raw.get("graded_by", {}), grading, where)
    tables = [(capability, table, where) for capability, table in raw.items()
              if capability not in ("baseline", "graded_by")]
    tables += [(capability, table, f"default gates of capability {capability}")
               for capability, table in (defaults or {}).items() if capability not in raw]
    for capability, table, source in tables:
        if capability not in registry:
            raise GateConfigError(f"{source}: unknown capability {capability!r}; known: {sorted(registry)}")
        if not isinstance(table, Mapping):
            raise GateConfigError(f"{source}: [{capability}] must be a table of metric = \"OP THRESHOLD\"")
        for metric, expression in table.items():
            if metric not in registry[capability]:
                raise GateConfigError(f"{source}: unknown metric {capability}.{metric}; "
                                      f"known: {sorted(registry[capability])}")
            gate = parse_gate(capability, metric, expression, registry[capability][metric], source)
            if gate:
                gates[gate.id] = gate
    return GateConfig(gates, where, relative, graded_by)


def gate_config_source(explicit: str | Path | None, rootdir: Path, fixtures: Path) -> str | None:
    """Where `load_gate_config` reads from (`--gates FILE`, the pyproject section, the data folder's
    gates.toml), or None when there is no gate config (reads at most pyproject.toml)."""
    if explicit:
        return str(explicit)
    if pyproject_gates(rootdir) is not None:
        return f"{rootdir / 'pyproject.toml'} [tool.tunegate.gates]"
    default = DataFolder(fixtures).gates
    return str(default) if default.is_file() else None


def load_gate_config(explicit: str | Path | None, rootdir: Path, fixtures: Path,
                     registry: Mapping[str, Mapping[str, MetricSpec]],
                     defaults: Mapping[str, Mapping[str, Any]] | None = None, grading: Collection[str] = ()
                     ) -> GateConfig:
    """Read gates from `--gates FILE`, else `[tool.tunegate.gates]` in pyproject.toml, else fixtures/gates.toml;
    capabilities the file does not name take their `defaults`; `grading`: see `gate_config_from_mapping`."""
    if explicit:
        return gate_config_from_mapping(_read_toml(Path(explicit)), registry, str(explicit), defaults, grading)
    section = pyproject_gates(rootdir)
    if section is not None:
        return gate_config_from_mapping(section, registry, f"{rootdir / 'pyproject.toml'} [tool.tunegate.gates]",
                                        defaults, grading)
    default = DataFolder(fixtures).gates
    return gate_config_from_mapping(_read_toml(default), registry, str(default), defaults, grading)


def pyproject_gates(rootdir: Path) -> Mapping[str, Any] | None:
    """`[tool.tunegate.gates]` of the rootdir's pyproject.toml, None when there is none; `tool` and `tool.tunegate`
    that are not tables, a key of `[tool.tunegate]` other than `gates`, or `gates` that is not a table is an error
    naming the file and key."""
    pyproject = rootdir / "pyproject.toml"
    if not pyproject.is_file():
        return None
    node: Any = read_toml(pyproject, GateConfigError, "pyproject.toml")
    for key in ("tool", "tool.tunegate"):
        node = node.get(key.rsplit(".", 1)[-1], {})
        values.table(node, key, str(pyproject), GateConfigError)
    if unknown := sorted(set(node) - {"gates"}):
        raise GateConfigError(f"{pyproject} [tool.tunegate]: unknown key(s) {unknown}; known: ['gates'] (the "
                              "other settings are pytest options: addopts in [tool.pytest.ini_options])")
    return None if "gates" not in node else values.table(node["gates"], "tool.tunegate.gates", str(pyproject),
                                                  GateConfigError)


def _read_toml(path: Path) -> dict[str, Any]:
    """A gate config file's document; a missing file is `GateConfigMissing`, anything else unreadable an error."""
    if not path.exists():
        raise GateConfigMissing(f"{path}: gate config file not found")
    return read_toml(path, GateConfigError, "gate config TOML file")
