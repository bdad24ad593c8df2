"""Each gate across runs: the earlier reports beside this run (`reports/<run>/results.json`), read back for one
chart per gate (its own threshold; each run's point green where the gate passed, red where it failed), failed
gates first and none left out, the model each run judged, and a line for every gate that passed in the previous
run and fails now. Why the model: an adapter brought with --adapter that fails must not read as the built-in
adapter regressing."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from harness.foundation.errors import InputError, read_json
from harness.foundation.records import GateResult
from harness.foundation.textfiles import read_text_file
from harness.gating.results import RunRecord
from harness.gating.shapes import LIST, NUMBER_OR_NULL, OBJECT, TEXT, TRUTH, check_fields, shown
from harness.report.charts import Panel, Threshold, small_multiples
from harness.report.markup import cell, plural, table

SHOWN_RUNS = 20  # the newest earlier runs read back


@dataclass(frozen=True)
class EarlierRun:
    """One earlier run's verdicts, as read from its results.json: gate id -> (value, passed), and the model it
    judged."""

    id: str
    started: str
    status: str
    gates: dict[str, tuple[float, bool]]
    model: str = ""


def run_model(run: dict[str, Any]) -> str:
    """The model a run judged, by name and digest: the adapters the user brought, else the run's first adapter
    (the built-in identity adapter), else a --tuned-model's folder ('' when none is recorded)."""
    adapters = run.get("adapters") or {}
    chosen = [name for name, info in adapters.items() if info.get("roles")] or list(adapters)[:1]
    if chosen:
        return ", ".join(f"{name} {str(adapters[name].get('sha256', ''))[:8]}".strip() for name in chosen)
    tuned = (run.get("sections") or {}).get("tuned_model")
    return f"full model {Path(tuned['path']).name}" if isinstance(tuned, dict) and tuned.get("path") else ""


def earlier_runs(reports_dir: Path, current: str, limit: int = SHOWN_RUNS) -> tuple[list[EarlierRun], list[str]]:
    """The newest `limit` runs in `reports_dir` other than `current`, oldest first, and one line for each
    results.json among them that was left out (not JSON, not tunegate's, or a value of the wrong type: another
    tool's file or a hand edit must not break every later report). A run folder without a results.json
    (interrupted, or not a run) is passed over without a word."""
    if not reports_dir.is_dir():
        return [], []
    folders = [d for d in reports_dir.iterdir() if d.is_dir() and not d.is_symlink() and d.name != current
               and (d / "results.json").is_file()]
    folders.sort(key=lambda d: (d / "results.json").stat().st_mtime, reverse=True)
    runs, skipped = [], []
    for folder in folders[:limit]:
        try:
            runs.append(read_earlier_run(folder / "results.json"))
        except (OSError, InputError) as err:
            skipped.append(f"{err}; left out of this report's history (another tool's file, or an edited one)")
    return sorted(runs, key=lambda r: r.started), skipped


def read_earlier_run(path: Path) -> EarlierRun:
    """One earlier run's verdicts from its results.json; an InputError naming the file and key when the file is
    not a tunegate results.json or holds a value of the wrong type."""
    data = read_json(path, read_text_file(path, InputError, "results.json file"), InputError)
    if not isinstance(data, dict):
        raise InputError(f"{path}: holds {shown(data)}, expected a tunegate results.json (an object)")
    check_fields(path, "", data, {"run": OBJECT, "gates": LIST}, InputError, ("run", "gates"))
    check_fields(path, "run", data["run"], {"started": TEXT, "status": TEXT, "adapters": OBJECT}, InputError)
    for name, info in data["run"].get("adapters", {}).items():
        check_fields(path, "run.adapters", {name: info}, {name: OBJECT}, InputError)
    for index, gate in enumerate(data["gates"]):
        if not isinstance(gate, dict):
            raise InputError(f"{path}: key gates[{index}] is {shown(gate)}, expected an object")
        check_fields(path, f"gates[{index}]", gate, GATE_KEYS, InputError, tuple(GATE_KEYS))
    run = data["run"]
    return EarlierRun(path.parent.name, run.get("started", ""), run.get("status", ""),
                      {g["id"]: (g["value"], g["passed"]) for g in data["gates"]},
                      run_model(run))


