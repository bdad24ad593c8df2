"""The committed fixtures are exactly what fixtures/generate.py writes; every module's doctests pass."""

from __future__ import annotations

import doctest
import filecmp
import importlib
import pkgutil
import runpy

import pytest

import harness

MODULES = sorted(m.name for m in pkgutil.walk_packages(harness.__path__, "harness.")
                 if m.name != "harness.plugin")


def test_generator_reproduces_committed_fixtures(project_root, tmp_path):
    runpy.run_path(str(project_root / "fixtures/generate.py"), run_name="fixtures_gen")["main"](tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(generated) == 12
    for rel in generated:
        assert filecmp.cmp(tmp_path / rel, project_root / "fixtures" / rel, shallow=False), rel


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
