"""Runs that would judge nothing: every suite skipped, a selected capability without its data, a marker typo."""

from __future__ import annotations

from tests.bad_inputs.project import BadInput

TITLE = "runs that judge nothing"


CASES: list[BadInput] = [
]
