"""`report.html`: one self-contained file (inline CSS and SVG, no network assets); all model text escaped."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from harness.cache import atomic_write_text
from harness.report.svg import loss_chart
from harness.results import RunRecord, Sample

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#111;max-width:1200px}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pass{color:#047857;font-weight:600} .fail{color:#b91c1c;font-weight:600}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:.3rem;color:#fff;font-weight:700}
.badge.pass{background:#047857;color:#fff} .badge.fail{background:#b91c1c;color:#fff}
tr.bad{background:#fef2f2} code,.mono{font-family:ui-monospace,Menlo,monospace;font-size:.8rem}
details{margin:.5rem 0} .meta td:first-child{width:14rem;color:#555}
"""


def _cell(value: object, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape(str(value))}</td>"


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def _table(headers: Sequence[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _gates_section(record: RunRecord) -> str:
    rows = []
    for g in record.gates:
        verdict = "PASS" if g.passed else "FAIL"
        rows.append(f'<tr class="{"" if g.passed else "bad"}">{_cell(g.id)}{_cell(_num(g.value), "num")}'
                    f'{_cell(f"{g.op} {g.threshold:g}", "num")}{_cell(verdict, verdict.lower())}'
                    f'{_cell(g.message)}</tr>')
    return "<h2>Gates</h2>" + _table(["gate", "value", "threshold", "verdict", "message"], rows)


def _metrics_section(record: RunRecord) -> str:
    rows = [f"<tr>{_cell(m.capability)}{_cell(m.name)}{_cell(m.checkpoint)}{_cell(_num(m.value), 'num')}"
            f"{_cell(_num(m.ci_low), 'num')}{_cell(_num(m.ci_high), 'num')}{_cell(m.n or '', 'num')}</tr>"
            for m in record.metrics]
    if not rows:
        return ""
    return "<h2>Metrics</h2>" + _table(["capability", "metric", "checkpoint", "value", "95% CI low",
                                        "95% CI high", "n"], rows)


def _samples_section(capability: str, samples: list[Sample]) -> str:
    rows = []
    for s in sorted(samples, key=lambda s: s.score.get("passed", True)):  # failing rows first
        passed = s.score.get("passed", True)
        verdict = "ok" if passed else "miss"
        rows.append(f'<tr class="{"" if passed else "bad"}">{_cell(s.id, "mono")}{_cell(s.score.get("kind", ""))}'
                    f'{_cell(s.prompt)}{_cell(s.base_output)}{_cell(s.tuned_output)}'
                    f'{_cell(verdict, "pass" if passed else "fail")}</tr>')
    failing = sum(not s.score.get("passed", True) for s in samples)
    return (f"<h2>{escape(capability)}: before / after ({len(samples)} probes, {failing} failing)</h2>"
            + _table(["probe", "kind", "prompt", "base answer", "tuned answer", "verdict"], rows))


def _training_section(record: RunRecord) -> str:
    charts = []
    for name, training in record.run.get("training", {}).items():
        chart = loss_chart(training.get("log", []), f"{name}: training loss")
        summary = {k: training.get(k) for k in ("train_seconds", "steps", "examples", "final_loss") if k in training}
        charts.append(f"<div>{chart or '<p>no loss log</p>'}<p class='mono'>{escape(json.dumps(summary))}</p></div>")
    return "<h2>Training</h2>" + ("".join(charts) if charts else "<p>No adapter was trained in this run.</p>")


def _meta_section(record: RunRecord) -> str:
    rows = [f"<tr>{_cell(key)}{_cell(json.dumps(value, ensure_ascii=False, default=str))}</tr>"
            for key, value in record.run.items() if key != "training"]
    return f'<h2>Run</h2><table class="meta"><tbody>{"".join(rows)}</tbody></table>'


def render_html(record: RunRecord) -> str:
    """The whole report as one HTML string."""
    passed = all(g.passed for g in record.gates)
    badge = f'<span class="badge {"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</span>'
    by_capability: dict[str, list[Sample]] = {}
    for sample in record.samples:
        by_capability.setdefault(sample.capability, []).append(sample)
    body = [f"<h1>tunegate report {badge}</h1>",
            f"<p class='mono'>run {escape(str(record.run.get('id', '')))} &middot; "
            f"{sum(g.passed for g in record.gates)}/{len(record.gates)} gates passed</p>",
            _gates_section(record), _metrics_section(record),
            *(_samples_section(cap, rows) for cap, rows in by_capability.items()),
            _training_section(record), _meta_section(record)]
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>tunegate report</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write_html(run_dir: Path, record: RunRecord) -> Path:
    """Write `report.html` atomically into `run_dir`; returns its path."""
    path = Path(run_dir) / "report.html"
    atomic_write_text(path, render_html(record))
    return path
