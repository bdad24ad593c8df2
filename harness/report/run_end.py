"""What happens once when a run ends (the xdist controller only): the audit history is appended, the environment
is captured for the run header, and the baseline is saved only when the run earned it (what was judged:
`harness.gating.verdict`)."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import harness
from harness.evaluators.audit import nightly_trend
from harness.gating.baselines import BaselineError, load_baseline, save_baseline
from harness.gating.results import RunRecord


def take_history_rows(record: RunRecord) -> list[dict]:
    """The audit's history rows (left in `run.audit.history_rows` by the audit suite, from whichever worker ran
    it), removed from the record: they go to the history file, not to results.json."""
    audit = record.run.sections.get("audit")
    return (audit.pop("history_rows", None) or []) if isinstance(audit, dict) else []


def preview_audit_trend(record: RunRecord, history: Path, rows: list[dict]) -> None:
    """Put the run-after-run trend, this run's `rows` included, in `run.audit` without writing anything: the
    report is then drawn once, and the history file is appended only after it (a run whose report cannot be
    written leaves the history as it was). A history file that cannot be read is a HistoryError naming it."""
    import pandas as pd

    from harness.report.history import COLUMNS, read_history  # pandas, only when there is history to write

    with rows_not_appended():
        frame = pd.concat([read_history(history), pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
    record.run.sections["audit"]["nights"] = nightly_trend(frame)


def append_audit_history(history: Path, rows: list[dict]) -> None:
    """Append `rows` to the history file, file-locked and atomically; unreadable, a HistoryError naming it."""
    from harness.report.history import append_history

    with rows_not_appended():
        append_history(history, rows)


@contextmanager
def rows_not_appended() -> Iterator[None]:
    """A HistoryError (the file changed since configure) says that this run's rows were not appended."""
    from harness.report.history import HistoryError

    try:
        yield
    except HistoryError as err:
        raise HistoryError(f"{err}; this run's rows were not appended") from err


@dataclass(frozen=True)
class BaselineOutcome:
    """What --save-baseline did: `saved`, or not (`refused` when the run itself was fine to finish but not to
    keep, which makes the exit status 4), and a one-line `message` for the terminal."""

    saved: bool
    refused: bool
    message: str


INTERRUPTED_BY_SIGNAL = 130  # the exit status of a Ctrl-C during the end-of-run writes (the shell's, for SIGINT)


@dataclass
class RunArtifacts:
    """What the end of the run left for the terminal summary: the report written, what --save-baseline did, the
    end-of-run steps that failed and what was passed over (earlier results.json the report could not read), one
    line each, the step running and those done (for a Ctrl-C among them), and the line saying what a Ctrl-C there
    interrupted."""

    report: Path | None = None
    baseline: BaselineOutcome | None = None
    end_errors: list[str] = field(default_factory=list)
    end_warnings: list[str] = field(default_factory=list)
    step: str = ""
    written: list[str] = field(default_factory=list)
    interrupted: str | None = None
    notes: list[str] = field(default_factory=list)  # other lines for the end of the terminal summary

    def interruption(self) -> str:
        """The one line for a Ctrl-C during the end-of-run writes: which write, and what was kept."""
        kept = ", ".join(self.written) or "nothing of this run"
        return (f"interrupted (Ctrl-C) while writing {self.step or 'the run header'}: kept {kept}; nothing after it "
                "was written, no partial file is left, and earlier reports, the history, reports/latest and "
                "baselines are unchanged")


def save_baseline_if_allowed(path: Path, record: RunRecord, exit_status: int, anyway: bool) -> BaselineOutcome:
    """Write the baseline unless the run was interrupted or errored (never), or a gate failed or tests were
    deselected (only with `anyway`). Says when it overwrites an existing baseline."""
    name = path.stem
    if record.is_empty:
        return BaselineOutcome(False, exit_status <= 1, f"baseline {name!r} NOT saved: nothing was measured; "
                                                        f"{path} left as it was")
    if exit_status in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR) \
            or record.run.errors:
        why = f"the run ended with exit status {exit_status}" if exit_status > 1 else \
            f"{record.run.errors} tests errored"
        return BaselineOutcome(False, False, f"baseline {name!r} NOT saved: {why}; {path} left as it was")
    failed = [g.id for g in record.gates if not g.passed]
    deselected = record.run.deselected
    if not anyway and (failed or exit_status != 0 or deselected):
        why = (f"{len(failed)} gates failed ({', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''})" if failed
               else f"{deselected} tests were deselected" if deselected else f"exit status {exit_status}")
        return BaselineOutcome(False, True, f"baseline {name!r} refused: {why}; {path} left as it was "
                                            "(--save-baseline-anyway saves it regardless)")
    previous = _previous(path)
    try:
        save_baseline(path, name, record)
    except (OSError, BaselineError) as err:
        return BaselineOutcome(False, True, f"baseline {name!r} NOT saved: {err}")
    verb = f"overwrote baseline {name!r} ({previous})" if previous else f"saved baseline {name!r}"
    return BaselineOutcome(True, False, f"{verb} at {path}" + (" despite failed gates" if failed else ""))


def _previous(path: Path) -> str:
    """'saved <time>, run <id>' of an existing baseline file ('' when there is none)."""
    if not path.is_file():
        return ""
    try:
        stored = load_baseline(path)
    except BaselineError:
        return "was not a baseline tunegate can read"
    return f"was saved {stored.get('saved')}, run {stored['run'].get('id')}"


def environment(rootdir: Path) -> dict[str, Any]:
    """Where the run happened: git sha of `rootdir` (None outside a repository), host, Python and library
    versions."""
    import peft
    import torch
    import transformers

    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=rootdir, capture_output=True, text=True, timeout=5)
        sha = done.stdout.strip() if done.returncode == 0 else None  # a repository with no commit prints "HEAD"
    except (OSError, subprocess.SubprocessError):
        sha = None
    return {"git_sha": sha, "host": platform.node(), "python": platform.python_version(),
            "versions": {"tunegate": harness.__version__, "torch": torch.__version__,
                         "transformers": transformers.__version__, "peft": peft.__version__}}
