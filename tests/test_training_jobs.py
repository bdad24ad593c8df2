"""Training side by side: pending jobs only, the first here and the rest in spawned processes, failures raised
here, and the same adapter bytes as training in this process (training runs on one thread on CPU)."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
import torch

from harness.foundation.cache import file_digest
from harness.foundation.cpu import share_cores_among_workers, usable_cores
from harness.plugin.fixtures import _worker_order
from harness.training.jobs import TrainingJob, train_identity, train_side_by_side
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


def test_the_first_pending_job_goes_to_a_helper_and_the_rest_run_here(tmp_path):
    jobs = [TrainingJob(name, partial(record_pid, tmp_path, name)) for name in ("long", "short", "shorter")]
    training = train_side_by_side(jobs, processes=2)
    assert training.trained == ["long", "short", "shorter"]
    assert (tmp_path / "short").read_text() == (tmp_path / "shorter").read_text() == str(os.getpid())
    training.wait("long")
    assert (tmp_path / "long").read_text() != str(os.getpid())  # trained in the helper process
    training.finish()
    assert train_side_by_side(jobs, processes=2).trained == []  # all cached: nothing runs, no process starts


def test_one_process_runs_everything_here(tmp_path):
    jobs = [TrainingJob(name, partial(record_pid, tmp_path, name)) for name in ("a", "b")]
    assert train_side_by_side(jobs, processes=1).trained == ["a", "b"]
    assert {(tmp_path / n).read_text() for n in ("a", "b")} == {str(os.getpid())}


def test_failure_in_a_helper_process_is_raised_where_its_chain_is_awaited(tmp_path):
    jobs = [TrainingJob("broken", broken_job), TrainingJob("fine", partial(record_pid, tmp_path, "fine"))]
    training = train_side_by_side(jobs, processes=2)
    assert (tmp_path / "fine").read_text() == str(os.getpid())  # the job here still finished
    with pytest.raises(ValueError, match=r"increment_9/train\.json: bad data"):
        training.wait("broken")
    with pytest.raises(ValueError, match="bad data"):
        training.finish()


def test_adapter_trained_in_a_helper_process_has_the_same_bytes(base_model, project_root, tmp_path):
    fixtures = project_root / "fixtures"
    recipe = replace(load_recipe(fixtures / "recipes.toml", "identity"), steps=6)
    threads = torch.get_num_threads()
    here = train_identity(base_model, fixtures, recipe, tmp_path / "here")
    assert torch.get_num_threads() == threads and here.info["torch_threads"] == 1
    jobs = [TrainingJob("identity", partial(train_identity, base_model, fixtures, recipe, tmp_path / "helper")),
            TrainingJob("nothing", partial(record_pid, tmp_path, "nothing"))]
    training = train_side_by_side(jobs, processes=2)
    training.finish()
    assert training.trained == ["identity", "nothing"]
    helper = train_identity(base_model, fixtures, recipe, tmp_path / "helper", train=False)
    assert helper is not None and not helper.trained_now
    weights = "adapter_model.safetensors"
    assert file_digest(helper.path / weights) == file_digest(here.path / weights)


def test_xdist_workers_share_the_cores_and_start_on_different_chains(monkeypatch):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
        assert share_cores_among_workers() == 2  # outside xdist: untouched
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
        assert share_cores_among_workers() == max(1, usable_cores() // 2) == torch.get_num_threads()
    finally:
        torch.set_num_threads(threads)
    jobs = [TrainingJob(name, broken_job) for name in ("replay", "identity", "naive")]
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert [j.name for j in _worker_order(jobs)] == ["replay", "identity", "naive"]
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert [j.name for j in _worker_order(jobs)] == ["identity", "naive", "replay"]
