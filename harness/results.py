"""Typed, versioned run records -> `reports/<run_id>/results.json` (the contract in DESIGN.md).

A `RunRecord` collects the run header and the metrics, gate verdicts and samples (their types are in
`harness.records`) of one run; it is written atomically, merged from pytest-xdist workers' parts and read back.
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
from harness.records import GateResult, MetricValue, Sample

SCHEMA_VERSION = 1


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
