"""The data-folder object: what a folder holds, what each capability needs of it, and the contract page
(docs/data-folder.md) kept in step with the paths it knows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.data.folder import (
    BASE_DEV,
    CONTRACT,
    HELDOUT,
    IDENTITY,
    IDENTITY_DATA,
    INCREMENT_DEVS,
    NEEDS,
    PROBES,
    SELF_COGNITION,
    DataFolder,
    task_file,
)
from harness.suites import CAPABILITY_SUITES
from tests.conftest import ROOT

PAGE = ROOT / "docs/data-folder.md"


def contract_table(page: str) -> list[str]:
    """The names in the first column of the page's "Every file" table, as the folder writes them (N -> *)."""
    section = page.split("## Every file", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.match(r"\| `([^`]+)`", row)[1].replace("increment_N", "increment_*") for row in rows]


def write(folder: Path, *names: str) -> DataFolder:
    """A data folder holding `names` (empty files are enough for presence)."""
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("[]", encoding="utf-8")
    return DataFolder(folder)


def test_the_contract_page_names_every_path_the_folder_knows():
    page = PAGE.read_text(encoding="utf-8")
    for name in CONTRACT:
        assert f"`{name.replace('*', 'N')}" in page, f"docs/data-folder.md does not name {name}"


def test_every_file_of_the_contract_table_is_known_to_the_folder():
    names = contract_table(PAGE.read_text(encoding="utf-8"))
    assert len(names) >= 12
    for name in names:  # a folder row (`builtin/`) stands for the files under it
        known = any(path.startswith(name) for path in CONTRACT) if name.endswith("/") else name in CONTRACT
        assert known, f"docs/data-folder.md names {name}, which harness/data/folder.py does not know"


def test_the_shipped_data_folder_has_every_capability_s_files():
    folder = DataFolder(ROOT / "fixtures")
    assert folder.increments() == ["increment_1", "increment_2"]
    assert not any(folder.missing_for(capability) for capability in NEEDS)
    assert folder.trains_increments() and folder.identity_spec() is not None


def test_a_folder_without_identity_toml_cannot_judge_identity(tmp_path):
    folder = write(tmp_path, SELF_COGNITION, PROBES, BASE_DEV)
    assert folder.missing_for("identity") == [IDENTITY]
    assert folder.missing_for("shadow") == [IDENTITY]
    assert folder.identity_spec() is None
    assert folder.missing_for("generation") == []  # it falls back to the base dev set as references
    assert folder.missing_for("old_task") == []
    assert folder.missing_for("new_task") == [INCREMENT_DEVS]
    assert folder.missing(NEEDS["perplexity"].gates["heldout_ratio"]) == [HELDOUT]


def test_an_empty_folder_lacks_everything_and_generation_names_its_own_files(tmp_path):
    folder = DataFolder(tmp_path)
    assert folder.increments() == [] and not folder.trains_increments()
    assert folder.missing_for("generation") == list(IDENTITY_DATA)
    assert folder.missing_for("forgetting") == [BASE_DEV, INCREMENT_DEVS]


def test_increments_are_found_in_the_order_of_their_number(tmp_path):
    folder = write(tmp_path, *(task_file(task, "dev") for task in ("increment_10", "increment_2", "base")))
    (tmp_path / "tasks/increment_x").mkdir()  # not an increment
    (tmp_path / "tasks/notes.txt").write_text("")
    assert folder.increments() == ["increment_2", "increment_10"]
    assert not folder.trains_increments()
    write(tmp_path, task_file("increment_2", "train"))
    assert folder.trains_increments()


@pytest.mark.parametrize("capability", CAPABILITY_SUITES)
def test_a_suite_reads_what_the_table_says(capability):
    module = __import__(f"harness.suites.{capability}", fromlist=["pytestmark"])
    marks = [m.mark for m in module.pytestmark if m.mark.name == "reads"]
    if capability not in NEEDS:
        assert marks == [], f"{capability} reads data files: give it a row in harness.data.folder.NEEDS"
        return
    needs = NEEDS[capability]
    assert [(m.args, m.kwargs.get("otherwise", ())) for m in marks] == [(needs.files, needs.otherwise)]
