"""Which suite tests a run judges, and the specific reason for each one it does not (pytest wiring lives in
`harness.plugin`).

Before the run: a test is skipped when a data file its suite `reads` is missing, when its capability needs an
adapter under --tuned-model, or when `[graded_by]` leaves its capability out for the model the user brought.
During the run: every deselected or skipped suite test leaves its reason in `run.sections["unjudged"]`, keyed by
its gate id (when it has one) and its capability, so the headline and the not-judged list name it
(`harness.gating.verdict`). Reasons read "label: detail"; the label is what the headline counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.data.folder import NEEDS, DataFolder
from harness.gating.verdict import UNJUDGED

if TYPE_CHECKING:
    from harness.plugin.state import SessionState


def missing_data(data_dir: Path, patterns: list[str] | tuple[str, ...]) -> list[str]:
    """The glob patterns nothing in `data_dir` matches."""
    return DataFolder(data_dir).missing(patterns)


def reads(capability: str) -> pytest.MarkDecorator:
    """The `reads` mark of a built-in capability's suite: what `NEEDS` says it reads (and its alternative)."""
    if capability not in NEEDS:
        raise KeyError(f"reads({capability!r}): only the built-in capabilities' data needs are declared "
                       f"({', '.join(sorted(NEEDS))}); mark a suite of your own with pytest.mark.reads('PATTERN', ...)")
    needs = NEEDS[capability]
    return pytest.mark.reads(*needs.files, otherwise=needs.otherwise) if needs.otherwise else \
        pytest.mark.reads(*needs.files)


def missing_reads(data_dir: Path, marks: list[pytest.Mark]) -> list[str]:
    """What a test's `reads` marks need and the data folder lacks: each mark's files, or (`otherwise=`) its
    alternative files when those are all there."""
    missing: list[str] = []
    for mark in marks:
        if gaps := missing_data(data_dir, mark.args):
            other = mark.kwargs.get("otherwise")
            if not other or missing_data(data_dir, other):
                missing += gaps + ([f"(or {', '.join(other)})"] if other else [])
    return missing


def capability_of(item: pytest.Item, state: SessionState) -> str | None:
    """The capability whose marker the test carries (its suite's), or None for a test of other code."""
    return next((name for name in state.capabilities.markers() if item.get_closest_marker(name)), None)


def skip_unjudgeable(state: SessionState, items: list[pytest.Item]) -> None:
    """Mark, before the run, the suite tests that cannot give a verdict here, each with its reason."""
    data = state.settings.fixtures
    not_applicable = {c.name for c in state.capabilities if c.needs_adapter and state.settings.tuned_model}
    ungraded = ungraded_capabilities(state)
    for item in items:
        capability = capability_of(item, state)
        if missing := missing_reads(data, list(item.iter_markers("reads"))):
            more = f" (+{len(missing) - 1} more)" if len(missing) > 1 else ""
            reason = f"missing {missing[0]}{more}: {data} lacks {', '.join(missing)} (the suite reads it)"
        elif capability in not_applicable:
            reason = f"not applicable to --tuned-model: {capability} measures an adapter, a full model has none"
        elif capability in ungraded:
            reason = ungraded[capability]
        else:
            continue
        item.add_marker(pytest.mark.skip(reason=reason))


def ungraded_capabilities(state: SessionState) -> dict[str, str]:
    """The capabilities that do not grade the model the user brought (--adapter / --tuned-model), each with the
    reason; the grading is recorded in results.json (`run.graded_by`)."""
    s = state.settings
    model, option = (s.adapter, "--adapter") if s.adapter else (s.tuned_model, "--tuned-model")
    if model is None:
        return {}
    rule = state.gates.grading(model)
    graded, why = rule if rule else (tuple(state.capabilities.grading()), "by default; [graded_by] in the gate "
                                                                           "config narrows or widens it")
    state.record.run.sections["graded_by"] = {"model": str(model), "capabilities": list(graded), "rule": why}
    return {name: f"not graded by [graded_by]: {option} {model} is graded by {', '.join(graded)} ({why})"
            for name in state.capabilities.grading(named=True) if name not in graded}


def deselection(config: pytest.Config) -> str:
    """How -m / -k deselected tests, for the reason: "deselected by -m 'audit'"."""
    parts = [f"-{flag} '{value}'" for flag, value in (("m", config.option.markexpr), ("k", config.option.keyword))
             if value]
    return "deselected by " + (" and ".join(parts) if parts else "a plugin")


def note_unjudged(state: SessionState, item: pytest.Item, reason: str) -> None:
    """Keep why a suite test gave no verdict, under its gate id (when parametrised by one) and its capability
    (the first reason a capability meets is the one its untested gates show)."""
    capability = capability_of(item, state)
    if capability is None:
        return
    unjudged = state.record.run.sections.setdefault(UNJUDGED, {})
    callspec = getattr(item, "callspec", None)
    gate_id = callspec.params.get("gate_id") if callspec is not None else None
    if gate_id:
        unjudged.setdefault(gate_id, reason)
    unjudged.setdefault(capability, reason)


def skip_reason(report: pytest.TestReport) -> str:
    """The reason of a skipped test's report ("Skipped: " dropped)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")
