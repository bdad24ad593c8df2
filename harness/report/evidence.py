"""Each gate's evidence in report.html: exactly the items its n counts, split by their part in its verdict (fail /
pass, or lost / gained / both right / both wrong for a paired difference), the rows that matter shown (worst
first, capped) and the rest one click away in the capability's item table, filtered to the gate.

Why per gate and from each item's recorded part (`harness.measures.item_gates`): a capability's items bear on several
gates (a held-out probe counts for the claim rate, the leak rate and the gain over the prompted base), so grouping
by capability or by "the metric an item failed" lists items that do not add up to the gate's n.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from harness.foundation.records import GateResult, Sample
from harness.gating.results import RunRecord
from harness.measures.item_gates import ROLE_ORDER, against, role, shortfall
from harness.report.markup import anchor, plural
from harness.report.samples import outcome, rows_table

EVIDENCE_ROWS = 10  # rows of one group shown in a gate's evidence; all of them are in the item table
SHOWN_ROLES = {"fail", "lost", "gained"}  # the groups listed row by row: what fails and what makes a difference
FAILING_ROLES = {"fail", "lost"}
ROLE_WORDS = {"fail": "fail", "pass": "pass", "lost": "lost: right before, wrong now",
              "gained": "gained: wrong before, right now", "both right": "right in both", "both wrong": "wrong in both"}


def items_anchor(capability: str) -> str:
    """The id of a capability's table of every item."""
    return anchor("items", capability)


class EvidenceIndex:
    """The samples of a run by capability and its gates by (capability, metric, part): a gate's items, each
    item's failing gates and each gate's anchor are then dictionary look-ups, however large the run."""

    def __init__(self, record: RunRecord) -> None:
        self.samples: dict[str, list[Sample]] = {}
        for s in record.samples:
            self.samples.setdefault(s.capability, []).append(s)
        self.gates = {(g.capability, g.metric, g.part): g for g in record.gates}
        self._items: dict[str, list[tuple[Sample, str]]] = {}  # by gate id: the verdict box, the gate's row and
        # its evidence block all ask

    def items(self, gate: GateResult) -> list[tuple[Sample, str]]:
        """(sample, its role) for every item `gate` counts: the samples of its capability (and part) that
        recorded a part in its metric; those of an evaluator that records no part per gate (a plug-in's) by
        their `passed` flag. Computed once per gate."""
        if gate.id not in self._items:
            self._items[gate.id] = self._collect(gate)
        return self._items[gate.id]

    def _collect(self, gate: GateResult) -> list[tuple[Sample, str]]:
        out = []
        for s in self.samples.get(gate.capability, []):
            parts = s.score.get("gates")
            if s.score.get("checkpoint", "") != gate.part or (parts is not None and gate.metric not in parts):
                continue
            if parts is not None:
                out.append((s, role(parts[gate.metric], gate.op, gate.threshold)))
            elif "previous" not in s.score:
                out.append((s, "pass" if s.score.get("passed", True) else "fail"))
        return out

    def changed(self, gate: GateResult) -> list[Sample]:
        """The audit's rows for `gate`'s checkpoint: the items it changed since the stage before (`previous`)."""
        return [s for s in self.samples.get(gate.capability, []) if "previous" in s.score
                and "gates" not in s.score and s.score.get("checkpoint", "") == gate.part]

    def failing(self, sample: Sample) -> list[str]:
        """The gates (metric names) `sample` counts against: those its part fails or loses."""
        if "gates" not in sample.score:
            return [] if sample.score.get("passed", True) else [str(sample.score.get("metric", ""))]
        part = sample.score.get("checkpoint", "")
        out = []
        for metric, recorded in sample.score["gates"].items():
            gate = self.gates.get((sample.capability, metric, part))
            if gate is not None and role(recorded, gate.op, gate.threshold) in FAILING_ROLES:
                out.append(metric)
        return out

    def key(self, gate: GateResult) -> str:
        """The anchor of `gate`'s evidence block; '' when no item bears on it."""
        return anchor("evidence", gate.id) if self.items(gate) or self.changed(gate) else ""


def _worst_first(samples: list[Sample], gate: GateResult) -> list[Sample]:
    """The samples, those with a per-item figure ordered from the worst side of the gate."""
    def distance(sample: Sample) -> float:
        part = sample.score.get("gates", {}).get(gate.metric)
        if isinstance(part, bool) or not isinstance(part, (int, float)):
            return 0.0
        return shortfall(gate.op, gate.threshold, part)
    return sorted(samples, key=distance, reverse=True)


