"""The gate summary printed after the test run: each gate, value, threshold, PASS/FAIL."""

from __future__ import annotations

import math

from harness.results import RunRecord


def gate_summary_lines(record: RunRecord, report_path: str | None = None) -> list[tuple[str, dict]]:
    """(text, markup) lines for pytest's terminal writer; markup colours PASS green and FAIL red."""
    lines: list[tuple[str, dict]] = []
    width = max((len(g.id) for g in record.gates), default=10)
    lines.append((f"{'gate':<{width}}  {'value':>9}  {'threshold':>11}  verdict", {"bold": True}))
    for gate in record.gates:
        value = "no data" if math.isnan(gate.value) else f"{gate.value:.4g}"
        lines.append((f"{gate.id:<{width}}  {value:>9}  {gate.op + ' ' + format(gate.threshold, 'g'):>11}  "
                      f"{'PASS' if gate.passed else 'FAIL'}", {"green": gate.passed, "red": not gate.passed}))
    failed = sum(not g.passed for g in record.gates)
    lines.append((f"{len(record.gates) - failed} of {len(record.gates)} gates passed", {"bold": True,
                                                                                   "red": bool(failed)}))
    if report_path:
        lines.append((f"report: {report_path}", {}))
    return lines
