"""`report.html`: one self-contained file (inline CSS, SVG and one filter script, no network assets); all model
text escaped."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from html import escape
from pathlib import Path

from harness.cache import atomic_write_text
from harness.records import MetricValue, Sample
from harness.report.figures import figure, interval
from harness.report.filters import script_tag
from harness.report.markdown import run_identity
from harness.report.svg import heatmap, line_chart, loss_chart
from harness.results import RunRecord

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
.scroll{overflow-x:auto;max-width:100%} nav a.fail{color:#b91c1c;font-weight:700}
.verdict{border:2px solid #b91c1c;border-radius:.4rem;padding:.3rem .8rem;margin:1rem 0;background:#fff7f7}
details.section>summary{cursor:pointer;list-style-position:outside} details.section>summary h2{display:inline}
.filters{margin:.3rem 0;display:flex;gap:.5rem;flex-wrap:wrap;align-items:center;font-size:.85rem}
@media (max-width:600px){body{margin:.6rem}}
"""


def _cell(value: object, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape(str(value))}</td>"


def _table(headers: Sequence[str], rows: Iterable[str], cls: str = "") -> str:
    """A table in a box that scrolls sideways on a narrow screen instead of widening the page."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    attr = f" class='{cls}'" if cls else ""
    return (f"<div class='scroll'><table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            "</table></div>")


def gate_anchor(gate_id: str) -> str:
    """The id of a gate's row in the report (`gate-old_task.exact_match`; brackets and spaces as dashes)."""
    return "gate-" + "".join(c if c.isalnum() or c in "._-" else "-" for c in gate_id)


def _gate_rows(record: RunRecord, capability: str) -> list[str]:
    rows = []
    for g in (g for g in record.gates if g.capability == capability):
        rows.append(f'<tr id="{gate_anchor(g.id)}" class="{"" if g.passed else "bad"}">{_cell(g.id)}'
                    f'{_cell(figure(g.value), "num")}'
                    f'{_cell(g.requirement, "num")}{_cell(figure(g.mde, 3), "num")}'
                    f'{_cell(g.verdict, "pass" if g.passed else "fail")}{_cell(g.message)}</tr>')
    return rows


def _not_evaluated(record: RunRecord) -> str:
    """The configured gates this run did not evaluate, with the reason (never hidden)."""
    entries = record.run.not_evaluated
    if not entries:
        return ""
    rows = [f"<tr>{_cell(e['id'])}{_cell(e['reason'])}</tr>" for e in entries]
    return (f"<details><summary>{len(entries)} configured gates not evaluated</summary>"
            + _table(["gate", "why"], rows) + "</details>")


def _with_ci(metric: MetricValue | None) -> str:
    if metric is None:
        return ""
    ci = f" {interval(metric.ci_low, metric.ci_high)}" if metric.ci_low is not None else ""
    return figure(metric.value) + ci


def _side_by_side(record: RunRecord, capability: str) -> str:
    """Every checkpoint's value of each metric of `capability` in one row (base first, tuned last, any
    comparison such as a naive sequence between), with the base -> tuned change; per-layer and per-group
    figures (names with brackets) folded into a details block."""
    pivot: dict[str, dict[str, MetricValue]] = {}
    for m in record.metrics:
        if m.capability == capability:
            pivot.setdefault(m.name, {})[m.checkpoint] = m
    seen = {checkpoint for by_checkpoint in pivot.values() for checkpoint in by_checkpoint}
    columns = sorted(seen, key=lambda c: (c != "base", c == "tuned", c))
    rows: dict[bool, list[str]] = {True: [], False: []}
    for name, by_checkpoint in pivot.items():
        base, tuned = by_checkpoint.get("base"), by_checkpoint.get("tuned")
        change = figure(tuned.value - base.value) if base and tuned else ""
        n = next(m.n for m in by_checkpoint.values())
        cells = "".join(_cell(_with_ci(by_checkpoint.get(c)), "num") for c in columns)
        rows["[" in name].append(f"<tr>{_cell(name)}{cells}{_cell(change, 'num')}"
                                 f"{_cell(n if n is not None else '', 'num')}</tr>")
    headers = ["metric", *(f"{c} [95% CI]" for c in columns), "change", "n"]
    html = _table(headers, rows[False]) if rows[False] else ""
    if rows[True]:
        html += (f"<details><summary>{_plural(len(rows[True]), 'breakdown figure')}</summary>"
                 f"{_table(headers, rows[True])}</details>")
    return html


