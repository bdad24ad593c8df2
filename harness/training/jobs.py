"""What the release gate trains, and training it side by side.

A `TrainingJob` is one independent chain of cached adapters: the identity adapter, or one continual-learning
strategy's sequence of stages. Jobs share nothing but the cache, so `train_side_by_side` trains them at once on
a multi-core CPU: the longest job goes to a spawned helper process and this process trains the others, each
on one thread (training is single-threaded on CPU anyway, see `harness.foundation.cpu`). This process returns as soon as
its own share is done, so evaluation that does not need the helper's chain overlaps its training. The adapters
are the same bytes as when the jobs run one after another; the cache's file locks keep pytest-xdist workers
from training one adapter twice.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch

from harness.data import load_examples, load_identity_spec
from harness.data.folder import DataFolder
from harness.model.loading import BaseModel
from harness.training.lora import TrainedAdapter, replay_pool, train_adapter
from harness.training.recipe import LoraRecipe


def train_identity(base: BaseModel, fixtures: Path, recipe: LoraRecipe, cache_root: Path,
                   train: bool = True) -> TrainedAdapter | None:
    """The identity adapter: `identity/self_cognition.json` with the identity's variables filled in, replaying the
    recipe's pool (`train=False`: the cached adapter, or None)."""
    folder = DataFolder(fixtures)
    spec = load_identity_spec(folder.identity)
    data = load_examples(folder.self_cognition, spec.variables)
    return train_adapter(base, data, recipe, cache_root, replay=replay_pool(fixtures, recipe), name="identity",
                         train=train)


T = TypeVar("T")


@dataclass(frozen=True)
class TrainingJob(Generic[T]):
    """One independent training chain: `run(train=...)` trains it (or, with train=False, looks it up)."""

    name: str
    run: Callable[..., T | None]

    def result(self) -> T:
        """The chain's trained result (training what the cache lacks)."""
        trained = self.run()
        if trained is None:  # only a lookup (train=False) may find nothing
            raise RuntimeError(f"training job {self.name} trained nothing")
        return trained

    def pending(self) -> bool:
        """Whether the cache lacks any adapter of this job."""
        return self.run(train=False) is None

    def __call__(self) -> None:
        """Train every adapter of this job the cache lacks."""
        self.run()


STOP_GRACE_S = 3.0  # how long a helper told to stop may take to clean up before it is killed


def _in_helper(job: TrainingJob) -> None:
    """Run `job` in a helper process: Ctrl-C is the parent's to handle (it stops the helper), and SIGTERM
    unwinds the job (so the cache removes its unfinished staging folder) and ends the process."""
    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    try:
        job()
    except SystemExit as stopped:
        os._exit(int(stopped.code or 1))  # told to stop: leave the pool's loop, nothing more to report


class SideBySide:
    """Training chains started side by side: those given to helper processes may still be running; `wait(name)`
    blocks until that chain is done (raising its failure here), `finish()` until every chain is, and `stop()`
    (after a Ctrl-C) ends the helpers at once."""

    def __init__(self, pool: ProcessPoolExecutor | None, running: dict[str, Future], trained: list[str],
                 threads_after: int | None = None) -> None:
        self._pool, self._running, self.trained = pool, running, trained
        self._threads_after = threads_after  # this process's torch threads once the helpers are done

    def wait(self, name: str) -> None:
        """Block until chain `name` is trained (no-op for a chain trained here or not trained at all)."""
        if name in self._running:
            self._running[name].result()

    def finish(self) -> None:
        """Block until every chain is trained, and stop the helper processes."""
        try:
            for name in list(self._running):
                self.wait(name)
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            self._restore_threads()

    def stop(self, grace: float = STOP_GRACE_S) -> list[int]:
        """End the helper processes now (SIGTERM, then SIGKILL after `grace` seconds) without waiting for their
        chains: an unfinished adapter is never cached (its staging folder is removed as the job unwinds). Returns
        the helpers' process ids."""
        pool, self._pool, self._running = self._pool, None, {}
        stopped = _end_processes(pool, grace) if pool is not None else []
        self._restore_threads()
        return stopped

    def _restore_threads(self) -> None:
        if self._threads_after is not None:
            torch.set_num_threads(self._threads_after)
            self._threads_after = None


def _end_processes(pool: ProcessPoolExecutor, grace: float) -> list[int]:
    """Terminate a pool's processes, kill those still alive after `grace` seconds, reap them, and shut the pool
    down without waiting for its work (the pool's processes are a private attribute of concurrent.futures)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1.0)
    pool.shutdown(wait=False, cancel_futures=True)
    return [p.pid for p in processes if p.pid is not None]


def train_side_by_side(jobs: Sequence[TrainingJob], processes: int) -> SideBySide:
    """Start the pending jobs: the first ones (the longest, by the caller's order) each in a spawned helper process,
    up to `processes - 1` of them, while this process trains the rest, one after another, before returning. Until
    the helpers are done this process computes on the cores they leave (its torch threads are lowered, and
    restored by `finish()`). The result names every job started and waits for the helpers' chains."""
    pending = [job for job in jobs if job.pending()]
    helpers = min(processes - 1, len(pending) - 1)
    if helpers < 1:
        for job in pending:
            job()
        return SideBySide(None, {}, [job.name for job in pending])
    pool = ProcessPoolExecutor(helpers, mp_context=multiprocessing.get_context("spawn"))
    running = {job.name: pool.submit(_in_helper, job) for job in pending[:helpers]}
    try:
        for job in pending[helpers:]:
            job()
    except KeyboardInterrupt:
        _end_processes(pool, STOP_GRACE_S)  # Ctrl-C: the helpers' chains are not waited for
        raise
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(threads, processes - helpers)))  # leave the helpers their cores
    return SideBySide(pool, running, [job.name for job in pending], threads_after=threads)
