"""One tunegate pytest session, outside the plugin's wiring: the effective settings, the capability registry,
the gate config, the run record being filled, the shared request cache and the stored baseline; running a
capability (evaluate, check its gates, record), and the end of the run (worker parts merged, environment
captured, results.json and report.html written, history and baseline).

`harness.plugin` creates a `SessionState` in `pytest_configure` and keeps it in `config.stash[STATE]`
(`harness.plugin.settings`); the session fixtures (`harness.plugin.fixtures`) and the suites read it from there.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.capabilities import CapabilityRegistry
from harness.foundation.errors import InputError, OutputError
from harness.foundation.records import CapabilityResult, GateResult, MetricValue, Sample
from harness.gating.baselines import capability_verdicts, drift_gate_ids, load_baseline
from harness.gating.gate_config import GateConfig
from harness.gating.results import RunInfo, RunRecord, add_counts, new_run_id, now, point_latest, write_results
from harness.gating.verdict import GATED_TESTS, UNJUDGED, configured_gate_ids, run_verdict, unevaluated_gates
from harness.model.prompted import PromptedModel
from harness.model.requests import RequestCache
from harness.model.sets import ComparedModels, ModelSet
from harness.plugin.settings import Settings
from harness.report.html import write_html
from harness.report.markdown import publish_step_summary, write_summary
from harness.report.run_end import (
    INTERRUPTED_BY_SIGNAL,
    RunArtifacts,
    append_audit_history,
    environment,
    preview_audit_trend,
    save_baseline_if_allowed,
    take_history_rows,
)
from harness.report.trend import earlier_runs


@dataclass(repr=False)
class SessionState:
    """Everything the plugin keeps for one pytest session (stored in `config.stash`)."""

    settings: Settings
    capabilities: CapabilityRegistry
    gates: GateConfig
    record: RunRecord
    artifacts: RunArtifacts = field(default_factory=RunArtifacts)
    requests: RequestCache = field(default_factory=RequestCache)
    baseline: dict | None = None  # the stored baseline of --baseline
    results: dict[str, CapabilityResult] = field(default_factory=dict)  # each judged capability's deciding result
    clock_started: float = field(default_factory=time.perf_counter)

    def __repr__(self) -> str:  # a traceback that shows the `tunegate` fixture must not print every result
        return f"<tunegate session: {len(self.results)} capabilities measured, {len(self.record.gates)} verdicts>"

    def gate_ids(self, capability: str) -> list[str]:
        """The ids of the verdicts a capability's suite yields: its configured gates and, under --baseline, its
        `[baseline]` gates and (when it compares greedy outputs) one `[drift]` gate each on its outputs."""
        ids = [g.id for g in self.gates.for_capability(capability)]
        if self.baseline is not None:
            ids += [g.id for g in self.gates.relative.values() if g.capability == capability]
            if self.capabilities[capability].compares_outputs:
                ids += drift_gate_ids(self.gates.absolute, capability)
        return ids

    def evaluate(self, capability: str, models: Any, data: Any) -> tuple[CapabilityResult, dict[str, GateResult]]:
        """Run a registered capability on `models` and `data` and check its gates; nothing is recorded."""
        return self.capabilities[capability].run(self.gates.for_capability(capability), models, data, self.settings)

    def judge(self, capability: str, models: Any, data: Any) -> dict[str, GateResult]:
        """Evaluate a capability, record its metrics, samples and run sections, and return its verdicts (with
        its `[baseline]` and `[drift]` gates under --baseline) by gate id; the result stays in `results`."""
        started = time.perf_counter()
        result, verdicts = self.evaluate(capability, models, data)
        self.record.run.timings.setdefault("capabilities_s", {})[capability] = round(time.perf_counter() - started, 3)
        self.results[capability] = result
        self._record_compared(capability, models)
        return self.conclude(capability, result, verdicts)

    def _record_compared(self, capability: str, models: Any) -> None:
        """Name, in `run.compared`, the two models a capability set side by side (`base` and `tuned`): which
        adapter (or full model) "tuned" is for this capability, since suites grade different ones."""
        if not isinstance(models, ComparedModels):
            return
        first, second = models.pair()
        if not (hasattr(first, "model_id") and hasattr(second, "model_id")):  # fakes in tests name no weights
            return
        same: dict[str, list[str]] = {}
        for name, info in self.record.run.adapters.items():
            same.setdefault(info["sha256"], []).append(name)
        known = {sha: f"adapter {names[0]}" + (f" (same weights as {', '.join(names[1:])})" if names[1:] else "")
                 for sha, names in ((sha, sorted(names, key=lambda n: ("-" in n, n))) for sha, names in same.items())}
        if isinstance(tuned_model := self.record.run.sections.get("tuned_model"), dict):
            known[tuned_model["sha256"]] = "the --tuned-model"

        def label(model: Any) -> str:
            parts = str(model.model_id).split("+")
            names = [known[p] for p in parts[1:] if p in known] or [known.get(parts[0], "")]
            return " + ".join(n for n in names if n) or ("the base model" if model is first else model.name)
        compared = self.record.run.sections.setdefault("compared", {})
        compared[capability] = {"base": label(first), "tuned": label(second)}
        if isinstance(models, ModelSet) and isinstance(prompted := models.prompted, PromptedModel):
            compared[capability]["prompted"] = f"{label(prompted.model)} told in its prompt what the adapter learned"

    def record_gate(self, result: GateResult) -> None:
        """Keep a gate verdict for results.json, the report and the terminal summary."""
        self.record.gates.append(result)

    def enforce(self, result: GateResult) -> None:
        """Record a gate verdict and fail the calling test with its message when the gate failed."""
        self.record_gate(result)
        if not result.passed:  # the message is the whole story: no traceback of the test's (large) arguments
            pytest.fail(result.message, pytrace=False)

    def enforce_gate(self, verdicts: Mapping[str, GateResult], gate_id: str) -> None:
        """Enforce the verdict `gate_id` of a capability's `verdicts`; a gate with no verdict (its metric was
        left out: its data is absent) skips its test with the reason the evaluation gave."""
        if gate_id in verdicts:
            return self.enforce(verdicts[gate_id])
        capability, _, metric = gate_id.removeprefix("baseline.").partition(".")
        result = self.results.get(capability)
        why = result.unmeasured.get(metric) if result is not None else None
        pytest.skip(why or "not measured: its metric was not measured in this run")

    def record_metrics(self, metrics: list[MetricValue]) -> None:
        """Keep measured metrics."""
        self.record.metrics += metrics

    def record_samples(self, samples: list[Sample]) -> None:
        """Keep before/after samples."""
        self.record.samples += samples

    def record_run(self, section: str, value: Any) -> None:
        """Set one section of results.json's `run` header (e.g. `audit`, `shadow`)."""
        self.record.run.set_section(section, value)

    def conclude(self, capability: str, result: CapabilityResult, verdicts: dict[str, GateResult]
                 ) -> dict[str, GateResult]:
        """Record a capability's metrics, samples and run sections; return its verdicts plus, under --baseline,
        its `[baseline]` gates and (for a capability with greedy outputs) its `[drift]` gates."""
        self.record_metrics(list(result.metrics))
        self.record_samples(list(result.samples))
        for section, value in result.run.items():
            self.record_run(section, value)
        if self.baseline is None:
            return verdicts
        compared, drift_metrics, changed = capability_verdicts(
            self.baseline, capability, list(result.metrics), list(result.samples), self.gates,
            self.capabilities[capability].compares_outputs)
        self.record_metrics(drift_metrics)
        self.record_samples(changed)
        return {**verdicts, **compared}

    @property
    def run_id(self) -> str:
        """The run's id (the record's header holds it)."""
        return self.record.run.id

    @property
    def run_dir(self) -> Path:
        """reports/<run id>/."""
        return self.settings.report_dir / self.run_id

    def write_worker_part(self, worker_id: str) -> None:
        """A pytest-xdist worker's record, for the controller to merge (nothing when it recorded nothing, ran no
        gated test and did not stop on bad input)."""
        self.record.run.request_cache = self._request_counts()
        if not self.record.is_empty or {"bad_input", UNJUDGED, GATED_TESTS} & set(self.record.run.sections):
            write_results(self.run_dir / "parts" / worker_id, self.record)

    def _request_counts(self) -> dict[str, int]:
        """This process's answer-cache figures: answers reused, computed, and found stored by earlier runs."""
        return {"hits": self.requests.hits, "misses": self.requests.misses, "from_earlier_runs": self.requests.stored}

    def merge_worker_parts(self) -> None:
        """Merge every worker's part into this (the controller's) record and remove the parts."""
        for part in sorted((self.run_dir / "parts").glob("*/results.json")):
            self.record.merge(RunRecord.from_dict(json.loads(part.read_text())))
        shutil.rmtree(self.run_dir / "parts", ignore_errors=True)

    def finish(self, exit_status: int) -> int | None:
        """End the run (controller), most valuable output first: complete the run header (with the audit's
        run-after-run trend, read from the history and this run's rows) and write results.json, report.html and
        summary.md (atomically, each once); then append the audit history, point reports/latest at the run and
        save the baseline when asked and allowed. A step that fails
        is reported (`artifacts.end_errors`) without undoing what was written before it. Returns a new exit
        status (4) when a step failed or a refused --save-baseline must fail the run, 1 when the verdict fails a run
        pytest passed, else None. A run that ran no suite test writes no report; one whose suite tests judged
        nothing writes a FAIL report saying why. A Ctrl-C during these writes stops them with one line
        (`artifacts.interrupted`) and exit status 130."""
        try:
            return self._finish(exit_status)
        except KeyboardInterrupt:
            self.artifacts.interrupted = self.artifacts.interruption()
            return INTERRUPTED_BY_SIGNAL

    def _finish(self, exit_status: int) -> int | None:
        """`finish` itself."""
        s = self.settings
        judged_nothing = self.record.run.sections.get(GATED_TESTS) and exit_status in (pytest.ExitCode.OK,
                                                                                          pytest.ExitCode.TESTS_FAILED)
        if self.record.is_empty and not judged_nothing:  # no suite test ran to its end: no report
            if s.save_baseline:
                self.artifacts.baseline = save_baseline_if_allowed(s.save_baseline, self.record, exit_status, False)
            return None
        rows = take_history_rows(self.record)
        verdict_status = self._complete_header(exit_status)
        artifacts, errors = self.artifacts, self.artifacts.end_errors
        history = s.history  # always set by the plugin; None only for Settings built by hand
        previewed = bool(rows) and history is not None and _attempt(
            artifacts, "", lambda: preview_audit_trend(self.record, history, rows))
        if _attempt(artifacts, "", self._write_reports):
            self.artifacts.report = self.run_dir / "report.html"
            if previewed and history is not None:
                _attempt(artifacts, str(history), lambda: append_audit_history(history, rows))
            _attempt(artifacts, f"{s.report_dir / 'latest'}", lambda: point_latest(s.report_dir, self.run_dir))
            _attempt(artifacts, "", lambda: publish_step_summary(self.run_dir / "summary.md"))
        if s.save_baseline:
            artifacts.step = f"baseline {s.save_baseline}"
            outcome = save_baseline_if_allowed(s.save_baseline, self.record, exit_status, s.save_baseline_anyway)
            self.artifacts.baseline = outcome
            if not outcome.saved and outcome.refused:
                return pytest.ExitCode.USAGE_ERROR
        return pytest.ExitCode.USAGE_ERROR if errors else verdict_status

    def _write_reports(self) -> None:
        """results.json, then report.html (with the earlier runs beside it; one that cannot be read is left out and
        named in `artifacts.end_warnings`) and summary.md, each atomically: a failed write leaves no partial file
        and raises an OutputError naming the file."""
        earlier, skipped = earlier_runs(self.settings.report_dir, self.run_id)
        self.artifacts.end_warnings += skipped
        for name, write in (("results.json", lambda: write_results(self.run_dir, self.record)),
                            ("report.html", lambda: write_html(self.run_dir, self.record,
                                                               self.capabilities.report_sections(), earlier)),
                            ("summary.md", lambda: write_summary(self.run_dir, self.record))):
            self.artifacts.step = str(self.run_dir / name)
            try:
                write()
                self.artifacts.written.append(str(self.run_dir / name))
            except OSError as err:
                raise OutputError(f"{self.run_dir / name}: not written ({err.strerror or err}); the files written "
                                  "before it and every earlier run's reports are unchanged") from err

    def _complete_header(self, exit_status: int) -> int | None:
        """The run header's end: the gates not judged and the verdict, time and status, environment, effective
        config, the request cache's figures and the total time. Returns exit status 1 when the verdict fails a
        run pytest passed (nothing judged, or a gate not judged under --require-all-gates), else None."""
        s = self.settings
        run = self.record.run
        has_baseline = self.baseline is not None
        run.not_evaluated = unevaluated_gates(self.gates, self.record, has_baseline)
        verdict = run_verdict(self.record, configured_gate_ids(self.gates, has_baseline), s.require_all_gates)
        run.verdict = verdict.to_dict()
        failed_by_verdict = exit_status == 0 and not verdict.passed
        if failed_by_verdict:
            exit_status = pytest.ExitCode.TESTS_FAILED
        run.end(now(), exit_status)
        for name, value in environment(s.rootdir).items():
            setattr(run, name, value)
        run.config = {"rootdir": str(s.rootdir), "base_model": s.base_model,
                      "adapter": str(s.adapter) if s.adapter else None,
                      "fixtures": str(s.fixtures), "cache_dir": str(s.cache_dir), "gates_source": self.gates.source,
                      "gates": self.gates.to_dict(), "ci": os.environ.get("CI")}
        run.request_cache = add_counts(run.request_cache, self._request_counts())  # workers' counts merged in
        run.timings["total_s"] = round(time.perf_counter() - self.clock_started, 3)
        return pytest.ExitCode.TESTS_FAILED if failed_by_verdict else None


def _attempt(artifacts: RunArtifacts, name: str, step: Callable[[], Any]) -> bool:
    """Run one end-of-run step (writing `name`, kept in `artifacts.written` once done; '' for a step that names
    its own files); a write that fails (disk full, no permission, unreadable history) is appended to
    `artifacts.end_errors` as one line instead of ending the session, so the steps after it still run."""
    if name:
        artifacts.step = name
    try:
        step()
    except (OSError, InputError) as err:
        artifacts.end_errors.append(f"{err.filename}: {err.strerror}" if isinstance(err, OSError) and err.filename
                                    else str(err))
        return False
    if name:
        artifacts.written.append(name)
    return True


def new_run_record(run_id: str | None, settings: Settings, command: list[str]) -> tuple[RunRecord, dict | None]:
    """A new run record (a pytest-xdist worker takes the controller's `run_id`) and the stored baseline of
    --baseline (None without); a missing baseline raises `BaselineError`."""
    stored = load_baseline(settings.baseline) if settings.baseline else None
    record = RunRecord(RunInfo(run_id or new_run_id(), now(), command=command))
    if settings.baseline and stored is not None:
        record.run.baseline = {"name": settings.baseline.stem, "path": str(settings.baseline), "run": stored["run"]}
    return record, stored

