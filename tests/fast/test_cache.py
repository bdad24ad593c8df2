"""The content-addressed cache builds once, even with concurrent processes, and never exposes partial output."""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

import pytest

from harness.foundation.cache import atomic_write_text, cached_artifact, content_hash


def _slow_build(counter: Path):
    def build(out: Path) -> None:
        with open(counter, "a") as handle:
            handle.write("built\n")
        time.sleep(0.5)
        (out / "weights.txt").write_text("ok")
    return build


def _worker(root: str, counter: str, queue) -> None:
    folder, built = cached_artifact(Path(root), "thing", {"k": 1}, _slow_build(Path(counter)))
    queue.put((str(folder), built))


def test_concurrent_processes_build_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "c"), str(tmp_path / "n"), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    results = [queue.get(timeout=5) for _ in procs]
    assert (tmp_path / "n").read_text().count("built") == 1
    assert len({folder for folder, _ in results}) == 1 and sorted(b for _, b in results) == [False, True]
    assert (Path(results[0][0]) / "weights.txt").read_text() == "ok"


def test_failed_build_leaves_nothing(tmp_path):
    def broken(out: Path) -> None:
        (out / "half.bin").write_text("partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cached_artifact(tmp_path, "thing", {"k": 2}, broken)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_key_changes_with_payload():
    assert content_hash({"a": 1}) != content_hash({"a": 2})


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    atomic_write_text(target, "old")
    import harness.foundation.cache as cache

    monkeypatch.setattr(cache.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_an_entry_that_cannot_be_trusted_is_rebuilt_in_its_place(tmp_path):
    """A foreign key file, a damaged training log (the kind's own check) or a file in the entry's place: rebuilt."""
    from harness.training.cached import LOG_FILE, adapter_entry_problem

    def build(out: Path) -> None:
        (out / LOG_FILE).write_text('[{"step": 1, "loss": 1.0}]')
        (out / "training_info.json").write_text("{}")

    folder, built = cached_artifact(tmp_path, "adapter-x", {"k": 3}, build, adapter_entry_problem)
    assert built and cached_artifact(tmp_path, "adapter-x", {"k": 3}, build, adapter_entry_problem)[1] is False
    for damage in (lambda: (folder / LOG_FILE).write_text('[{"step": 1, "loss": "low"}]'),
                   lambda: (folder / "cache_key.json").write_text('{"k": 4}'),
                   lambda: (shutil.rmtree(folder), folder.write_text("x"))):
        damage()
        assert cached_artifact(tmp_path, "adapter-x", {"k": 3}, build, adapter_entry_problem) == (folder, True)
        assert adapter_entry_problem(folder) is None