OUTCOMES = {(True, False): "regressed", (False, True): "gained", (True, True): "unchanged right",
            (False, False): "unchanged wrong"}  # (base correct, tuned correct) -> outcome class


def outcome(sample: Sample) -> str:
    """regressed / gained / unchanged right / unchanged wrong where both models' correctness is known, else ""."""
    return OUTCOMES.get((sample.score.get("base_correct"), sample.score.get("tuned_correct")), "")


def _answer_cell(text: str, correct: object) -> str:
    """A model's answer with a right (✓) / wrong (✗) mark where its correctness is known."""
    mark = {True: "<span class='pass'> ✓</span>", False: "<span class='fail'> ✗</span>"}.get(correct, "")
    return f"<td>{escape(str(text))}{mark}</td>"


def _samples_table(samples: list[Sample]) -> str:
    """Before/after rows, failing first, then regressed: the reference, each model's answer marked right or
    wrong, the outcome class, and whether the row counts as good for the capability's gates (`verdict`)."""
    rank = {"regressed": 0, "unchanged wrong": 1, "gained": 2}
    rows = []
    for s in sorted(samples, key=lambda s: (s.score.get("passed", True), rank.get(outcome(s), 3))):
        passed = s.score.get("passed", True)
        data = (f'data-outcome="{escape(outcome(s))}" data-kind="{escape(str(s.score.get("kind", "")))}" '
                f'data-failing="{0 if passed else 1}"')
        rows.append(f'<tr class="{"" if passed else "bad"}" {data}>{_cell(s.id, "mono")}'
                    f'{_cell(s.score.get("kind", ""))}'
                    f'{_cell(s.prompt)}{_cell(s.reference)}{_answer_cell(s.base_output, s.score.get("base_correct"))}'
                    f'{_answer_cell(s.tuned_output, s.score.get("tuned_correct"))}{_cell(outcome(s))}'
                    f'{_cell("ok" if passed else "miss", "pass" if passed else "fail")}</tr>')
    failing = sum(not s.score.get("passed", True) for s in samples)
    return (f"<details{' open' if failing else ''}><summary>before / after ({len(samples)} items, "
            f"{failing} failing)</summary>"
            + _table(["item", "kind", "prompt", "reference", "base answer", "tuned answer", "outcome", "verdict"],
                     rows, "samples") + "</details>")


def _capability_section(record: RunRecord, capability: str) -> str:
    """Gates, base vs tuned metrics and before/after samples of one capability."""
    gates = _gate_rows(record, capability)
    passed = [g.passed for g in record.gates if g.capability == capability]
    verdict = "" if not passed else f" <span class='{'pass' if all(passed) else 'fail'}'>" \
        f"{'PASS' if all(passed) else 'FAIL'}</span>"
    samples = [s for s in record.samples if s.capability == capability]
    figures = f" &middot; {sum(passed)}/{len(passed)} gates pass" if passed else ""
    return (f"<details class='section'{'' if all(passed) else ' open'}><summary><h2 id='{escape(capability)}'>"
            f"{escape(capability)}{verdict}</h2>{figures}</summary>"
            + (_table(["gate", "value", "threshold [rule]", "MDE (80% power)", "verdict", "message"], gates)
               if gates else "")
            + _side_by_side(record, capability) + (_samples_table(samples) if samples else "") + "</details>")


