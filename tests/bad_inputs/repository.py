"""Running tunegate from a user's repository."""

from __future__ import annotations

import shutil

from tests.bad_inputs.project import ROOT, BadInput, Project

TITLE = "running from a repository"


def _tunegate_own_suites(p: Project) -> list[str]:
    return [str(ROOT / "suites")]


def _adapter_path_with_a_space(p: Project) -> list[str]:
    """The repository's pytest.ini, and an adapter outside it given as `--adapter PATH` (not `--adapter=PATH`)."""
    p.write_ini()
    elsewhere = p.root.parent / f"{p.root.name}-adapters" / "checkpoint-500"
    shutil.copytree(p.adapter, elsewhere)
    return ["--adapter", str(elsewhere)]


CASES = [
    BadInput("tunegate-own-suites-from-elsewhere", "pytest ../tunegate/suites run from another project",
             _tunegate_own_suites, ("tunegate's own suites", "run from", "tunegate init"), in_repository=True),
    BadInput("adapter-path-read-as-test-path", "--adapter /outside/the/repo with a space: pytest took the path "
             "for a test path and left the repository's pytest.ini out", _adapter_path_with_a_space,
             ("(the value of --adapter) for a test path", "pytest.ini", "--adapter=", "with '='"), in_repository=True),
]