GATE_KEYS = {"id": TEXT, "value": NUMBER_OR_NULL, "passed": TRUTH}


def _tick(run_id: str, started: str) -> str:
    """'11-24 09:40' from an ISO start time, else the run id."""
    return started[5:16].replace("T", " ") if len(started) >= 16 else run_id


def _gates_to_chart(record: RunRecord, earlier: list[EarlierRun]) -> list[GateResult]:
    """This run's gates that earlier runs also measured: failed ones first, then by the margin to the
    threshold relative to it (closest first)."""
    def margin(g: GateResult) -> float:
        return abs(g.value - g.threshold) / max(abs(g.threshold), 1e-9)
    known = [g for g in record.gates if any(g.id in r.gates for r in earlier)]
    return sorted(known, key=lambda g: (g.passed, margin(g)))


def newly_failing(record: RunRecord, earlier: list[EarlierRun]) -> str:
    """One line naming the gates that passed in the previous run and fail now ('' when none), with both runs'
    models when they differ: 'passed in the previous run (11-24 09:40, identity d0bd5abc), fail now (this run
    judged noise 487e7e4e): old_task.exact_match, ...'."""
    if not earlier:
        return ""
    previous = earlier[-1]
    flipped = [g.id for g in record.gates if not g.passed and previous.gates.get(g.id, (None, False))[1]]
    if not flipped:
        return ""
    now_model = run_model(record.run.to_dict())
    models = (f", {previous.model}), fail now (this run judged {now_model})" if previous.model != now_model
              else "), fail now")
    return (f"{plural(len(flipped), 'gate')} passed in the previous run ({_tick(previous.id, previous.started)}"
            f"{models}: {', '.join(flipped)}")


def history_section(record: RunRecord, earlier: list[EarlierRun]) -> str:
    """'History': per gate, its value run after run against its own threshold, the lines of gates that passed
    last time and fail now, and a table of the earlier reports (linked, relative to this report) with the model
    each judged; '' when there is no earlier run."""
    if not earlier:
        return ""
    ticks: dict[float, str] = {i: _tick(r.id, r.started) for i, r in enumerate(earlier)}
    ticks[len(earlier)] = "this run"
    panels = []
    for gate in _gates_to_chart(record, earlier):
        points = [(i, r.gates[gate.id][0]) for i, r in enumerate(earlier) if gate.id in r.gates]
        panels.append(Panel(gate.id, {"value": [*points, (len(earlier), gate.value)]},
                            Threshold(gate.threshold, f"threshold {gate.op} {gate.threshold:g}", gate.op)))
    charts = small_multiples(panels, "run", "value", "each gate run after run", x_ticks=ticks)
    rows = []
    for r in reversed(earlier):
        failed = [gid for gid, (_, ok) in r.gates.items() if not ok]
        rows.append(f"<tr><td><a href='../{escape(r.id)}/report.html'>{escape(r.id)}</a></td>{cell(r.started)}"
                    f"{cell(r.model)}{cell(r.status)}{cell(f'{len(r.gates) - len(failed)}/{len(r.gates)}', 'num')}"
                    f"{cell(', '.join(failed))}</tr>")
    line = newly_failing(record, earlier)
    changes = f"<p class='fail'>{escape(line)}</p>" if line else ""
    headers = ["run", "started", "model", "status", "gates passed", "failed gates"]
    return (f"<h2 id='history'>History</h2>{changes}<details><summary>{plural(len(earlier), 'earlier run')} in this "
            f"reports folder: one chart per gate, this run's failed gates first</summary>{charts}"
            f"{table(headers, rows)}</details>")
