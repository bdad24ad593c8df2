"""Training jobs that train nothing, for the side-by-side runner (`harness.training.jobs`): shared by
tests/fast/test_training_jobs_fast.py and tests/model/test_training_jobs.py. They are module-level functions, so a
spawned helper process can unpickle them."""

from __future__ import annotations

import os
from pathlib import Path


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


def sleeping_job(root: Path, train: bool = True) -> Path | None:
    """A job that builds a cache entry for a minute (a long training): a file half-written in its staging folder,
    the helper's pid in `root/helper.pid`, then sleep (train=False: the entry, or None when it is not built)."""
    import time

    from harness.foundation.cache import cached_artifact, cached_folder

    if not train:
        return cached_folder(root, "slow", {"job": "slow"})

    def build(folder: Path) -> None:
        (folder / "adapter_model.safetensors").write_bytes(b"half")
        (root / "helper.pid").write_text(str(os.getpid()))
        time.sleep(60)

    return cached_artifact(root, "slow", {"job": "slow"}, build)[0]
