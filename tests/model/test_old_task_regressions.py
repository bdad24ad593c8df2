"""Old-task gates FAIL on a forgetting adapter (no replay, high learning rate) and PASS on the healthy one."""

from __future__ import annotations

from harness.data import load_examples
from harness.model.views import base_and_tuned
from tests.conftest import verdicts_of


def old_task_verdicts(base_model, adapter, tunegate):
    dev = load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")
    return verdicts_of(tunegate, "old_task", base_and_tuned(base_model, adapter), dev)


def test_healthy_adapter_passes_old_task_gates(base_model, adapter_under_test, tunegate):
    verdicts = old_task_verdicts(base_model, adapter_under_test, tunegate)
    assert set(verdicts) == {"old_task.exact_match", "old_task.exact_match_drop"}
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]


def test_forgetting_adapter_fails_old_task_gates(base_model, forgetting_adapter, tunegate):
    verdicts = old_task_verdicts(base_model, forgetting_adapter, tunegate)
    floor, drop = verdicts["old_task.exact_match"], verdicts["old_task.exact_match_drop"]
    assert not floor.passed and floor.value < 0.85
    assert not drop.passed and drop.value > 0.05
    assert "beyond noise" in drop.message and "required <= 0.05" in drop.message and "95% CI" in drop.message
