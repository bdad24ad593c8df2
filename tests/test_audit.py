"""Nightly audit end to end on an externally laid-out run directory with several checkpoint-N/ folders."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from harness.data import DataError
from harness.evaluators.checkpoints import find_checkpoints, find_run
from tests.conftest import copy_adapter


@pytest.fixture(scope="module")
def run_dir(sequences, tmp_path_factory):
    """checkpoint-200 and -1000 are healthy replay stages; checkpoint-3000 is the naive final stage (it forgot
    the base task); `logs/` is no checkpoint and is ignored (a checkpoint-N/ without an adapter is an error:
    tests/test_bad_inputs.py)."""
    run = tmp_path_factory.mktemp("run")
    copy_adapter(sequences["replay"][1].adapter, run / "checkpoint-200")
    copy_adapter(sequences["replay"][2].adapter, run / "checkpoint-1000")
    copy_adapter(sequences["naive"][2].adapter, run / "checkpoint-3000")
    (run / "logs").mkdir()
    (run / "checkpoint-3000" / "trainer_state.json").write_text(json.dumps({"log_history": [{"step": 3000,
                                                                                              "loss": 0.42}]}))
    return run


def test_checkpoints_are_found_and_ordered_by_step(run_dir, tmp_path):
    assert [c.name for c in find_checkpoints(run_dir)] == ["checkpoint-200", "checkpoint-1000", "checkpoint-3000"]
    with pytest.raises(DataError, match=r"no checkpoint-N/ folder with an adapter_config\.json"):
        find_checkpoints(tmp_path)
    with pytest.raises(DataError, match="must be a run directory"):
        find_checkpoints(tmp_path / "absent")


def test_audit_says_where_the_run_broke_and_what_to_roll_back_to(run_suites, run_dir, tmp_path):
    history = tmp_path / "history.parquet"
    for _night in (1, 2):
        result, report_dir = run_suites("-m", "audit", "--checkpoints", str(run_dir), "--history", str(history))
        assert result.ret == 1, result.stdout.str()[-2000:]
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAILED*test_checkpoint[[]checkpoint-3000[]]*"])
    result.stdout.fnmatch_lines(["*audit.base_exact_match[[]checkpoint-3000[]]*FAIL"])
    answer = ("audit: newest checkpoint checkpoint-3000 FAILS: broke at checkpoint-3000, roll back to "
              "checkpoint-1000 (keep checkpoint-1000, checkpoint-200)")
    assert answer in result.stdout.str()
    audit = json.loads((report_dir / "latest" / "results.json").read_text())["run"]["audit"]
    assert audit["first_failing"] == "checkpoint-3000" and audit["rollback_candidate"] == "checkpoint-1000"
    assert [c["step"] for c in audit["checkpoints"]] == [200, 1000, 3000]
    assert len(audit["matrix"]) == 4 and audit["matrix"][3][0] < 0.2  # the naive stage forgot the base task
    assert audit["forgetting_trend"][2] > 0.5
    frame = pd.read_parquet(history)
    assert frame["run_id"].nunique() == 2 and len(frame) == 2 * 3 * 6  # 2 nights x 3 checkpoints x 6 metrics
    assert all(len(values) == 2 for values in audit["nights"].values())
    html = (report_dir / "latest" / "report.html").read_text()
    assert "Audit: 3 checkpoints" in html and "run after run" in html
    assert "<th>change (checkpoint-3000 − checkpoint-1000)</th>" in html  # the audit's change: last two checkpoints
    assert "<a href='#panel-audit'>charts and matrices of audit</a>" in html and "<h2 id='panel-audit'>" in html
    data = json.loads((report_dir / "latest" / "results.json").read_text())
    assert data["run"]["training"]["audited run"]["log"] == [{"step": 3000, "loss": 0.42}]  # its trainer_state.json
    assert "audited run" in html and "training and eval loss per adapter" in html
    lost = [s for s in data["samples"] if s["score"]["checkpoint"] == "checkpoint-3000" and not s["score"]["passed"]]
    base_lost = [s for s in lost if s["score"]["type"] == "base"]
    assert len(base_lost) > 0.5 * 182 and all(s["score"]["previous"] == "checkpoint-1000" for s in lost)
    assert f"{len(lost)} items lost" in next(g["message"] for g in data["gates"]
                                             if g["id"] == "audit.base_exact_match[checkpoint-3000]")
    evidence = "evidence-audit.base_exact_match-checkpoint-3000-"
    assert f"id='{evidence}'" in html and f"(<a href='#{evidence}'>items checkpoint-3000 lost</a>)" in html  # the
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
