"""The fast tier's guard: a test under tests/fast/ uses no model fixture.

At collection, a module whose tests' fixture closure holds one of MODEL_FIXTURES is refused: a collection error that
names each such test and the fixture(s), so `pytest tests/fast` stops (exit 2) instead of building models. At run
time, a model fixture asked for by name (`request.getfixturevalue`) fails the test the same way. Such a test belongs
in tests/model/ (or tests/e2e/ for a whole run of suites/).

Self-contained (pytest only): tests/fast/test_tiers.py plants this file in a scratch project to show it firing.
"""

from __future__ import annotations

import pytest

MODEL_FIXTURES = frozenset({"base_model", "models_under_test", "adapter_under_test", "new_task_adapter",
                            "merged_model", "sequences", "trained_adapters", "adapter_views", "full_models",
                            "new_task_models", "shadow_model"})
MOVE = "a fast test uses no model: move it to tests/model/ (tests/e2e/ for a whole run of suites/)"


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A module (or class) whose collected tests ask for a model fixture, directly or through other fixtures, is a
    collection error naming each test and its model fixtures."""
    report = yield
    if not report.passed:
        return report
    refused = [f"{item.nodeid} uses {', '.join(sorted(MODEL_FIXTURES & set(item.fixturenames)))}"
               for item in report.result
               if isinstance(item, pytest.Function) and MODEL_FIXTURES & set(item.fixturenames)]
    if refused:
        report.outcome, report.result = "failed", []
        report.longrepr = "\n".join([*refused, MOVE])
    return report


def _refuse_at_run_time(name: str):
    """A stand-in for model fixture `name` under tests/fast/: asked for at run time, it fails the test."""
    @pytest.fixture(name=name)
    def refuse(request: pytest.FixtureRequest):
        pytest.fail(f"{request.node.nodeid} asked for {name} at run time; {MOVE}", pytrace=False)
    return refuse


for _name in sorted(MODEL_FIXTURES):
    globals()[f"_refuse_{_name}"] = _refuse_at_run_time(_name)
