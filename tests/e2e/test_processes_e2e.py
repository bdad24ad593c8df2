"""A 2-process CPU run of `accelerate launch` (gloo) gives exactly the metrics of one process, and process 0 alone
writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SELECTION = "old_task or perplexity or generation or adapter_health"


def _metrics(report_dir):
    data = json.loads((report_dir / "latest/results.json").read_text())
    return data, {(m["capability"], m["name"], m["checkpoint"]): m["value"] for m in data["metrics"]}


def _run(command, report_dir, adapter, cache_dir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CI": "true", "OMP_NUM_THREADS": "1"}
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    args = [*command, "-m", "pytest", str(ROOT / "suites"), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-q",
            "-m", SELECTION, "--adapter", str(adapter), "--no-answer-cache", "--report-dir", str(report_dir),
            "--cache-dir", str(cache_dir)]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_two_processes_give_exactly_the_metrics_of_one(adapter_under_test, tunegate, tmp_path):
    """`accelerate launch --multi_gpu --num_processes 2` on CPU (gloo) against a plain run: same metrics, bit for
    bit; one run folder, written by process 0, that says two processes computed it. Both runs use one thread per
    process (what `accelerate launch` gives each process here): the thread count is not what is compared, and
    LAPACK's SVD (the effective rank) differs in the 15th digit between one and two threads."""
    cache = tunegate.settings.cache_dir
    _run([sys.executable], tmp_path / "one", adapter_under_test, cache)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    _run(launch, tmp_path / "two", adapter_under_test, cache)
    (one, single), (two, shared) = _metrics(tmp_path / "one"), _metrics(tmp_path / "two")
    assert two["run"]["processes"] == {"processes": 2, "backend": "gloo"} and "processes" not in one["run"]
    assert len(single) > 50 and shared == single
    assert [g["passed"] for g in two["gates"]] == [g["passed"] for g in one["gates"]]
    assert len([p for p in (tmp_path / "two").iterdir() if p.name != "latest"]) == 1
