"""Latency's rules without a model: a timing FAIL counts only when the re-measurement confirms it, load bursts are
ignored, the settings are validated."""

from __future__ import annotations

import pytest

from harness.evaluators import latency
from harness.measures.statistics import fast_half_mean, ratio_ci
from harness.model.sets import LatencyViews
from tests.conftest import verdicts_of
from tests.fakes import FakeModel


def test_a_gate_fails_only_when_the_re_measurement_confirms_it(tunegate):
    """First measurement: throughput passes, TTFT fails; second: throughput fails, TTFT passes. Neither failure
    was confirmed, so every gate passes, and the message says a re-measurement decided."""
    def timings(gen_tuned: float, first_tuned: float) -> latency.Timings:
        rounds = latency.LatencySettings(min_rounds=3).min_rounds
        return latency.Timings(latency.LatencySettings(min_rounds=3), 8,
                               {"base": [1.0] * rounds, "tuned": [gen_tuned] * rounds, "merged": [1.0] * rounds},
                               {"base": [0.01] * rounds, "tuned": [first_tuned] * rounds,
                                "merged": [0.01] * rounds})
    measurements = iter([timings(1.0, 0.05), timings(5.0, 0.01)])
    views = LatencyViews(FakeModel("base", {}), FakeModel("tuned", {}))
    verdicts = verdicts_of(tunegate, "latency", views, [], lambda *_: latency.timings_result(next(measurements)))
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]
    assert "the re-measurement passed" in verdicts["latency.ttft_ratio"].message
    assert "re-measured" not in verdicts["latency.throughput_ratio"].message


def test_fast_half_mean_ignores_load_bursts():
    rounds = [1.0, 1.02, 0.99, 5.0, 1.01, 7.5]  # two rounds hit by a burst
    assert fast_half_mean(rounds) == pytest.approx(1.0)
    ratio, low, high, n = ratio_ci([2.0, 2.1, 9.0, 2.0], [1.0, 1.0, 1.05, 4.0])
    assert ratio == pytest.approx(2.0) and low <= ratio <= high and n == 4


def test_latency_settings_are_validated():
    with pytest.raises(ValueError, match=r"LatencySettings.min_rounds must be > 0"):
        latency.LatencySettings(min_rounds=0)
    with pytest.raises(ValueError, match=r"max_rounds \(3\) must be >= min_rounds \(5\)"):
        latency.LatencySettings(max_rounds=3)
