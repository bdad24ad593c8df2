"""Latency gates FAIL on an artificially slowed model and PASS on the healthy adapter, in the same run, on an
idle machine and while two busy processes load both cores (a shared CI runner); xdist runs skip the suite."""

from __future__ import annotations

import multiprocessing
import time
from contextlib import contextmanager
from functools import partial

import pytest

from harness.data import load_examples
from harness.evaluators import latency
from harness.model.sets import LatencyViews
from harness.model.views import plain_base
from tests.conftest import verdicts_of
from tests.plants import SlowedModel

FAST = latency.LatencySettings(prompts=8, new_tokens=16, min_rounds=5, max_rounds=20, budget_s=3.0)


@pytest.fixture(scope="module")
def prompts(tunegate):
    return [ex.messages for ex in load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")]


def judged(models, prompts, tunegate):
    return verdicts_of(tunegate, "latency", models, prompts, partial(latency.evaluate, how=FAST))


def _spin(deadline: float) -> None:
    while time.monotonic() < deadline:
        sum(i * i for i in range(10_000))


@contextmanager
def busy_cpu(processes: int = 2, seconds: float = 120):
    """`processes` busy-looping processes (one per core here), stopped on exit or after `seconds` at most."""
    context = multiprocessing.get_context("spawn")
    hogs = [context.Process(target=_spin, args=(time.monotonic() + seconds,), daemon=True) for _ in range(processes)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        for hog in hogs:
            hog.terminate()
            hog.join(timeout=5)


@pytest.mark.parametrize("load", ["idle", "two busy processes"])
def test_slowed_model_fails_and_healthy_passes_latency_gates(base_model, models_under_test, merged_model, prompts,
                                                              tunegate, load):
    base, tuned = plain_base(base_model), models_under_test.tuned
    healthy_views = LatencyViews(base, tuned, merged_model)
    slowed_views = LatencyViews(base, SlowedModel(tuned), SlowedModel(merged_model))
    with busy_cpu(2 if load != "idle" else 0):
        healthy = judged(healthy_views, prompts, tunegate)
        slowed = judged(slowed_views, prompts, tunegate)
    assert set(healthy) == {f"latency.{m}" for m in latency.METRICS}
    false_alarms = [v.message for v in healthy.values() if not v.passed]
    assert not false_alarms, false_alarms
    missed = [v.message for v in slowed.values() if v.passed]
    assert not missed, missed  # the planted slowdown is still caught
    assert "tokens/s" in slowed["latency.throughput_ratio"].message
    assert all("re-measured after a first FAIL" in v.message and "confirmed the FAIL" in v.message
               for v in slowed.values())  # a timing FAIL counts only when the re-measurement confirms it
