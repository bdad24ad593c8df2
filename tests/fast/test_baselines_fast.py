"""Baselines without a model: relative bounds parse and check, failing or interrupted runs never become a baseline (the
plugin on a one-gate suite), and an identical shadow disagrees nowhere (fake models)."""

from __future__ import annotations

import pytest

from harness.foundation.records import MetricValue
from harness.gating.gate_config import parse_relative_gates
from harness.gating.gates import GateConfigError
from harness.model.sets import ShadowPair

REGISTRY_METRIC = MetricValue("old_task", "exact_match", 0.9)


def test_relative_bounds_parse_and_check():
    from harness.capabilities import builtin_capabilities

    specs = builtin_capabilities().metric_specs()
    gates = parse_relative_gates({"old_task.exact_match": "-2%", "perplexity.heldout_ratio": "+0.05"},
                                 specs, "gates.toml")
    drop, rise = gates["baseline.old_task.exact_match"], gates["baseline.perplexity.heldout_ratio"]
    assert drop.limit(0.9) == pytest.approx(0.882) and rise.limit(1.0) == pytest.approx(1.05)
    assert drop.check(REGISTRY_METRIC, MetricValue("old_task", "exact_match", 0.885)).passed
    failed = drop.check(REGISTRY_METRIC, MetricValue("old_task", "exact_match", 0.8))
    assert not failed.passed and "baseline 0.9 -> now 0.8 (delta -0.1, -11.1%); bound -2% (limit 0.882)" in \
        failed.message
    with pytest.raises(GateConfigError, match=r"gates.toml: \[baseline\] 'old_task.nope' is not a known"):
        parse_relative_gates({"old_task.nope": "-2%"}, specs, "gates.toml")
    with pytest.raises(GateConfigError, match="expected a signed bound"):
        parse_relative_gates({"old_task.exact_match": "2%"}, specs, "gates.toml")


def test_a_metric_stored_as_null_fails_its_baseline_gate_saying_why():
    """null is what --save-baseline writes for a metric it could not measure: the gate cannot compare with it."""
    from harness.capabilities import builtin_capabilities
    from harness.gating.baselines import relative_gate_results
    from harness.gating.gate_config import GateConfig

    specs = builtin_capabilities().metric_specs()
    config = GateConfig({}, "test", parse_relative_gates({"old_task.exact_match": "-2%"}, specs, "gates.toml"))
    stored = {"name": "release", "metrics": [{"capability": "old_task", "name": "exact_match", "value": None,
                                              "checkpoint": "tuned"}], "samples": {}}
    [verdict] = relative_gate_results(stored, "old_task", [REGISTRY_METRIC], [], config).values()
    assert not verdict.passed and "the stored baseline 'release' (null there: not measured when it was saved) " \
        "has no old_task.exact_match" in verdict.message


FAKE_SUITE = """
    import pytest
    from harness.foundation.records import GateResult, MetricValue

    def test_gate(tunegate):
        value = {value}
        tunegate.record_metrics([MetricValue("old_task", "exact_match", value)])
        tunegate.enforce(GateResult("old_task.exact_match", "old_task", "exact_match", ">=", 0.85, value,
                                    value >= 0.85, f"exact match {{value}}"))
"""


def run_fake_suite(pytester, project_root, value: float, *args: str):
    """The plugin on a one-gate suite (no model): fast checks of what the end of a run does with a baseline."""
    pytester.makepyfile(test_fake_suite=FAKE_SUITE.format(value=value))
    return pytester.runpytest_inprocess("-p", "harness.plugin", "-p", "no:cacheprovider", "--data-dir",
                                        str(project_root / "fixtures"), "--report-dir",
                                        str(pytester.path / "reports"), *args, no_reraise_ctrlc=True)


def test_failing_or_interrupted_runs_never_write_a_baseline(pytester, project_root, tmp_path):
    folder = tmp_path / "baselines"
    failing = run_fake_suite(pytester, project_root, 0.5, "--save-baseline", "bad", "--baseline-dir", str(folder))
    assert failing.ret == 4 and not (folder / "bad.json").exists()
    failing.stdout.fnmatch_lines(["baseline 'bad' refused: 1 gates failed (old_task.exact_match)*"])
    assert (pytester.path / "reports" / "latest" / "results.json").is_file()  # the run's own report is kept
    pytester.makepyfile(interrupter="""
        def pytest_runtest_call(item):
            raise KeyboardInterrupt
    """)
    pytester.syspathinsert()
    interrupted = run_fake_suite(pytester, project_root, 0.9, "-p", "interrupter", "--save-baseline", "cut",
                                 "--save-baseline-anyway", "--baseline-dir", str(folder))
    assert interrupted.ret == 2 and not (folder / "cut.json").exists()
    interrupted.stdout.fnmatch_lines(["baseline 'cut' NOT saved: *"])
    good = run_fake_suite(pytester, project_root, 0.9, "--save-baseline", "good", "--baseline-dir", str(folder))
    assert good.ret == 0 and (folder / "good.json").is_file()
    again = run_fake_suite(pytester, project_root, 0.9, "--save-baseline", "good", "--baseline-dir", str(folder))
    again.stdout.fnmatch_lines(["overwrote baseline 'good' (was saved *, run *) at *good.json"])


def test_an_identical_shadow_disagrees_nowhere():
    from harness.evaluators import shadow
    from tests.fakes import fake_pair, question_set

    questions = question_set()
    _, tuned = fake_pair(questions)
    _, other = fake_pair(questions)
    result = shadow.evaluate(ShadowPair(tuned, other), {"questions": questions})
    assert [m.value for m in result.metrics] == [0, 0] and not result.samples
    _, wrong = fake_pair(questions, wrong=4)
    changed = shadow.evaluate(ShadowPair(tuned, wrong), {"questions": questions})
    assert changed.metrics[0].value == pytest.approx(4 / 40) and len(changed.samples) == 4
