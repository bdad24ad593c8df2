"""Faults during a run: a full disk, signals."""

from __future__ import annotations

import os
from pathlib import Path

from tests.bad_inputs.project import BadInput, Project

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


CASES = [
    BadInput("disk-full-report", "the disk filling up while report.html is written", _disk_full,
             ("report.html", "unchanged", "No space left on device"), runs_tests=True),
]
