"""Typed, versioned run records -> `reports/<run_id>/results.json` (the contract in DESIGN.md).

Every record type of a run lives here so that evaluators, gates and the report share one vocabulary without
importing each other.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.cache import atomic_write_text

SCHEMA_VERSION = 1


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
    measurement's CI and n, its minimum detectable change at 80% power (`mde`) and a power `warning`."""

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

    @property
    def requirement(self) -> str:
        """The threshold as shown to people, e.g. '>= 0.85 beyond noise'."""
        return f"{self.op} {self.threshold:.4g}" + ("" if self.rule == "point" else f" {self.rule}")

    @property
    def verdict(self) -> str:
        """'PASS' or 'FAIL', marked '(underpowered)' when the gate cannot resolve its threshold."""
        return ("PASS" if self.passed else "FAIL") + (" (underpowered)" if self.warning else "")


@dataclass
class RunRecord:
    """Everything one `pytest suites/` run measured, gated and sampled."""

    run: dict[str, Any]
    metrics: list[MetricValue] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when nothing was measured (e.g. a run of the harness's own tests)."""
        return not (self.metrics or self.gates or self.samples)

    def merge(self, other: RunRecord) -> None:
        """Add another record's metrics, gates, samples and run details (a pytest-xdist worker's part).

        Workers that computed the same session-level result record it twice; the first copy is kept.
        """
        self.metrics = _unique(self.metrics + other.metrics, lambda m: (m.capability, m.name, m.checkpoint))
        self.gates = _unique(self.gates + other.gates, lambda g: g.id)
        self.samples = _unique(self.samples + other.samples, lambda s: (s.capability, s.id))
        for key, value in other.run.items():
            if isinstance(value, dict):
                self.run[key] = {**value, **self.run.get(key, {})}
            else:
                self.run.setdefault(key, value)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, with NaN written as null."""
        return nan_to_none({"schema_version": SCHEMA_VERSION, "run": self.run,
                             "metrics": [asdict(m) for m in self.metrics],
                             "gates": [asdict(g) for g in self.gates],
                             "samples": [asdict(s) for s in self.samples]})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Inverse of `to_dict`; refuses documents of another schema version."""
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"results schema_version {data.get('schema_version')!r} is not {SCHEMA_VERSION}")
        return cls(run=data["run"], metrics=[MetricValue(**m) for m in data["metrics"]],
                   gates=[GateResult(**g) for g in data["gates"]], samples=[Sample(**s) for s in data["samples"]])


def _unique(items: list, key) -> list:
    """Items in order, dropping later ones whose key was already seen."""
    seen: set = set()
    return [item for item in items if not (key(item) in seen or seen.add(key(item)))]


def nan_to_none(value: Any) -> Any:
    """`value` with every float NaN inside replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nan_to_none(v) for v in value]
    return value


def new_run_id() -> str:
    """A sortable, unique run id: UTC timestamp plus a random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def write_results(run_dir: Path, record: RunRecord) -> Path:
    """Write `results.json` atomically into `run_dir`; returns its path."""
    path = Path(run_dir) / "results.json"
    atomic_write_text(path, json.dumps(record.to_dict(), indent=1, ensure_ascii=False, default=str) + "\n")
    return path


def point_latest(report_root: Path, run_dir: Path) -> None:
    """Make `report_root/latest` a symlink to `run_dir`, replacing the old link atomically."""
    link = Path(report_root) / "latest"
    tmp = Path(report_root) / f".latest-{secrets.token_hex(4)}"
    os.symlink(Path(run_dir).name, tmp)
    os.replace(tmp, link)
