"""CPU thread control shared by training and timing: one intra-op thread, and how many cores this process may use.

Training runs on one thread on CPU so that an adapter's bytes do not depend on the machine's core count (thread
count changes the order in which matrix products sum); independent adapters then train side by side, one process
per core. Latency timing runs on one thread so an oversubscribed core cannot stall a thread barrier.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_thread(active: bool = True) -> Iterator[None]:
    """One torch intra-op thread inside the block when `active`; the previous setting afterwards."""
    previous = torch.get_num_threads()
    if active:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def xdist_workers() -> int:
    """How many pytest-xdist workers share this machine (1 outside xdist)."""
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))


def processes_sharing_cores() -> int:
    """How many evaluating processes share this machine's cores: pytest-xdist workers times the processes of an
    `accelerate launch` on it (1 outside both)."""
    return xdist_workers() * int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def share_cores_among_workers() -> int:
    """Under pytest-xdist or `accelerate launch`, give this process its share of the cores (at least one torch
    thread): two workers of two threads each on two cores spin at every OpenMP barrier and run several times
    slower. Returns the thread count."""
    workers = processes_sharing_cores()
    if workers > 1:
        torch.set_num_threads(max(1, usable_cores() // workers))
    return torch.get_num_threads()
