"""Continual learning's data, without a model: replay of earlier stages is task-balanced, a missing dev file is
named."""

from __future__ import annotations

import pytest

from harness.data import DataError
from harness.training.recipe import load_recipe
from harness.training.sequence import sequence_tasks, stage_replay


def test_replay_of_earlier_stages_is_task_balanced(tunegate):
    recipe = load_recipe(tunegate.settings.fixtures / "recipes.toml", "sequence.replay")
    pool = stage_replay(tunegate.settings.fixtures, recipe, ["base", "increment_1"])
    moons = sum(ex.id.startswith("moon-") for ex in pool)
    assert moons == len(pool) - moons  # the 120-example increment is replayed as often as the base task


def test_missing_dev_file_is_named(tmp_path, tunegate):
    for task in ("base", "increment_1"):
        (tmp_path / "tasks" / task).mkdir(parents=True)
        (tmp_path / "tasks" / task / "train.json").write_text("[]")
    (tmp_path / "tasks/base/dev.json").write_text("[]")
    with pytest.raises(DataError, match=r"increment_1/dev.json: missing"):
        sequence_tasks(tmp_path)
