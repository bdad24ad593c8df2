"""`report.html`: one self-contained file (inline CSS, SVG charts and one filter script, no network assets); all
model text escaped. Verdict first: the failed gates with their reasons and links to the items behind them; then
one section per capability (folded to its verdict when it passes), the run-level panels, history and the header."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

from harness.foundation.cache import atomic_write_text
from harness.foundation.records import GateResult, MetricValue
from harness.gating.results import RunRecord
from harness.report.evidence import EvidenceIndex, evidence_blocks, items_table
from harness.report.figures import figure, interval
from harness.report.filters import script_tag
from harness.report.markdown import headline, run_identity
from harness.report.markup import cell, plural, relative, run_root, table
from harness.report.naming import judged_models, nightly_answer
from harness.report.panels import training_section
from harness.report.samples import COLUMN_SETS, stacked_row_css
from harness.report.trend import EarlierRun, earlier_runs, history_section, newly_failing
from harness.report.verdict_box import evidence_link, failed_gates_box, gate_anchor

CSS = """
html{scroll-padding-top:3rem}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0 2rem 2rem;color:#111;max-width:1200px;
 overflow-wrap:break-word}
h1{font-size:1.5rem;margin:.6rem 0 .2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
h4{margin:.6rem 0 .2rem;font-size:.9rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pass{color:#047857;font-weight:600} .fail{color:#b91c1c;font-weight:600} .why{color:#555;font-size:.78rem}
.headline{font-size:1.1rem;font-weight:600;margin:.3rem 0}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:.3rem;color:#fff;font-weight:700}
.badge.pass{background:#047857;color:#fff} .badge.fail{background:#b91c1c;color:#fff}
.badge.partial{background:#92400e;color:#fff}
tr.bad{background:#fef2f2} code,.mono{font-family:ui-monospace,Menlo,monospace;font-size:.8rem;overflow-wrap:break-word}
ins{background:#bbf7d0;text-decoration:none} del{background:#fecaca;text-decoration:none}
details{margin:.5rem 0} .meta td:first-child{width:14rem;color:#555} .compared{color:#444;font-size:.9rem}
.scroll{overflow-x:auto;max-width:100%}
nav.top{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid #ddd;padding:.45rem 0;
 white-space:nowrap;font-size:.85rem;scrollbar-width:none}
nav.top a{margin-right:.7rem} nav.top a.fail{color:#b91c1c;font-weight:700}
.verdict{border:2px solid #b91c1c;border-radius:.4rem;padding:.3rem .8rem;margin:1rem 0;background:#fff7f7}
.verdict h2{margin-top:.3rem} .verdict td.cause{color:#333} .verdict .more{display:none}
details.section>summary{cursor:pointer;list-style-position:inside;padding:.2rem 0}
details.section>summary h2{display:inline;border:none}
details.evidence{border-left:3px solid #ddd;padding-left:.6rem}
details.evidence>summary{cursor:pointer;overflow-wrap:anywhere}
p.group,p.back{font-size:.85rem;margin:.3rem 0}
table.samples td:first-child{font-family:ui-monospace,Menlo,monospace;font-size:.8rem}
.filters{margin:.3rem 0;display:flex;gap:.5rem;flex-wrap:wrap;align-items:center;font-size:.85rem}
figure.chart{margin:.5rem 0;max-width:100%;overflow-x:auto} figure.chart figcaption{font-size:.85rem;font-weight:600}
.charts{display:flex;gap:1rem;flex-wrap:wrap} ul.legend{list-style:none;padding:0;margin:.3rem 0;font-size:.8rem;
 display:flex;flex-wrap:wrap;gap:.3rem 1rem} .swatch{display:inline-block;margin-right:.3rem;vertical-align:middle;
 line-height:0}
.panels{display:flex;gap:1.5rem;flex-wrap:wrap} .panel{flex:1;min-width:min(360px,100%)}
.capped tr.beyond{display:none} button.show-all{margin:.2rem 0}
@media (max-width:600px){body{margin:0 .6rem .6rem} .verdict thead{display:none}
 .verdict tr,.verdict td{display:block;border:none;padding:.1rem 0}
 .verdict tr{border-top:1px solid #e5b4b4;padding:.4rem 0} .verdict tr.extra{display:none}
 .verdict .more{display:block} #verdict-all:target tr.extra{display:block} #verdict-all:target .more{display:none}
 table.samples thead{display:none} table.samples tr{display:block;border-top:2px solid #ddd;padding:.3rem 0}
 table.samples td{display:block;border:none;padding:.1rem 0} table.samples td:empty{display:none}
 table.samples td::before{color:#555;font-size:.75rem} table.samples td.num{text-align:left;white-space:normal}}
"""


KEY_FIGURES = 2  # gate values shown beside a folded section's verdict


def _gate_rows(record: RunRecord, capability: str, index: EvidenceIndex) -> list[str]:
    return [f'<tr id="{gate_anchor(g.id)}" class="{"" if g.passed else "bad"}">{cell(g.id)}'
            f'{cell(figure(g.value), "num")}{cell(g.requirement, "num")}{cell(interval(g.ci_low, g.ci_high), "num")}'
            f'{cell(figure(g.mde, 3), "num")}{cell(g.verdict, "pass" if g.passed else "fail")}'
            f'{evidence_link(index, g)}{cell(g.message + (f"; note: {g.note}" if g.note else ""))}</tr>'
            for g in record.gates if g.capability == capability]


def _not_evaluated(record: RunRecord) -> str:
    """The configured gates this run did not judge, with the reason (never hidden)."""
    entries = record.run.not_evaluated
    if not entries:
        return ""
    rows = [f"<tr>{cell(e['id'])}{cell(e['reason'])}</tr>" for e in entries]
    return (f"<details><summary>{plural(len(entries), 'configured gate')} not judged</summary>"
            + table(["gate", "why"], rows) + "</details>")


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
    seen = list(dict.fromkeys(checkpoint for by_checkpoint in pivot.values() for checkpoint in by_checkpoint))
    columns = sorted(seen, key=lambda c: (c != "base", c == "tuned"))  # base, others as measured, tuned
    rows: dict[bool, list[str]] = {True: [], False: []}
    first, last = ("base", "tuned") if {"base", "tuned"} <= set(seen) else (*columns[-2:],) if len(columns) > 1 \
        else ("", "")  # the audit: its last two checkpoints
    for name, by_checkpoint in pivot.items():
        base, tuned = by_checkpoint.get(first), by_checkpoint.get(last)
        change = figure(tuned.value - base.value) if base and tuned else ""
        n = next(m.n for m in by_checkpoint.values())
        cells = "".join(cell(_with_ci(by_checkpoint.get(c)), "num") for c in columns)
        rows["[" in name].append(f"<tr>{cell(name)}{cells}{cell(change, 'num')}"
                                 f"{cell(n if n is not None else '', 'num')}</tr>")
    headers = ["metric", *(f"{c} [95% CI]" for c in columns), f"change ({last} − {first})" if first else "change",
               "n"]
    html = table(headers, rows[False]) if rows[False] else ""
    if rows[True]:
        breakdown = {name: by for name, by in pivot.items() if "[" in name}
        shown = (_by_part(breakdown, last or columns[-1]) if len(rows[True]) > BREAKDOWN_ROWS
                 else table(headers, rows[True]))
        html += f"<details><summary>{plural(len(rows[True]), 'breakdown figure')}</summary>{shown}</details>"
    return html


BREAKDOWN_ROWS = 20  # a longer breakdown (per layer) becomes one row per part, one column per figure


def _by_part(breakdown: dict[str, dict[str, MetricValue]], checkpoint: str) -> str:
    """`figure[part]` metrics as a part x figure table of `checkpoint`'s values (14 layers x 5 figures, not 70
    rows)."""
    grid: dict[str, dict[str, str]] = {}
    for name, by_checkpoint in breakdown.items():
        figure_name, part = name[:-1].split("[", 1)
        metric = by_checkpoint.get(checkpoint) or next(iter(by_checkpoint.values()))
        grid.setdefault(part, {})[figure_name] = _with_ci(metric)
    names = list(dict.fromkeys(n for row in grid.values() for n in row))
    rows = [f"<tr>{cell(part, 'mono')}" + "".join(cell(row.get(n, ''), "num") for n in names) + "</tr>"
            for part, row in grid.items()]
    return table(["part", *(f"{n} ({checkpoint})" for n in names)], rows)


def _compared(record: RunRecord, capability: str) -> str:
    """What 'base' and 'tuned' are in this capability's section (suites grade different adapters)."""
    pair = (record.run.sections.get("compared") or {}).get(capability)
    if not pair:
        return ""
    prompted = f" &middot; prompted = {escape(pair['prompted'])}" if pair.get("prompted") else ""
    return f"<p class='compared'>base = {escape(pair['base'])} &middot; tuned = {escape(pair['tuned'])}{prompted}</p>"


def _key_figures(gates: list[GateResult]) -> str:
    """The figures beside a folded section's verdict: its failed gates worst first, else its newest part's gates
    (the audit's newest checkpoint), else its first gates."""
    failed = sorted((g for g in gates if not g.passed), key=lambda g: -(g.severity or 0.0))
    newest = [g for g in gates if g.part and g.part == gates[-1].part] if gates and gates[-1].part else []
    shown = (failed or newest or gates)[:KEY_FIGURES]
    return "".join(f" &middot; <span class='{'fail' if not g.passed else ''}'>{escape(g.id.split('.', 1)[1])} "
                   f"{figure(g.value)}</span>" for g in shown)


def _capability_section(record: RunRecord, capability: str, index: EvidenceIndex, panel: bool = False) -> str:
    """Gates (each linked to its items), the models compared, base vs tuned metrics, the evidence behind each
    gate (folded, with its counts: a link into it unfolds it) and every item; folded to its verdict and key
    figures when every gate passes. `panel`: the page has a run-level panel of this capability
    (`#panel-<capability>`: charts, matrices), linked here."""
    gates = [g for g in record.gates if g.capability == capability]
    passed = all(g.passed for g in gates)
    word = "PASS" if passed else "FAIL"
    verdict = f" <span class='{word.lower()}'>{word}</span>" if gates else ""
    count = f" &middot; {sum(g.passed for g in gates)}/{len(gates)} gates pass" if gates else ""
    headers = ["gate", "value", "threshold [rule]", "95% CI", "MDE (80% power)", "verdict", "evidence", "message"]
    return (f"<details class='section'{'' if passed else ' open'}><summary><h2 id='{escape(capability)}'>"
            f"{escape(capability)}{verdict}</h2>{count}{_key_figures(gates)}</summary>{_compared(record, capability)}"
            + (f"<p><a href='#panel-{escape(capability)}'>charts and matrices of {escape(capability)}</a></p>"
               if panel else "")
            + (table(headers, _gate_rows(record, capability, index)) if gates else "")
            + _side_by_side(record, capability) + evidence_blocks(gates, index) + items_table(capability, index)
            + "<p class='back'><a href='#top'>back to the verdict</a></p></details>")


def _identity(record: RunRecord) -> str:
    """What was judged (base, adapters, commit, versions, duration) and the command that reproduces the run."""
    versions = " ".join(f"{k} {v}" for k, v in (record.run.versions or {}).items())
    command = shlex.join(record.run.command)  # pasted into a shell, it runs the same argv
    return (f"<p class='mono'>{escape(' · '.join(run_identity(record)[1:]))}</p>"
            + (f"<p class='mono'>{escape(versions)} &middot; {escape(str(record.run.device or ''))}</p>"
               if versions else "")
            + (f"<p>reproduce: <code>{escape(command)}</code></p>" if command else ""))


def _judged(record: RunRecord) -> str:
    """The model the user brought, by folder and path, and the audit's nightly answer, under the headline."""
    lines = [f"judged: {escape(relative(line, run_root(record)))}" for line in judged_models(record)]
    if answer := nightly_answer(record):
        lines.append(f"<b>{escape(answer)}</b>")
    return "".join(f"<p class='mono'>{line}</p>" for line in lines)


def _readable(value: object, root: str, depth: int = 0) -> str:
    """A run-header value as escaped HTML people read: mappings as `key: value` lines (nested ones indented),
    lists comma-separated, numbers as figures, paths relative to the run's folder; a long mapping is folded."""
    if isinstance(value, dict):
        body = "".join(f"<div style='margin-left:{depth}rem'><b>{escape(str(k))}</b>: "
                       f"{_readable(v, root, depth + 1)}</div>" for k, v in value.items())
        return f"<details><summary>{len(value)} entries</summary>{body}</details>" if len(value) > 8 else body
    if isinstance(value, list):
        return escape(relative(", ".join(str(v) for v in value), root))
    if isinstance(value, float):
        return figure(value)
    return escape(relative(str(value), root))


def _flipped(record: RunRecord, earlier: Sequence[EarlierRun]) -> str:
    """The gates that passed in the previous run and fail now, in one line under the headline (with a link to the
    history)."""
    line = newly_failing(record, list(earlier))
    return f"<p class='fail'>{escape(line)} (<a href='#history'>history</a>)</p>" if line else ""


def _meta_section(record: RunRecord) -> str:
    """The run header (identity, environment, config, timings) as readable rows, not JSON blobs; folded."""
    root = run_root(record)
    rows = [f"<tr>{cell(key)}<td>{_readable(value, root)}</td></tr>"
            for key, value in record.run.to_dict().items()
            if key not in {"training", "sequences", "audit", "not_evaluated", "compared"}
            and value not in (None, [], {})]
    return (f"<details class='section'><summary><h2 id='run'>Run</h2> &middot; {len(rows)} entries: commit, "
            "versions, configuration, timings</summary><div class='scroll'><table class='meta'><tbody>"
            f"{''.join(rows)}</tbody></table></div></details>")


def _navigation(record: RunRecord, capabilities: list[str], has_history: bool) -> str:
    """The sticky bar: back to the verdict, each capability (failing ones in red), history, the training loss
    curves, run."""
    failing = {g.capability for g in record.gates if not g.passed}
    links = [("top", "verdict", bool(failing)), *((c, c, c in failing) for c in capabilities),
             *([("history", "history", False)] if has_history else []), ("panel-training", "loss curves", False),
             ("run", "run", False)]
    return ("<nav class='top scroll' aria-label='sections'>"
            + "".join(f"<a href='#{escape(target)}'{' class=fail' if bad else ''}>{escape(label)}</a>"
                      for target, label, bad in links) + "</nav>")


def render_html(record: RunRecord, sections: Sequence[Callable[[RunRecord], str]] = (),
                earlier: Sequence[EarlierRun] = ()) -> str:
    """The whole report as one HTML string: the sticky navigation, the verdict and the failed gates worst first,
    every capability's section, the extra `sections` (the capability registry's: strategy comparison, audit,
    ...), training, the gates across the `earlier` runs, and the run header."""
    word, _, detail = headline(record).partition(": ")
    kind = "fail" if word.startswith("FAIL") else "pass" if word == "PASS" else "partial"
    capabilities = list(dict.fromkeys([g.capability for g in record.gates] + [m.capability for m in record.metrics]
                                      + [s.capability for s in record.samples]))
    panels = "".join(section(record) for section in sections) + training_section(record)
    index = EvidenceIndex(record)
    COLUMN_SETS.clear()
    body = [_navigation(record, capabilities, bool(earlier)),
            f"<h1 id='top'>tunegate report <span class='badge {kind}'>{escape(word)}</span></h1>",
            f"<p class='headline'>{escape(detail)}</p>{_judged(record)}{_flipped(record, earlier)}"
            f"{failed_gates_box(record, index)}"
            f"<p class='mono'>run {escape(record.run.id)} &middot; "
            f"{sum(g.passed for g in record.gates)}/{len(record.gates)} verdicts passed</p>{_identity(record)}"
            f"{_not_evaluated(record)}",
            *(_capability_section(record, c, index, f"id='panel-{c}'" in panels) for c in capabilities),
            panels, history_section(record, list(earlier)), _meta_section(record)]
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>tunegate report</title>"
            f"<style>{CSS}{stacked_row_css(COLUMN_SETS)}</style></head><body>{''.join(body)}{script_tag()}"
            "</body></html>\n")


def write_html(run_dir: Path, record: RunRecord, sections: Sequence[Callable[[RunRecord], str]] = (),
               earlier: Sequence[EarlierRun] | None = None) -> Path:
    """Write `report.html` (see `render_html`) atomically into `run_dir`, with the trend over `earlier` runs (by
    default those beside it in the same reports folder that can be read); returns its path."""
    path = Path(run_dir) / "report.html"
    if earlier is None:
        earlier = earlier_runs(Path(run_dir).parent, Path(run_dir).name)[0]
    atomic_write_text(path, render_html(record, sections, earlier))
    return path
