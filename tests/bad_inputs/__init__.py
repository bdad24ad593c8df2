"""Every kind of bad input tunegate was tried with (issues 10 and 27), as data, one module per family: how to plant
it in a fresh project, what the one message must name, and the exit status. `tests/fast/test_bad_inputs.py` runs
each on a fresh project (the `project` fixture of tests/conftest.py); the tables of docs/refusals.md are rendered
from these lists (`python3 dev.py refusals` rewrites them, `test_refusals_page_is_current` keeps them honest).

Run as `python -m tests.bad_inputs PAGE`, it rewrites the tables of that page in place.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType

from tests.bad_inputs import (
    adapters,
    base_model,
    caches,
    data,
    faults,
    gates,
    judged_nothing,
    options,
    repository,
    stored,
)
from tests.bad_inputs.project import ACCEPTED, INTERRUPTED, REFUSED, ROOT, SUITE, BadInput, Project

FAMILIES: tuple[ModuleType, ...] = (data, gates, adapters, base_model, stored, caches, options, judged_nothing,
                                    repository, faults)
CASES: list[BadInput] = [dataclasses.replace(case, family=family.TITLE) for family in FAMILIES
                         for case in family.CASES]
TABLE_START, TABLE_END = "<!-- refusals:start -->", "<!-- refusals:end -->"
OUTCOMES = {REFUSED: "refused, exit 4", ACCEPTED: "accepted", INTERRUPTED: "stopped, exit 130"}

__all__ = ["ACCEPTED", "CASES", "INTERRUPTED", "REFUSED", "ROOT", "SUITE", "BadInput", "Project", "case_named",
           "readme_with_table", "render_table"]


def case_named(case_id: str) -> BadInput:
    """The case of CASES with this id."""
    return next(c for c in CASES if c.id == case_id)


def render_table() -> str:
    """The docs/refusals.md tables: a heading per family (with its count), one row per case, by test id."""
    sections = [f"{len(CASES)} cases in {len(FAMILIES)} families."]
    for family in FAMILIES:
        rows = [f"### {family.TITLE[0].upper()}{family.TITLE[1:]}: {len(family.CASES)}", "",
                "| test id | bad input | outcome | the message names |", "|---|---|---|---|"]
        for case in family.CASES:
            names = ", ".join(f"`{n}`" for n in case.names) or "—"
            rows.append(f"| `{case.id}` | {case.what} | {OUTCOMES.get(case.exit, f'exit {case.exit}')} | {names} |")
        sections.append("\n".join(rows))
    return "\n\n".join(sections)


def readme_with_table(readme: str) -> str:
    """`readme` with the text between the table markers replaced by `render_table()`."""
    start, end = readme.index(TABLE_START) + len(TABLE_START), readme.index(TABLE_END)
    return readme[:start] + "\n" + render_table() + "\n" + readme[end:]
