"""Each gate across runs: the earlier reports beside this run (`reports/<run>/results.json`), read back for a
trend chart per gate with its threshold and a table linking to every earlier report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path

from harness.report.markup import cell, plural, table
from harness.report.plots import Panel, small_multiples
from harness.results import RunRecord

SHOWN_RUNS = 20  # the newest earlier runs read back
SHOWN_GATES = 9  # trend charts: this run's failed gates first, then the gates closest to their threshold


@dataclass(frozen=True)
class EarlierRun:
    """One earlier run's verdicts, as read from its results.json: gate id -> (value, passed)."""

    id: str
    started: str
    status: str
    gates: dict[str, tuple[float, bool]]


def earlier_runs(reports_dir: Path, current: str, limit: int = SHOWN_RUNS) -> list[EarlierRun]:
    """The newest `limit` runs in `reports_dir` other than `current`, oldest first; a run folder without a
    readable results.json (interrupted, or not tunegate's) is passed over."""
    if not reports_dir.is_dir():
        return []
    folders = [d for d in reports_dir.iterdir() if d.is_dir() and not d.is_symlink() and d.name != current
               and (d / "results.json").is_file()]
    folders.sort(key=lambda d: (d / "results.json").stat().st_mtime, reverse=True)
    runs = []
    for folder in folders[:limit]:
        try:
            data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
            runs.append(EarlierRun(folder.name, str(data["run"].get("started", "")), str(data["run"].get("status", "")),
                                   {g["id"]: (g["value"], g["passed"]) for g in data["gates"]}))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(runs, key=lambda r: r.started)


def _tick(run_id: str, started: str) -> str:
    """'11-24 09:40' from an ISO start time, else the run id."""
    return started[5:16].replace("T", " ") if len(started) >= 16 else run_id


def _gates_to_chart(record: RunRecord, earlier: list[EarlierRun]) -> list:
    """This run's gates that earlier runs also measured: failed ones first, then by the margin to the
    threshold relative to it (closest first)."""
    def margin(g) -> float:
        return abs(g.value - g.threshold) / max(abs(g.threshold), 1e-9)
    known = [g for g in record.gates if any(g.id in r.gates for r in earlier)]
    return sorted(known, key=lambda g: (g.passed, margin(g)))[:SHOWN_GATES]


def history_section(record: RunRecord, earlier: list[EarlierRun]) -> str:
    """'History': per gate, its value run after run with the threshold, and a table of the earlier reports
    (linked, relative to this report) with their verdicts; '' when there is no earlier run."""
    if not earlier:
        return ""
    ticks = {i: _tick(r.id, r.started) for i, r in enumerate(earlier)} | {len(earlier): "this run"}
    panels = []
    for gate in _gates_to_chart(record, earlier):
        points = [(i, r.gates[gate.id][0]) for i, r in enumerate(earlier) if gate.id in r.gates]
        panels.append(Panel(gate.id, {"value": [*points, (len(earlier), gate.value)]},
                            (gate.threshold, f"threshold {gate.op} {gate.threshold:g}")))
    charts = small_multiples(panels, "run", "value", "gates run after run", x_ticks=ticks)
    rows = []
    for r in reversed(earlier):
        failed = [gid for gid, (_, ok) in r.gates.items() if not ok]
        rows.append(f"<tr><td><a href='../{escape(r.id)}/report.html'>{escape(r.id)}</a></td>{cell(r.started)}"
                    f"{cell(r.status)}{cell(f'{len(r.gates) - len(failed)}/{len(r.gates)}', 'num')}"
                    f"{cell(', '.join(failed))}</tr>")
    headers = ["run", "started", "status", "gates passed", "failed gates"]
    return (f"<h2 id='history'>History</h2><details><summary>{plural(len(earlier), 'earlier run')} in this "
            f"reports folder</summary>{charts}{table(headers, rows)}</details>")