def _table_link(gate: GateResult, only: str = "") -> str:
    """A link to the capability's item table that filters it to `gate` (and to its failing items with `only`)."""
    return (f"<a href='#{items_anchor(gate.capability)}' data-gate='{escape(gate.metric)}' data-only='{only}'>"
            "the item table</a>")


def _listed(title: str, rows: list[Sample], index: EvidenceIndex, link: str, prompted: bool = False) -> str:
    """A titled table of the first EVIDENCE_ROWS rows, and where the rest are."""
    more = (f"<p class='group'>the first {EVIDENCE_ROWS} of {len(rows)}, worst first; all of them in {link}</p>"
            if len(rows) > EVIDENCE_ROWS else "")
    table = rows_table(rows[:EVIDENCE_ROWS], index.failing, prompted=prompted)
    return f"<h4>{escape(title)} ({len(rows)})</h4>{table}{more}"


def _by_part(gate: GateResult, pairs: list[tuple[Sample, str]], index: EvidenceIndex) -> tuple[str, str]:
    """(summary, body) of a gate whose items recorded their part: counts by role that add up to n, the failing,
    lost and gained rows listed, the others counted; the prompted base's answers where the gate compares with it."""
    groups = {r: _worst_first([s for s, got in pairs if got == r], gate) for r in ROLE_ORDER}
    groups = {r: v for r, v in groups.items() if v}
    versus = against(pairs[0][0].score.get("gates", {}), gate.metric)
    paired = any(r in groups for r in ("lost", "gained", "both right", "both wrong"))
    parts = [f"<b>{len(v)} {r}</b>" if r in FAILING_ROLES else f"{len(v)} {r}" for r, v in groups.items()]
    summary = " · ".join(parts) + (f" · of n = {gate.n}" if gate.n is not None else "") + (
        f" (against the {escape(versus)})" if paired and versus != "base" else "")
    body = "".join(
        _listed(ROLE_WORDS[r], v, index, _table_link(gate, "fail" if r in FAILING_ROLES else ""), versus == "prompted")
        if r in SHOWN_ROLES else f"<p class='group'>{escape(ROLE_WORDS[r])} ({len(v)}): in {_table_link(gate)}</p>"
        for r, v in groups.items())
    return summary, body


def _by_change(gate: GateResult, changed: list[Sample], index: EvidenceIndex) -> tuple[str, str]:
    """(summary, body) of an audit gate: the items its checkpoint lost and gained since the stage before (the
    audit keeps only the items that changed)."""
    lost = [s for s in changed if outcome(s) == "regressed"]
    gained = [s for s in changed if outcome(s) == "gained"]
    since = changed[0].score.get("previous", "the stage before")
    summary = (f"<b>{plural(len(lost), 'item')} lost</b> · {len(gained)} gained since {escape(str(since))} "
               f"(the items this checkpoint changed{f'; n = {gate.n}' if gate.n is not None else ''})")
    link = f"<a href='#{items_anchor(gate.capability)}'>the item table</a>"
    body = "".join(_listed(title, rows, index, link) for title, rows in (
        ("lost: right before, wrong now", lost), ("gained: wrong before, right now", gained)) if rows)
    return summary, body


def evidence_block(gate: GateResult, index: EvidenceIndex) -> str:
    """The folded evidence of one gate (its summary holds the counts, which add up to the gate's n), or ''."""
    if pairs := index.items(gate):
        (summary, body), counted = _by_part(gate, pairs, index), len(pairs)
    elif changed := index.changed(gate):
        (summary, body), counted = _by_change(gate, changed, index), len(changed)
    else:
        return ""
    return (f"<details class='evidence' id='{anchor('evidence', gate.id)}' data-counted='{counted}'>"
            f"<summary>evidence for {escape(gate.id)}: {summary}</summary>{body}"
            "<p class='back'><a href='#top'>back to the verdict</a></p></details>")


def evidence_blocks(gates: Sequence[GateResult], index: EvidenceIndex) -> str:
    """The evidence of each of `gates`, failed gates first."""
    return "".join(evidence_block(g, index) for g in sorted(gates, key=lambda g: g.passed))


def items_table(capability: str, index: EvidenceIndex) -> str:
    """Every item of a capability in one filterable table (folded, with its counts)."""
    samples = index.samples.get(capability, [])
    if not samples:
        return ""
    failing = sum(bool(index.failing(s)) for s in samples)
    return (f"<details class='items'><summary>all items of {escape(capability)} ({len(samples)}, {failing} "
            f"failing a gate)</summary>{rows_table(samples, index.failing, items_anchor(capability), filters=True)}"
            "</details>")
