"""A 10-point forgetting of the base task fails the paired drop gates of old_task and of the audit, not only the
floor; the healthy adapter passes them. Planted twice: on the answers (tests/plants.py, what bench/power.py
grades) and in the weights (the no-replay adapter's lora_B scaled until it has lost 10 points)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data import load_examples
from harness.evaluators.audit import AuditData
from harness.evaluators.checkpoints import Checkpoint
from harness.measures.metrics import exact_match
from harness.model.sets import CheckpointModels, ModelSet
from harness.model.views import base_and_tuned
from tests.conftest import plant_adapter, verdicts_of
from tests.plants import forgotten

PAIRED = ("old_task.exact_match_drop", "audit.base_exact_match_drop[checkpoint-1]")


@pytest.fixture(scope="module")
def dev(tunegate):
    return load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")


def old_task_and_audit(tunegate, models: ModelSet, adapter: Path, dev) -> dict:
    """The old_task verdicts of `models` and the audit's with its tuned model as checkpoint-1."""
    audit = AuditData([Checkpoint("checkpoint-1", 1, Path(adapter))], {"base": dev})
    return {**verdicts_of(tunegate, "old_task", models, dev),
            **verdicts_of(tunegate, "audit", CheckpointModels(models.base, [models.tuned]), audit)}


def exact_match_rate(model, dev) -> float:
    return sum(exact_match(a, ex.answer) for a, ex in zip(model.generate([ex.messages for ex in dev]), dev,
                                                           strict=True)) / len(dev)


def test_healthy_adapter_passes_the_paired_drop_gates(base_model, adapter_under_test, dev, tunegate):
    verdicts = old_task_and_audit(tunegate, base_and_tuned(base_model, adapter_under_test), adapter_under_test, dev)
    assert all(verdicts[gid].passed for gid in PAIRED), [verdicts[gid].message for gid in PAIRED]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ten_points_forgotten_on_the_answers_fail_both_paired_gates(base_model, adapter_under_test, dev, tunegate,
                                                                    seed):
    models = base_and_tuned(base_model, adapter_under_test)
    planted = forgotten(models.base, models.tuned, dev, 0.10, seed)
    verdicts = old_task_and_audit(tunegate, ModelSet(models.base, planted), adapter_under_test, dev)
    assert verdicts["old_task.exact_match_drop"].value == pytest.approx(0.10, abs=0.002)
    assert not any(verdicts[gid].passed for gid in PAIRED), [verdicts[gid].message for gid in PAIRED]


def test_ten_points_forgotten_in_the_weights_fail_both_paired_gates(base_model, forgetting_adapter, dev, tunegate,
                                                                    tmp_path):
    base = base_and_tuned(base_model, forgetting_adapter).base
    base_rate = exact_match_rate(base, dev)
    low, high, found = 0.0, 1.0, None
    for step in range(10):  # bisect the scale of lora_B for a drop of 10-13 points (it grows with the scale)
        scale = (low + high) / 2
        adapter = plant_adapter(forgetting_adapter, tmp_path / f"scaled-{step}", lambda t, s=scale: t * s)
        drop = base_rate - exact_match_rate(base_and_tuned(base_model, adapter).tuned, dev)
        if 0.10 <= drop <= 0.13:
            found = adapter
            break
        low, high = (scale, high) if drop < 0.10 else (low, scale)
    assert found is not None, "no lora_B scale of the no-replay adapter loses 10-13 points"
    verdicts = old_task_and_audit(tunegate, base_and_tuned(base_model, found), found, dev)
    assert 0.10 <= verdicts["old_task.exact_match_drop"].value <= 0.13
    assert not any(verdicts[gid].passed for gid in PAIRED), [verdicts[gid].message for gid in PAIRED]
