"""A Ctrl-C to the pytest process alone (SIGINT) while a helper process trains: the helper is stopped within
seconds (terminated, then killed after a grace period) instead of finishing its chain, no half-written cache entry
is left, and pytest exits with its interrupted status and a line saying what was stopped, no traceback. (A
subprocess run of about 10 s: end-to-end, not the fast tier.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

CONFTEST = '''
import os
from functools import partial
from pathlib import Path

import pytest

from harness.plugin.fixtures import end_training
from harness.report.run_end import RunArtifacts
from harness.training.jobs import TrainingJob, train_side_by_side
from tests.fake_jobs import record_pid, sleeping_job

ROOT = Path(os.environ["FAKE_CACHE"])


class State:
    artifacts = RunArtifacts()


@pytest.fixture(scope="session")
def training(request):
    jobs = [TrainingJob("slow", partial(sleeping_job, ROOT)), TrainingJob("here", partial(record_pid, ROOT, "here"))]
    started = train_side_by_side(jobs, processes=2)
    yield started
    end_training(request, started, State)
    print("\\n".join(State.artifacts.notes))
'''

SUITE = '''
import time

from conftest import ROOT


def test_waits_for_the_helper(training):
    while not (ROOT / "helper.pid").exists():
        time.sleep(0.05)
    (ROOT / "ready").touch()
    time.sleep(120)
'''


def alive(pid: int) -> bool:
    """Whether process `pid` still exists (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def test_sigint_stops_the_helper_process_within_seconds(tmp_path: Path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_wait.py").write_text(SUITE)
    env = {**os.environ, "FAKE_CACHE": str(cache), "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    pytest_run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
                                   "-s", "-q", str(tmp_path / "test_wait.py")], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (cache / "ready").exists():
            assert pytest_run.poll() is None and time.monotonic() < deadline, pytest_run.communicate()[0]
            time.sleep(0.05)
        helper = int((cache / "helper.pid").read_text())
        sent = time.monotonic()
        pytest_run.send_signal(signal.SIGINT)  # to the pytest process alone, as `kill -INT` does
        while alive(helper) and time.monotonic() - sent < 30:
            time.sleep(0.05)
        helper_gone = time.monotonic() - sent
        output, _ = pytest_run.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if pytest_run.poll() is None:
            pytest_run.kill()
    assert helper_gone < 5, (helper_gone, output)  # not the minute its chain would still take
    assert pytest_run.returncode == 2 and took < 30, (took, output)  # pytest's interrupted status
    assert f"stopped the training helper process(es) {helper}" in output and "Traceback" not in output, output
    assert [p.name for p in cache.iterdir() if p.name.startswith((".slow", "slow-")) and p.is_dir()] == [], \
        sorted(p.name for p in cache.iterdir())  # no staging folder, no entry
