"""Training side by side: the first pending job in a spawned helper process and the rest here, failures raised here,
and the same adapter bytes as training in this process (training runs on one thread on CPU)."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial

import pytest
import torch

from harness.foundation.cache import file_digest
from harness.training.jobs import TrainingJob, train_identity, train_side_by_side
from harness.training.recipe import load_recipe
from tests.fake_jobs import broken_job, record_pid


def test_the_first_pending_job_goes_to_a_helper_and_the_rest_run_here(tmp_path):
    jobs = [TrainingJob(name, partial(record_pid, tmp_path, name)) for name in ("long", "short", "shorter")]
    training = train_side_by_side(jobs, processes=2)
    assert training.trained == ["long", "short", "shorter"]
    assert (tmp_path / "short").read_text() == (tmp_path / "shorter").read_text() == str(os.getpid())
    training.wait("long")
    assert (tmp_path / "long").read_text() != str(os.getpid())  # trained in the helper process
    training.finish()
    assert train_side_by_side(jobs, processes=2).trained == []  # all cached: nothing runs, no process starts


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