def _identity(record: RunRecord) -> str:
    """What was judged (base, adapters, commit, duration) and the command that reproduces the run."""
    command = " ".join(record.run.command)
    return (f"<p class='mono'>{escape(' · '.join(run_identity(record)[1:]))}</p>"
            + (f"<p>reproduce: <code>{escape(command)}</code></p>" if command else ""))


def _verdict_header(record: RunRecord) -> str:
    """The failed gates, first thing on the page: gate (linked to its row), value, requirement, CI, reason."""
    failed = [g for g in record.gates if not g.passed]
    if not failed:
        return ""
    rows = [f"<tr><td><a href='#{gate_anchor(g.id)}'>{escape(g.id)}</a></td>{_cell(figure(g.value), 'num')}"
            f"{_cell(g.requirement, 'num')}"
            f"{_cell(interval(g.ci_low, g.ci_high), 'num')}"
            f"{_cell(g.message)}</tr>" for g in failed]
    return (f"<div class='verdict'><h2 style='margin-top:.3rem'>{len(failed)} failed "
            f"gate{'s' if len(failed) > 1 else ''}</h2>"
            + _table(["gate", "value", "required", "95% CI", "reason"], rows) + "</div>")


def strategy_section(record: RunRecord) -> str:
    """Continual-learning sequences side by side: accuracy-matrix heatmaps, ACC / BWT / FWT / forgetting and
    the before/after loss check of each strategy."""
    sequences = record.run.sections.get("sequences") or {}
    if not sequences:
        return ""
    panels = []
    for strategy, seq in sequences.items():
        tasks = seq["tasks"]
        stages = ["base model", *(f"after {t}" for t in tasks[1:])]
        summary = (f"ACC {figure(seq['acc'], 3)} &middot; BWT {figure(seq['bwt'], 3)} &middot; FWT "
                   f"{figure(seq['fwt'], 3)} &middot; forgetting "
                   + ", ".join(f"{escape(t)} {figure(f, 3)}" for t, f in zip(tasks, seq["forgetting"], strict=True)
                               if f is not None and f == f))
        losses = _table(["stage", "base loss before", "after", "base + increment before", "after"],
                        [f"<tr>{_cell(row['task'])}{_cell(figure(row['base_before']), 'num')}"
                         f"{_cell(figure(row['base_after']), 'num')}{_cell(figure(row['mixed_before']), 'num')}"
                         f"{_cell(figure(row['mixed_after']), 'num')}</tr>" for row in seq["losses"]])
        panels.append(f"<div style='flex:1;min-width:360px'><h3>{escape(strategy)}</h3>"
                      f"{heatmap(stages, tasks, seq['matrix'], f'{strategy}: exact match R[stage][task]')}"
                      f"<p class='mono'>{summary}</p>{losses}</div>")
    return ("<h2>Continual learning: strategy comparison</h2><div style='display:flex;gap:1.5rem;flex-wrap:wrap'>"
            + "".join(panels) + "</div>")


def audit_section(record: RunRecord) -> str:
    """The audited run: checkpoint x task heatmap, accuracy and forgetting by step, and across nights."""
    run = record.run.sections.get("audit")
    if not run:
        return ""
    steps = [c["step"] for c in run["checkpoints"]]
    names = ["base model", *(c["name"] for c in run["checkpoints"])]
    by_step = {f"{task} exact match": list(zip(steps, [row[j] for row in run["matrix"][1:]], strict=True))
               for j, task in enumerate(run["tasks"])}
    by_step["max forgetting"] = list(zip(steps, run["forgetting_trend"], strict=True))
    nights = {task: [(i, v) for i, (_, v) in enumerate(values, start=1)]
              for task, values in run.get("nights", {}).items()}
    verdict = (f"first failing checkpoint: <b>{escape(str(run['first_failing']))}</b> &middot; rollback candidate: "
               f"<b>{escape(str(run['rollback_candidate']))}</b>")
    source = record.run.sections.get("checkpoints", {}).get("source")
    verdict += f"<br><span class='mono'>{escape(source)}</span>" if source else ""
    return (f"<h2>Audit: {len(steps)} checkpoints</h2><p>{verdict}</p>"
            f"{heatmap(names, run['tasks'], run['matrix'], 'exact match R[checkpoint][task]')}"
            f"{line_chart(by_step, 'by checkpoint step')}"
            f"{line_chart(nights, 'last checkpoint exact match, run after run', x_label='run')}"
            f"<p class='mono'>history: {escape(run['history'])}</p>")


