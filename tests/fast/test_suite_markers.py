"""`pytest suites/ -m CAPABILITY` selects that capability's suite only (collection, in this process: no model is
built or loaded)."""

from __future__ import annotations

from tests.suite_capabilities import CAPABILITIES


def test_each_marker_selects_one_capability(pytester, project_root):
    for capability in CAPABILITIES:  # collection only, in-process: no model is built or loaded
        run = pytester.inline_run(str(project_root / "suites"), "--rootdir", str(project_root), "--collect-only",
                                  "-p", "no:cacheprovider", "--import-mode=importlib", "-m", capability)
        items = run.getcalls("pytest_collection_finish")[0].session.items
        assert items and all(item.path.name == f"test_{capability}.py" for item in items), capability
