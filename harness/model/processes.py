"""Data parallelism across the processes `accelerate launch` starts (one per GPU, or several on CPU with gloo).

Batch k of the padded batches a single process would use is computed by process k mod N and the answers are
gathered to every process, so the numbers are those of a one-process run by construction; process 0 alone writes.
Outside `accelerate launch` (WORLD_SIZE unset or 1) nothing here imports accelerate or starts a process group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from harness.foundation.launch import launch_world_size


class Processes:
    """This process's place among the processes evaluating together: `rank` of `world`."""

    def __init__(self, rank: int = 0, world: int = 1, backend: str | None = None) -> None:
        self.rank, self.world, self.backend = rank, world, backend

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files (rank 0)."""
        return self.rank == 0

    def mine(self, count: int) -> range:
        """The indices of `count` batches this process computes: every world-th from its rank (round robin, so
        length-sorted batches, short to long, are spread evenly)."""
        return range(self.rank, count, self.world)

    def share(self, batches: Sequence[list], run: Callable[[list], list]) -> list:
        """`run` over this process's batches, then every process's answers gathered: the outputs of all
        `batches`, concatenated in order, on every process."""
        done = {k: run(batches[k]) for k in self.mine(len(batches))}
        if self.world > 1:
            from accelerate.utils import gather_object

            for part in gather_object([done]):
                done.update(part)
        return [out for k in range(len(batches)) for out in done[k]]

    def describe(self) -> dict[str, Any]:
        """What the run record says about the processes (world size, backend)."""
        return {"processes": self.world, "backend": self.backend or "none"}


@cache
def current() -> Processes:
    """This process's place, from the environment `accelerate launch` (or torchrun) sets; a single process
    without it. The process group is started here, once (gloo on CPU, nccl on GPUs)."""
    world = launch_world_size()
    if world <= 1:
        return Processes()
    import torch
    import torch.distributed as dist
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return Processes(state.process_index, state.num_processes, dist.get_backend() if dist.is_initialized() else None)


def finish() -> None:
    """At the end of the session: wait for every process (process 0 may still be writing) and leave the process
    group, so no process exits with the group open (gloo aborts then). Nothing outside `accelerate launch`."""
    if current.cache_info().currsize and current().world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