def _training_section(record: RunRecord) -> str:
    charts = []
    for name, training in record.run.training.items():
        chart = loss_chart(training.get("log", []), f"{name}: training loss")
        summary = {k: training.get(k) for k in ("train_seconds", "steps", "examples", "final_loss") if k in training}
        charts.append(f"<div>{chart or '<p>no loss log</p>'}<p class='mono'>{escape(json.dumps(summary))}</p></div>")
    return "<h2>Training</h2>" + ("".join(charts) if charts else "<p>No adapter was trained in this run.</p>")


def _plural(count: int, noun: str) -> str:
    """`1 breakdown figure`, `3 breakdown figures`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _readable(value: object, depth: int = 0) -> str:
    """A run-header value as escaped HTML people read: mappings as `key: value` lines (nested ones indented),
    lists comma-separated, numbers as figures; a long mapping is folded."""
    if isinstance(value, dict):
        body = "".join(f"<div style='margin-left:{depth}rem'><b>{escape(str(k))}</b>: {_readable(v, depth + 1)}"
                       "</div>" for k, v in value.items())
        return f"<details><summary>{len(value)} entries</summary>{body}</details>" if len(value) > 8 else body
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value))
    if isinstance(value, float):
        return figure(value)
    return escape(str(value))


def _meta_section(record: RunRecord) -> str:
    """The run header (identity, environment, config, timings) as readable rows, not JSON blobs."""
    rows = [f"<tr>{_cell(key)}<td>{_readable(value)}</td></tr>"
            for key, value in record.run.to_dict().items()
            if key not in {"training", "sequences", "audit", "not_evaluated"} and value not in (None, [], {})]
    return f'<h2>Run</h2><div class="scroll"><table class="meta"><tbody>{"".join(rows)}</tbody></table></div>'


def render_html(record: RunRecord, sections: Sequence[Callable[[RunRecord], str]] = ()) -> str:
    """The whole report as one HTML string: every capability's generic section, then the extra `sections`
    (the capability registry's: strategy comparison, audit, ...), training and the run header."""
    passed = all(g.passed for g in record.gates)
    badge = f'<span class="badge {"pass" if passed else "fail"}">{"PASS" if passed else "FAIL"}</span>'
    capabilities = list(dict.fromkeys([g.capability for g in record.gates] + [m.capability for m in record.metrics]
                                      + [s.capability for s in record.samples]))
    failing = {g.capability for g in record.gates if not g.passed}
    links = " &middot; ".join(f"<a href='#{escape(c)}'{' class=fail' if c in failing else ''}>{escape(c)}</a>"
                              for c in capabilities)
    body = [f"<h1>tunegate report {badge}</h1>",
            f"<p class='mono'>run {escape(record.run.id)} &middot; "
            f"{sum(g.passed for g in record.gates)}/{len(record.gates)} gates passed</p>{_identity(record)}"
            f"{_verdict_header(record)}"
            f"{_not_evaluated(record)}<nav>{links}</nav>",
            *(_capability_section(record, c) for c in capabilities),
            *(section(record) for section in sections), _training_section(record), _meta_section(record)]
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>tunegate report</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}{script_tag()}</body></html>\n")


def write_html(run_dir: Path, record: RunRecord, sections: Sequence[Callable[[RunRecord], str]] = ()) -> Path:
    """Write `report.html` (see `render_html`) atomically into `run_dir`; returns its path."""
    path = Path(run_dir) / "report.html"
    atomic_write_text(path, render_html(record, sections))
    return path
