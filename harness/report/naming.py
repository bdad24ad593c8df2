"""How the run's outputs name what was judged: the model the user brought by its folder (and path), an adapter
the run trained by its role; and the audit's nightly answer. One wording for the terminal, summary.md and
report.html."""

from __future__ import annotations

from harness.results import RunRecord


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
