"""Evaluation shared among the processes of `accelerate launch`: batches dealt round robin, answers gathered in
order (the 2-process run: tests/e2e/test_processes_e2e.py)."""

from __future__ import annotations

import os

from harness.model import processes
from harness.model.processes import Processes


def test_batches_are_dealt_round_robin_and_every_batch_once():
    batches = [[i] for i in range(7)]
    dealt = [list(Processes(rank, 3).mine(len(batches))) for rank in range(3)]
    assert dealt == [[0, 3, 6], [1, 4], [2, 5]]
    assert sorted(k for part in dealt for k in part) == list(range(7))


def test_gathered_answers_come_back_in_request_order(monkeypatch):
    """Two processes simulated: each computes its own batches; the gather hands both the whole list."""
    import accelerate.utils

    batches = [[f"q{i}", f"r{i}"] for i in range(5)]
    parts = {rank: {k: [s.upper() for s in batches[k]] for k in Processes(rank, 2).mine(5)} for rank in range(2)}
    monkeypatch.setattr(accelerate.utils, "gather_object", lambda obj: [parts[0], parts[1]])
    computed = []
    out = Processes(1, 2).share(batches, lambda batch: computed.append(batch) or [s.upper() for s in batch])
    assert computed == [batches[1], batches[3]]
    assert out == [s.upper() for batch in batches for s in batch]


def test_a_single_process_starts_no_process_group():
    assert "WORLD_SIZE" not in os.environ or os.environ["WORLD_SIZE"] == "1"
    assert processes.current().world == 1 and processes.current().is_main


def test_the_variables_of_a_real_launch_are_accepted_and_leftovers_refused():
    from harness.plugin.invocation import launch_environment_problem

    assert launch_environment_problem({}) is None
    launch = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert launch_environment_problem(launch) is None  # process 1 of 2
    assert launch_environment_problem({"WORLD_SIZE": "1", "RANK": "0"}) is None
    assert "RANK=2 with WORLD_SIZE=2" in launch_environment_problem({"WORLD_SIZE": "2", "RANK": "2"})
    assert "LOCAL_RANK=' 1x'" in launch_environment_problem({"LOCAL_RANK": " 1x"})
