"""Typed, versioned run records -> `reports/<run_id>/results.json` (the contract in docs/outputs.md).

A `RunRecord` collects the run header and the metrics, gate verdicts and samples (their types are in
`harness.foundation.records`) of one run; it is written atomically, merged from pytest-xdist workers' parts and
read back.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.foundation.cache import atomic_write_text
from harness.foundation.records import GateResult, MetricValue, Sample

SCHEMA_VERSION = 2  # 2: the run header is a typed RunInfo (status, command, timings); capability sections in it
RUN_STATUSES = ("started", "passed", "failed", "interrupted", "error")


@dataclass
class RunInfo:
    """results.json's `run` header: what ran, where, on which models, how it ended and how long it took.

    `status` is "started" until the run ends, then "passed" (exit status 0), "failed" (gates or tests failed),
    "interrupted" or "error" (usage or internal error). `sections` holds what capabilities add (the sequences'
    matrices, the audit, the shadow adapter); in JSON they sit beside the typed fields.
    """

    id: str
    started: str
    status: str = "started"
    verdict: dict[str, Any] | None = None  # what was judged and the headline (harness.gating.verdict.RunVerdict)
    finished: str | None = None
    exit_status: int | None = None
    command: list[str] = field(default_factory=list)
    git_sha: str | None = None
    host: str | None = None
    python: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    dtype: str | None = None
    base_model: dict[str, Any] | None = None
    adapters: dict[str, dict[str, Any]] = field(default_factory=dict)
    training: dict[str, dict[str, Any]] = field(default_factory=dict)
    trained_side_by_side: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    request_cache: dict[str, int] = field(default_factory=dict)
    not_evaluated: list[dict[str, str]] = field(default_factory=list)
    deselected: int = 0
    errors: int = 0
    sections: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in RUN_STATUSES:
            raise ValueError(f"run status {self.status!r} is not one of {RUN_STATUSES}")
        clash = sorted(set(self.sections) & _RUN_FIELDS)
        if clash:
            raise ValueError(f"run sections {clash} clash with run header fields")

    def set_section(self, name: str, value: Any) -> None:
        """Set a capability's section of the header (e.g. `audit`); a typed field's name is refused."""
        if name in _RUN_FIELDS:
            raise ValueError(f"run section {name!r} clashes with a run header field")
        self.sections[name] = value

    def end(self, finished: str, exit_status: int) -> None:
        """Mark the run ended with pytest's exit status."""
        self.finished, self.exit_status = finished, exit_status
        self.status = {0: "passed", 1: "failed", 2: "interrupted"}.get(exit_status, "error")

    def merge(self, other: RunInfo) -> None:
        """Add a pytest-xdist worker's header: its tables (adapters, training, sections, ...) join this one's
        (this one's entries win), unset values are taken from it, and errors add up."""
        for name in _RUN_FIELDS - {"errors", "deselected", "request_cache"}:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, dict) and isinstance(theirs, dict):
                setattr(self, name, {**theirs, **mine})
            elif mine in (None, [], {}) and theirs not in (None, [], {}):
                setattr(self, name, theirs)
        self.sections = {**other.sections, **self.sections,
                         **{name: {**value, **self.sections[name]} for name, value in other.sections.items()
                            if isinstance(value, dict) and isinstance(self.sections.get(name), dict)}}
        self.errors += other.errors
        self.request_cache = add_counts(self.request_cache, other.request_cache)
        self.deselected = max(self.deselected, other.deselected)  # every worker deselects the same items

    def to_dict(self) -> dict[str, Any]:
        """The JSON header: the typed fields, then the sections beside them."""
        fields_only = {name: getattr(self, name) for name in _FIELD_ORDER}
        return {**fields_only, **self.sections}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunInfo:
        """Inverse of `to_dict`: known keys fill the typed fields, the rest are sections."""
        return cls(**{k: v for k, v in data.items() if k in _RUN_FIELDS},
                   sections={k: v for k, v in data.items() if k not in _RUN_FIELDS})


_FIELD_ORDER = [f.name for f in fields(RunInfo) if f.name != "sections"]
_RUN_FIELDS = frozenset(_FIELD_ORDER)


def add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    """Two count tables added key by key.

    >>> add_counts({"hits": 2, "misses": 1}, {"hits": 3})
    {'hits': 5, 'misses': 1}
    """
    return {key: a.get(key, 0) + b.get(key, 0) for key in {**a, **b}}


@dataclass
class RunRecord:
    """Everything one `pytest suites/` run measured, gated and sampled."""

    run: RunInfo
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
        self.run.merge(other.run)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, with NaN written as null."""
        return nan_to_none({"schema_version": SCHEMA_VERSION, "run": self.run.to_dict(),
                             "metrics": [asdict(m) for m in self.metrics],
                             "gates": [asdict(g) for g in self.gates],
                             "samples": [asdict(s) for s in self.samples]})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Inverse of `to_dict`; refuses documents of another schema version."""
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"results schema_version {data.get('schema_version')!r} is not {SCHEMA_VERSION}")
        return cls(run=RunInfo.from_dict(data["run"]), metrics=[MetricValue(**m) for m in data["metrics"]],
                   gates=[GateResult(**g) for g in data["gates"]], samples=[Sample(**s) for s in data["samples"]])


def _unique(items: list, key) -> list:
    """Items in order, dropping later ones whose key was already seen."""
    seen: set = set()
    kept = []
    for item in items:
        if key(item) not in seen:
            seen.add(key(item))
            kept.append(item)
    return kept


def nan_to_none(value: Any) -> Any:
    """`value` with every float NaN inside replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [nan_to_none(v) for v in value]
    return value


def now() -> str:
    """The current UTC time, ISO 8601 to the second (run start and end, baseline save time)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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
    try:
        os.replace(tmp, link)
    except BaseException:  # a failed or interrupted replace leaves no stray link
        tmp.unlink(missing_ok=True)
        raise
