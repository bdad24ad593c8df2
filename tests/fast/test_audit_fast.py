"""The audit's run layouts without a model: ms-swift launches, flat folders of adapters and HF Trainer checkpoints, each
with its loss history."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.data import DataError
from harness.evaluators.checkpoints import find_run

    # checkpoint where the run broke links to what it lost


def _swift_output(tmp_path):
    """An ms-swift output folder: launch v0 saved checkpoint-50, launch v1 checkpoints 100 and 50."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    for launch, steps in (("v0-20261122-090000", (50,)), ("v1-20261123-101010", (100, 50))):
        for step in steps:
            shutil.copytree(adapter, tmp_path / "output" / launch / f"checkpoint-{step}")


def test_ms_swift_launches_are_found_newest_first_and_said(tmp_path):
    """`--checkpoints output/` of ms-swift: the newest launch (highest v<K>) is audited, and the source says so."""
    _swift_output(tmp_path)
    (tmp_path / "output" / "v2-20261124-000000").mkdir()  # a launch that saved nothing yet
    run = find_run(tmp_path / "output")
    assert run.layout == "ms-swift" and [c.name for c in run.checkpoints] == ["checkpoint-50", "checkpoint-100"]
    assert run.checkpoints[0].path == tmp_path / "output/v1-20261123-101010/checkpoint-50"
    assert "newest of 2 ms-swift launches" in run.source


def _trainer_state(folder, losses):
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": [
        {"step": step, "loss": loss} for step, loss in losses]}))


def test_every_ms_swift_launch_in_order_and_the_loss_history_of_the_last(tmp_path):
    """`--checkpoint-launches all`: the checkpoints of every launch, launch by launch, named by launch; the loss
    history comes from the trainer_state.json of the last checkpoint that has one."""
    _swift_output(tmp_path)
    _trainer_state(tmp_path / "output/v1-20261123-101010/checkpoint-50", [(10, 2.0), (50, 1.1)])
    run = find_run(tmp_path / "output", "all")
    assert [c.name for c in run.checkpoints] == [
        "v0-20261122-090000/checkpoint-50", "v1-20261123-101010/checkpoint-50", "v1-20261123-101010/checkpoint-100"]
    assert "all 2 ms-swift launches" in run.source
    log = run.training_log()
    assert log["log"] == [{"step": 10, "loss": 2.0}, {"step": 50, "loss": 1.1}]
    assert log["source"].endswith("v1-20261123-101010/checkpoint-50/trainer_state.json")


def test_the_loss_history_is_read_in_the_flat_and_trainer_layouts(tmp_path):
    flat = tmp_path / "flat"
    for name in ("step_10", "step_20"):
        (flat / name).mkdir(parents=True)
        (flat / name / "adapter_config.json").write_text("{}")
    _trainer_state(flat / "step_20", [(20, 0.7)])
    assert find_run(flat).training_log()["log"] == [{"step": 20, "loss": 0.7}]
    trainer = tmp_path / "trainer"
    (trainer / "checkpoint-5").mkdir(parents=True)
    (trainer / "checkpoint-5" / "adapter_config.json").write_text("{}")
    assert find_run(trainer).training_log() == {}
    _trainer_state(trainer, [(5, 3.0)])  # HF Trainer's final state beside the checkpoints
    assert find_run(trainer).training_log()["source"] == str(trainer / "trainer_state.json")
    (trainer / "trainer_state.json").write_text('{"log_history": 3}')
    with pytest.raises(DataError, match=r"trainer_state\.json: log_history must be a list"):
        find_run(trainer).training_log()


def test_a_flat_folder_of_adapters_is_ordered_by_the_number_in_each_name(tmp_path):
    for name in ("step_200", "step_1000", "final", "notes"):
        (tmp_path / name).mkdir()
        if name != "notes":
            (tmp_path / name / "adapter_config.json").write_text("{}")
    run = find_run(tmp_path)
    assert run.layout == "flat" and [(c.name, c.step) for c in run.checkpoints] == [
        ("step_200", 200), ("step_1000", 1000), ("final", 3)]
