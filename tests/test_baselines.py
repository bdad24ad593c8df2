"""CI regression against stored baselines: save from a good adapter, then a planted regression fails with
metric, baseline value, new value, delta and bound; drift is measured; failing or interrupted runs never become
a baseline; a shadow adapter's disagreement is reported."""

from __future__ import annotations

import json

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


def test_saved_baseline_then_planted_regression_fails(run_suites, forgetting_adapter, tmp_path):
    """On the built-in suites (the plugin's baseline rules are tested fast in test_plugin.py): a baseline saved
    from a partial run on the healthy adapter, then the forgetting adapter compared with it."""
    folder, selection = tmp_path / "baselines", ("-m", "old_task or identity")
    result, _ = run_suites(*selection, "--save-baseline", "release", "--save-baseline-anyway", "--baseline-dir",
                           str(folder))
    assert result.ret == 0 and (folder / "release.json").is_file()
    result.stdout.fnmatch_lines(["saved baseline 'release' at *release.json"])
    saved = (folder / "release.json").read_bytes()
    stored = json.loads(saved)
    assert stored["name"] == "release" and any(k.startswith("old_task/") for k in stored["samples"])

    result, report_dir = run_suites("-m", "old_task or perplexity", "--adapter", str(forgetting_adapter),
                                    "--baseline", "release", "--baseline-dir", str(folder))
    assert result.ret == 1
    gates = {g["id"]: g for g in json.loads((report_dir / "latest" / "results.json").read_text())["gates"]}
    verdict = gates["baseline.old_task.exact_match"]
    dev_items = len([k for k in stored["samples"] if k.startswith("old_task/")])
    before = next(m["value"] for m in stored["metrics"] if (m["capability"], m["name"], m["checkpoint"]) ==
                  ("old_task", "exact_match", "tuned"))
    assert verdict["message"].startswith(f"FAIL baseline.old_task.exact_match: baseline {before:.4g} -> now "
                                         f"{verdict['value']:.4g}")
    assert verdict["value"] < verdict["threshold"] == pytest.approx(before * 0.98)  # bound -2% of the baseline
    assert "bound -2%" in verdict["message"] and f"paired on {dev_items} items: change -" in verdict["message"]
    assert not gates["drift.changed_answer_rate[old_task]"]["passed"]
    missing = gates["baseline.perplexity.heldout_ratio"]  # the stored baseline lacks it: fails, never dropped
    assert not missing["passed"] and "the stored baseline 'release' has no perplexity.heldout_ratio" in \
        missing["message"]
    html = (report_dir / "latest" / "report.html").read_text()
    assert "<h2 id='drift'>" in html and "baseline.old_task.exact_match" in html
    assert (folder / "release.json").read_bytes() == saved  # nothing overwrites a baseline without --save


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


def test_shadow_reports_disagreement(run_suites, adapter_under_test, tmp_path):
    from tests.conftest import plant_adapter

    dead = plant_adapter(adapter_under_test, tmp_path / "dead", lambda b: b * 0)
    result, report_dir = run_suites("-m", "shadow", "--shadow", str(dead))  # no gate of its own: reported, passes
    assert result.ret == 0, result.stdout.str()[-2000:]
    data = json.loads((report_dir / "latest" / "results.json").read_text())
    rates = {m["name"]: m["value"] for m in data["metrics"] if m["capability"] == "shadow"}
    assert set(rates) >= {"disagreement[identity]", "disagreement[base]", "disagreement[increment_1]"}
    shown = [s for s in data["samples"] if s["capability"] == "shadow"]
    assert rates["disagreement[identity]"] >= 0.4 and shown  # every identity probe; locality agrees
    assert data["run"]["shadow"]["path"] == str(dead)


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
