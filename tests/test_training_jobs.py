"""Training side by side: pending jobs only, the first here and the rest in spawned processes, failures raised
here, and the same adapter bytes as training in this process (training runs on one thread on CPU)."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
import torch

from harness.cache import file_digest
from harness.training.jobs import TrainingJob, run_side_by_side, train_identity
from harness.training.recipe import load_recipe


def record_pid(folder: Path, name: str, train: bool = True) -> str | None:
    """A job that writes which process ran it (train=False: the pid, or None when it has not run)."""
    marker = folder / name
    if not train:
        return marker.read_text() if marker.exists() else None
    marker.write_text(str(os.getpid()))
    return marker.read_text()


def broken_job(train: bool = True) -> None:
    """A job that is never cached and fails when run."""
    if train:
        raise ValueError("tasks/increment_9/train.json: bad data")


def test_pending_jobs_run_here_and_in_a_helper_process(tmp_path):
    jobs = [TrainingJob(name, partial(record_pid, tmp_path, name)) for name in ("long", "short", "shorter")]
    assert run_side_by_side(jobs, processes=2) == ["long", "short", "shorter"]
    ran_in = {job.name: (tmp_path / job.name).read_text() for job in jobs}
    assert ran_in["long"] == str(os.getpid())
    assert ran_in["short"] == ran_in["shorter"] != ran_in["long"]
    assert run_side_by_side(jobs, processes=2) == []  # all cached: nothing runs, no process is started


def test_one_process_runs_everything_here(tmp_path):
    jobs = [TrainingJob(name, partial(record_pid, tmp_path, name)) for name in ("a", "b")]
    assert run_side_by_side(jobs, processes=1) == ["a", "b"]
    assert {(tmp_path / n).read_text() for n in ("a", "b")} == {str(os.getpid())}


def test_failure_in_a_helper_process_is_raised_here(tmp_path):
    jobs = [TrainingJob("fine", partial(record_pid, tmp_path, "fine")), TrainingJob("broken", broken_job)]
    with pytest.raises(ValueError, match=r"increment_9/train\.json: bad data"):
        run_side_by_side(jobs, processes=2)
    assert (tmp_path / "fine").read_text() == str(os.getpid())  # the job here still finished


def test_adapter_trained_in_a_helper_process_has_the_same_bytes(base_model, project_root, tmp_path):
    fixtures = project_root / "fixtures"
    recipe = replace(load_recipe(fixtures / "recipes.toml", "identity"), steps=6)
    threads = torch.get_num_threads()
    here = train_identity(base_model, fixtures, recipe, tmp_path / "here")
    assert torch.get_num_threads() == threads and here.info["torch_threads"] == 1
    jobs = [TrainingJob("nothing", partial(record_pid, tmp_path, "nothing")),
            TrainingJob("identity", partial(train_identity, base_model, fixtures, recipe, tmp_path / "helper"))]
    assert run_side_by_side(jobs, processes=2) == ["nothing", "identity"]
    helper = train_identity(base_model, fixtures, recipe, tmp_path / "helper", train=False)
    assert helper is not None and not helper.trained_now
    weights = "adapter_model.safetensors"
    assert file_digest(helper.path / weights) == file_digest(here.path / weights)
