"""Faults during a run: a full disk, signals."""

from __future__ import annotations

import os
from pathlib import Path

from tests.bad_inputs.project import INTERRUPTED, BadInput, Plant, Project

TITLE = "faults during a run"


def _disk_full(p: Project) -> list[str]:
    """A fault-injecting writer: writing report.html's temporary file fails half-way with ENOSPC."""
    import errno

    write_text = Path.write_text

    def full_disk(self: Path, text: str, *args, **kwargs):
        if self.name.startswith(".report.html-"):
            write_text(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return write_text(self, text, *args, **kwargs)

    p.monkeypatch.setattr(Path, "write_text", full_disk)
    return []


def ctrl_c(name: str, *args: str) -> Plant:
    """A Ctrl-C (KeyboardInterrupt) half-way through writing the temporary file of `name` at the end of the run;
    the run gets `args`."""
    def plant(p: Project) -> list[str]:
        write_text = Path.write_text

        def interrupted(self: Path, text: str, *more, **kwargs):
            if self.name.startswith(f".{name}-"):
                write_text(self, text[: len(text) // 2], *more, **kwargs)
                raise KeyboardInterrupt
            return write_text(self, text, *more, **kwargs)

        p.monkeypatch.setattr(Path, "write_text", interrupted)
        return list(args)
    return plant


CASES = [
    BadInput("disk-full-report", "the disk filling up while report.html is written", _disk_full,
             ("report.html", "unchanged", "No space left on device"), runs_tests=True),
    BadInput("ctrl-c-results-json", "Ctrl-C while results.json is written (once: a KeyboardInterrupt traceback)",
             ctrl_c("results.json"), ("results.json: kept nothing of this run",
                                       "interrupted (Ctrl-C) while writing"), exit=INTERRUPTED, runs_tests=True),
    BadInput("ctrl-c-report", "Ctrl-C while report.html is written (once: a KeyboardInterrupt traceback)",
             ctrl_c("report.html"), ("report.html: kept", "results.json; nothing after it was written",
                                      "interrupted (Ctrl-C) while writing"), exit=INTERRUPTED, runs_tests=True),
]
