"""The gate summary printed after the test run: each gate (the failed ones first, worst first), value, threshold
and rule, PASS/FAIL, the minimum detectable change, power warnings, the configured gates not judged (with why), the
model judged, the audit's nightly answer and, last, the headline."""

from __future__ import annotations

from harness.gating.results import RunRecord
from harness.gating.verdict import NO_BASELINE
from harness.report.figures import figure, interval
from harness.report.naming import failed_worst_first, judged_models, nightly_answer


def gate_summary_lines(record: RunRecord, report_path: str | None = None) -> list[tuple[str, dict]]:
    """(text, markup) lines for pytest's terminal writer; markup colours PASS green and FAIL red."""
    lines: list[tuple[str, dict]] = []
    skipped = record.run.not_evaluated
    width = max((len(g.id) for g in record.gates), default=10)
    lines.append((f"{'gate':<{width}}  {'value':>9}  {'95% CI':<16}  {'threshold':<24}  {'MDE':>7}  verdict",
                  {"bold": True}))
    for gate in [*failed_worst_first(record), *(g for g in record.gates if g.passed)]:
        value, mde = figure(gate.value) or "no data", figure(gate.mde, 3)
        ci = interval(gate.ci_low, gate.ci_high)
        lines.append((f"{gate.id:<{width}}  {value:>9}  {ci:<16}  {gate.requirement:<24}  {mde:>7}  {gate.verdict}",
                      {"green": gate.passed, "red": not gate.passed}))
    for label, reason in not_judged_groups(skipped):
        lines.append((f"{label:<{width}}  not judged: {reason}", {"yellow": True}))
    lines.append((counts_line(record), {"bold": True}))
    for gate in record.gates:
        if gate.warning:
            lines.append((f"warning: {gate.id}: {gate.warning}", {"yellow": True}))
        if gate.note:
            lines.append((f"note: {gate.id}: {gate.note}", {"yellow": True}))
    if report_path:
        lines.append((f"report: {report_path}", {}))
    lines += [(f"judged: {line}", {}) for line in judged_models(record)]
    if answer := nightly_answer(record):
        lines.append((answer, {"bold": True}))
    if verdict := record.run.verdict:
        lines.append((f"tunegate {verdict['text']}", {"bold": True, "green": verdict["passed"],
                                                       "red": not verdict["passed"]}))
    return lines


def counts_line(record: RunRecord) -> str:
    """'30 of 33 verdicts passed; 6 configured gates not judged; 7 [baseline]/[drift] gates wait for --baseline',
    saying when verdicts outnumber gates (the audit gives one per checkpoint)."""
    gates = len({g.configured_id for g in record.gates})
    failed = sum(not g.passed for g in record.gates)
    line = f"{len(record.gates) - failed} of {len(record.gates)} verdicts passed"
    if gates != len(record.gates):
        line += f" (on {gates} gates: the audit gives one verdict per checkpoint)"
    waiting = sum(e["reason"] == NO_BASELINE for e in record.run.not_evaluated)
    if missing := len(record.run.not_evaluated) - waiting:
        line += f"; {missing} configured gates not judged"
    return line + (f"; {waiting} [baseline]/[drift] gates wait for --baseline" if waiting else "")


def not_judged_groups(entries: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The gates not judged, one row per capability and reason ('new_task.* (3 gates)') instead of one per gate.

    >>> not_judged_groups([{"id": "audit.a", "reason": "r"}, {"id": "audit.b", "reason": "r"},
    ...                    {"id": "data.c", "reason": "s"}])
    [('audit.* (2 gates)', 'r'), ('data.c', 's')]
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        owner = entry["id"].split(".", 1)[0]
        groups.setdefault((owner, entry["reason"]), []).append(entry["id"])
    return [(ids[0] if len(ids) == 1 else f"{owner}.* ({len(ids)} gates)", reason)
            for (owner, reason), ids in groups.items()]
