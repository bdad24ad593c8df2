"""What the release gate trains, and training it side by side.

A `TrainingJob` is one independent chain of cached adapters: the identity adapter, or one continual-learning
strategy's sequence of stages. Jobs share nothing but the cache, so `run_side_by_side` trains them at once on a
multi-core CPU: this process takes the first (longest) job and spawned processes the rest, one per core, each
on one thread (training is single-threaded on CPU anyway, see `harness.cpu`). The adapters are the same bytes
as when the jobs run one after another; the cache's file locks keep pytest-xdist workers from training one
adapter twice.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from harness.data import load_examples, load_identity_spec
from harness.model.loading import BaseModel
from harness.training.lora import TrainedAdapter, replay_pool, train_adapter
from harness.training.recipe import LoraRecipe


def train_identity(base: BaseModel, fixtures: Path, recipe: LoraRecipe, cache_root: Path,
                   train: bool = True) -> TrainedAdapter | None:
    """The identity adapter: `identity/self_cognition.json` with the identity's variables filled in, replaying the
    recipe's pool (`train=False`: the cached adapter, or None)."""
    spec = load_identity_spec(fixtures / "identity/identity.toml")
    data = load_examples(fixtures / "identity/self_cognition.json", spec.variables)
    return train_adapter(base, data, recipe, cache_root, replay=replay_pool(fixtures, recipe), name="identity",
                         train=train)


@dataclass(frozen=True)
class TrainingJob:
    """One independent training chain: `run(train=...)` trains it (or, with train=False, looks it up)."""

    name: str
    run: Callable[..., object]

    def pending(self) -> bool:
        """Whether the cache lacks any adapter of this job."""
        return self.run(train=False) is None

    def __call__(self) -> None:
        """Train every adapter of this job the cache lacks."""
        self.run()


def run_side_by_side(jobs: Sequence[TrainingJob], processes: int) -> list[str]:
    """Run the pending jobs, the first here and the others in up to `processes - 1` spawned processes; returns
    the names of the jobs that ran. A job that fails in another process raises here with its traceback."""
    pending = [job for job in jobs if job.pending()]
    helpers = min(processes - 1, len(pending) - 1)
    if helpers < 1:
        for job in pending:
            job()
        return [job.name for job in pending]
    with ProcessPoolExecutor(helpers, mp_context=multiprocessing.get_context("spawn")) as pool:
        elsewhere = [pool.submit(job) for job in pending[1:]]
        pending[0]()
        for future in elsewhere:
            future.result()
    return [job.name for job in pending]
