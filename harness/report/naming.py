"""How the run's outputs name what was judged: the model the user brought by its folder (and path), an adapter
the run trained by its role; and the audit's nightly answer. One wording for the terminal, summary.md and
report.html; the failed gates worst first, each with its cause in one line."""

from __future__ import annotations

import math

from harness.foundation.records import GateResult
from harness.gating.gates import severity
from harness.gating.results import RunRecord
from harness.measures.item_gates import shortfall
from harness.report.figures import figure, interval


def judged_models(record: RunRecord) -> list[str]:
    """'adapter aurora-lora at /repo/out/aurora-lora' for each adapter the user brought, 'full model at ...' for a
    --tuned-model, the audited run's folder; nothing for adapters the run trained itself (named by role)."""
    run = record.run
    lines = [f"adapter {name} at {info['path']}" for name, info in run.adapters.items() if info.get("roles")]
    if isinstance(tuned := run.sections.get("tuned_model"), dict):
        lines.append(f"full model at {tuned['path']}")
    if isinstance(checkpoints := run.sections.get("checkpoints"), dict) and checkpoints.get("source"):
        lines.append(f"checkpoints of {checkpoints['source']}")
    return lines


def nightly_answer(record: RunRecord) -> str | None:
    """The audit's answer ('audit: newest checkpoint ... FAILS: broke at ..., roll back to ...'), if audited."""
    audit = record.run.sections.get("audit")
    return audit.get("answer") if isinstance(audit, dict) else None


def failed_worst_first(record: RunRecord) -> list[GateResult]:
    """The failed gates, the one furthest past its threshold first (`GateResult.severity`; a gate written
    without one is measured here the same way, by its threshold's magnitude)."""
    def how_bad(gate: GateResult) -> float:
        return gate.severity if gate.severity is not None else severity(gate.op, gate.threshold, gate.value, None)
    return sorted((g for g in record.gates if not g.passed), key=how_bad, reverse=True)


def gate_model(record: RunRecord, gate: GateResult) -> str:
    """The checkpoint a gate is about, or the model 'tuned' was in its capability ('' when not recorded)."""
    if gate.part:
        return gate.part
    return str(((record.run.sections.get("compared") or {}).get(gate.capability) or {}).get("tuned", ""))


def base_value(record: RunRecord, gate: GateResult) -> float | None:
    """The base model's value of a gate's metric, where the run measured one."""
    return next((m.value for m in record.metrics if m.capability == gate.capability and m.name == gate.metric
                 and m.checkpoint == "base"), None)


def cause(record: RunRecord, gate: GateResult) -> str:
    """A failed gate in one line: what, how far past the threshold, the base's value and on which model
    ('0 against >= 0.85: 0.85 short; base 0.923; on adapter x8')."""
    if math.isnan(gate.value):
        line = f"no data against {gate.requirement}"
    else:
        past = shortfall(gate.op, gate.threshold, gate.value)
        line = (f"{figure(gate.value)} against {gate.requirement}: "
                + (f"{figure(past, 3)} {'short' if gate.op in ('>=', '>') else 'over'}" if past > 0 else
                   f"the 95% CI {interval(gate.ci_low, gate.ci_high)} reaches past it"))
    if (base := base_value(record, gate)) is not None:
        line += f"; base {figure(base)}"
    return line + (f"; on {where}" if (where := gate_model(record, gate)) else "")
