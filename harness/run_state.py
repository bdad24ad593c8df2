"""The state of one tunegate pytest session, outside the plugin's wiring: the effective settings, the gate
config, the run record being filled, the shared request cache and the stored baseline.

`harness.plugin` creates a `SessionState` in `pytest_configure` and keeps it in `config.stash[STATE]`; the
session fixtures (`harness.session`) and the suites read it from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.baselines import capability_verdicts
from harness.gates import GateConfig
from harness.model.requests import RequestCache
from harness.results import GateResult, MetricValue, RunRecord, Sample


@dataclass(frozen=True)
class Settings:
    """The effective command-line configuration of one run."""

    rootdir: Path
    fixtures: Path
    base_model: str
    adapter: Path | None
    gates_file: str | None
    report_dir: Path
    cache_dir: Path
    device: str
    dtype: str
    allow_pickle: bool
    ppl_window: int = 256
    ppl_stride: int = 192
    checkpoints: Path | None = None
    history: Path | None = None
    baseline: Path | None = None
    save_baseline: Path | None = None
    save_baseline_anyway: bool = False
    shadow: Path | None = None
    train_seed: int | None = None
    answer_cache: bool = True


@dataclass
class SessionState:
    """Everything the plugin keeps for one pytest session (stored in `config.stash`)."""

    settings: Settings
    gate_config: GateConfig | None  # None: no gate config found (a project that installed tunegate, not using it)
    run_id: str
    record: RunRecord
    artifacts: dict = field(default_factory=dict)
    requests: RequestCache = field(default_factory=RequestCache)
    baseline: dict | None = None  # the stored baseline of --baseline
    gate_config_problem: str = ""  # why gate_config is None

    @property
    def gates(self) -> GateConfig:
        """The gate config; a usage error naming the missing file when there is none (raised where a tunegate
        suite or fixture first needs it, so other projects' tests run unaffected by the installed plugin)."""
        if self.gate_config is None:
            raise pytest.UsageError(self.gate_config_problem)
        return self.gate_config

    def record_gate(self, result: GateResult) -> None:
        """Keep a gate verdict for results.json, the report and the terminal summary."""
        self.record.gates.append(result)

    def enforce(self, result: GateResult) -> None:
        """Record a gate verdict and fail the calling test with its message when the gate failed."""
        self.record_gate(result)
        assert result.passed, result.message

    def record_metrics(self, metrics: list[MetricValue]) -> None:
        """Keep measured metrics."""
        self.record.metrics += metrics

    def record_samples(self, samples: list[Sample]) -> None:
        """Keep before/after samples."""
        self.record.samples += samples

    def conclude(self, capability: str, metrics: list[MetricValue], samples: list[Sample],
                 verdicts: dict[str, GateResult], compares_outputs: bool = False) -> dict[str, GateResult]:
        """Record a capability's metrics and samples; return its verdicts plus, under --baseline, its `[baseline]`
        gates and (for a capability with greedy outputs) its `[drift]` gates, so each is a test item."""
        self.record_metrics(metrics)
        self.record_samples(samples)
        if self.baseline is None:
            return verdicts
        compared, drift_metrics, changed = capability_verdicts(self.baseline, capability, metrics, samples,
                                                               self.gates, compares_outputs)
        self.record_metrics(drift_metrics)
        self.record_samples(changed)
        return {**verdicts, **compared}


STATE = pytest.StashKey[SessionState]()
