"""Bad input under pytest-xdist: a worker that stops on bad input hands the reason to the controller (the project of
the bad-input table: the `project` fixture of tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.bad_inputs import Project, case_named


def test_a_fixture_error_under_xdist_is_exit_4_too(pytester: pytest.Pytester, project: Project):
    """A worker that stops on bad input hands the reason to the controller, whose exit status is 4."""
    case_named("fixture-error-stops-session").plant(project)
    result = pytester.runpytest_subprocess(*project.options(), "-n", "2", "test_extension.py", timeout=300)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert "broken.json:1: invalid JSON" in output and "Traceback" not in output
