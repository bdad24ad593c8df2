"""`summary.md`: the run's verdict as Markdown for CI pages: the headline (what was judged), the model judged and
the audit's nightly answer, a link to report.html, the failed gates worst first (cause, CI, reason), then every
gate, the gates not judged with their reasons and the run's identity. Written beside report.html and, when
`$GITHUB_STEP_SUMMARY` names a file (GitHub Actions), appended to it so the job page shows the verdict."""

from __future__ import annotations

import os
import re
from pathlib import Path

from harness.foundation.cache import atomic_write_text
from harness.gating.results import RunRecord
from harness.report.figures import figure, interval
from harness.report.naming import cause, failed_worst_first, judged_models, nightly_answer
from harness.report.trend import run_model

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # how an HTML tag, comment or declaration opens
REASON_CHARS = 300  # a failed gate's message is cut here in the table; the report has it whole


def summary_markdown(record: RunRecord) -> str:
    """The Markdown summary of `record` (see the module docstring)."""
    failed = failed_worst_first(record)
    lines = [f"## tunegate {headline(record)}", ""]
    lines += [f"- judged: {_cell(line)}" for line in judged_models(record) or [run_model(record.run.to_dict())]]
    if answer := nightly_answer(record):
        lines.append(f"- **{_cell(answer)}**")
    lines += [f"- report: [report.html](report.html) (beside this file: `reports/{record.run.id}/report.html`)", ""]
    if failed:
        lines += ["### Failed gates, worst first", "", "| gate | cause | 95% CI | reason |", "|---|---|---|---|"]
        lines += [f"| `{g.id}` | {_cell(cause(record, g))} | {interval(g.ci_low, g.ci_high)} | "
                  f"{_cell(_shortened(g.message))} |" for g in failed]
        lines.append("")
    lines += ["<details><summary>every gate</summary>", "", "| gate | value | required | verdict |",
              "|---|---|---|---|"]
    lines += [f"| `{g.id}` | {_number(g.value)} | {_cell(g.requirement)} | {g.verdict} |"
              for g in sorted(record.gates, key=lambda g: g.passed)]
    lines += ["", "</details>", ""]
    if record.run.not_evaluated:
        lines += [f"{len(record.run.not_evaluated)} configured gates not judged:", ""]
        lines += [f"- `{e['id']}`: {_cell(e['reason'])}" for e in record.run.not_evaluated]
        lines.append("")
    cautions = [f"- `{g.id}`: {_cell(text)}" for g in record.gates for text in (g.warning, g.note) if text]
    if cautions:
        lines += ["Warnings and notes:", "", *cautions, ""]
    lines.append(_cell(" · ".join(run_identity(record))))
    return "\n".join(lines) + "\n"


def headline(record: RunRecord) -> str:
    """The run's verdict line ('PASS (partial): 4 of 48 configured gates judged; ...'); for a record written
    before verdicts existed, PASS or FAIL with the gate count."""
    if record.run.verdict:
        return record.run.verdict["text"]
    failed = sum(not g.passed for g in record.gates)
    return f"{'FAIL' if failed else 'PASS'}: {len(record.gates) - failed} of {len(record.gates)} gates passed"


def write_summary(run_dir: Path, record: RunRecord) -> Path:
    """Write `summary.md` atomically into `run_dir`; returns its path."""
    path = Path(run_dir) / "summary.md"
    atomic_write_text(path, summary_markdown(record))
    return path


def publish_step_summary(summary: Path) -> bool:
    """Append `summary` to the file `$GITHUB_STEP_SUMMARY` names (GitHub Actions' job page); False when unset."""
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not step_summary:
        return False
    with open(step_summary, "a", encoding="utf-8") as out:
        out.write(summary.read_text(encoding="utf-8"))
    return True


def run_identity(record: RunRecord) -> list[str]:
    """The run's identity as short plain-text parts: run id, base and adapter digests, git commit, duration."""
    run = record.run
    parts = [f"run {run.id}"]
    if run.base_model:
        parts.append(f"base {run.base_model.get('name')} ({str(run.base_model.get('sha256', ''))[:12]})")
    parts += [f"adapter {name} ({str(info.get('sha256', ''))[:12]})" for name, info in run.adapters.items()
              if not info.get("roles")]  # a brought adapter is named with its path in `judged_models`
    if run.git_sha:
        parts.append(f"commit {run.git_sha[:12]}")
    if total := run.timings.get("total_s"):
        parts.append(f"{total:,.1f} s")
    return parts


def _number(value: float) -> str:
    return figure(value) or "no data"


def _shortened(text: str) -> str:
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1] + "…"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, anything tag-like (`<script`, `</b`)
    neutralised; a comparison such as `<= 0` stays as it reads."""
    return _TAG_START.sub("&lt;", " ".join(str(text).split()).replace("|", "\\|"))
