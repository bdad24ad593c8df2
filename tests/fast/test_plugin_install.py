"""Installed through its `pytest11` entry point, tunegate gives any project its options and fixtures, and stays
out of the way of tests that do not use it (no gate config needed, no report written)."""

from __future__ import annotations

import pytest


def test_the_entry_point_brings_the_options_without_any_conftest(pytester: pytest.Pytester):
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(["*--base-model*", "*--save-baseline*"])
    assert "--base-model" not in pytester.runpytest_inprocess("--help", "-p", "no:harness.plugin").stdout.str()


def test_an_explicit_registration_meets_the_installed_plugin_without_a_clash(pytester: pytest.Pytester):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]\n')
    pytester.makepyfile(test_plain="def test_sum():\n    assert 1 + 1 == 2\n")
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest_inprocess("-p", "harness.plugin", "-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_project_without_tunegate_tests_runs_untouched(pytester: pytest.Pytester):
    pytester.makepyfile(test_plain="def test_sum():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()


def test_an_explicit_missing_gate_file_is_a_usage_error_at_once(pytester: pytest.Pytester):
    pytester.makepyfile(test_plain="def test_sum():\n    assert True\n")
    result = pytester.runpytest_inprocess("--gates", "nowhere.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nowhere.toml: gate config file not found*"])


def test_a_project_without_tunegate_never_imports_the_model_stack(pytester: pytest.Pytester):
    """The installed plugin sleeps without a gate config: no torch, transformers or peft in other projects."""
    pytester.makepyfile(test_plain="""
        import sys

        def test_no_model_stack():
            assert not {"torch", "transformers", "peft"} & set(sys.modules)
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "harness.plugin")
    result.assert_outcomes(passed=1)
