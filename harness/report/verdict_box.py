"""The top of a failing report: the failed gates worst first, each with its cause in one line and a link to the
items behind it, and a chart of the failing metrics (value and CI against the threshold, the base beside it).

On a phone the first `PHONE_CARDS` gates show as cards with a count of the rest, which a tap unfolds (CSS
`:target`, no script): a release manager sees the worst news without scrolling past a dozen rows.
"""

from __future__ import annotations

import math
from html import escape

from harness.foundation.records import GateResult
from harness.gating.results import RunRecord
from harness.report.charts import GateBar, gate_bars
from harness.report.evidence import EvidenceIndex
from harness.report.markup import anchor, plural
from harness.report.naming import base_value, cause, failed_worst_first

PHONE_CARDS = 3  # failed gates shown as cards on a phone before "show all"
CHARTED = 12  # failed gates in the chart of failing metrics


def gate_anchor(gate_id: str) -> str:
    """The id of a gate's row in the report (`gate-old_task.exact_match`; brackets and spaces as dashes)."""
    return anchor("gate", gate_id)


def evidence_link(index: EvidenceIndex, gate: GateResult) -> str:
    """A `<td>` linking to the items behind `gate` (empty when none are recorded)."""
    key = index.key(gate)
    return f"<td class='link'><a href='#{key}'>items</a></td>" if key else "<td class='link'></td>"


def failed_gates_box(record: RunRecord, index: EvidenceIndex) -> str:
    """The failed gates, worst first: gate (linked to its row), cause, link to its items; '' when none failed."""
    failed = failed_worst_first(record)
    if not failed:
        return ""
    rows = [f"<tr class='{'extra' if i >= PHONE_CARDS else ''}'><td class='gate'><a href='#{gate_anchor(g.id)}'>"
            f"{escape(g.id)}</a></td><td class='cause'>{escape(cause(record, g))}</td>{evidence_link(index, g)}</tr>"
            for i, g in enumerate(failed)]
    rest = len(failed) - PHONE_CARDS
    more = (f"<p class='more'><a href='#verdict-all'>show all {plural(len(failed), 'failed gate')} "
            f"({rest} more)</a></p>" if rest > 0 else "")
    return (f"<div class='verdict' id='verdict'><div id='verdict-all'><h2>{plural(len(failed), 'failed gate')}, "
            "worst first</h2><div class='scroll'><table><thead><tr><th>gate</th><th>cause</th><th>evidence</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>{more}</div>{failing_chart(record, failed)}</div>")


def failing_chart(record: RunRecord, failed: list[GateResult]) -> str:
    """The failing metrics on their own scales: value with CI against the threshold, the base's value beside."""
    bars = [GateBar(g.id, g.value, g.threshold, g.op,
                    (g.ci_low, g.ci_high) if g.ci_low is not None and g.ci_high is not None else None,
                    base_value(record, g))
            for g in failed[:CHARTED] if not math.isnan(g.value) and math.isfinite(g.threshold)]
    if not bars:
        return ""
    title = "the failing metrics: value and 95% CI against the threshold (shaded: the failing side)"
    return gate_bars(bars, title)
