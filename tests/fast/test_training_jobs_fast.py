"""Training side by side without a helper process: one process runs every job here; xdist workers share the cores
and start on different chains."""

from __future__ import annotations

import os
from functools import partial

import torch

from harness.foundation.cpu import share_cores_among_workers, usable_cores
from harness.plugin.fixtures import _worker_order
from harness.training.jobs import TrainingJob, train_side_by_side
from tests.fake_jobs import broken_job, record_pid


def test_one_process_runs_everything_here(tmp_path):
    jobs = [TrainingJob(name, partial(record_pid, tmp_path, name)) for name in ("a", "b")]
    assert train_side_by_side(jobs, processes=1).trained == ["a", "b"]
    assert {(tmp_path / n).read_text() for n in ("a", "b")} == {str(os.getpid())}


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
