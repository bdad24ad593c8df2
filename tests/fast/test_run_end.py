"""Baseline rules at the end of a run: never saved from an interrupted or erroring run, refused (exit 4) from a
failing or partial one unless forced, overwrites announced; configured gates not evaluated are listed; a
[baseline] metric missing on either side fails."""

from __future__ import annotations

import json

from harness.capabilities import builtin_capabilities
from harness.foundation.records import GateResult, MetricValue, Sample
from harness.gating.baselines import capability_verdicts, save_baseline
from harness.gating.gate_config import gate_config_from_mapping
from harness.gating.results import RunInfo, RunRecord
from harness.gating.verdict import NOT_COLLECTED, configured_gate_ids, run_verdict, unevaluated_gates
from harness.report.run_end import save_baseline_if_allowed

METRIC_SPECS = builtin_capabilities().metric_specs()

CONFIG = gate_config_from_mapping({"old_task": {"exact_match": ">= 0.85"}, "drift": {"edit_distance": "<= 0.1"},
                                   "baseline": {"old_task.exact_match": "-2%", "perplexity.heldout_ratio": "+5%"}},
                                  METRIC_SPECS, "gates.toml")


def record(passed: bool = True, **run) -> RunRecord:
    gate = GateResult("old_task.exact_match", "old_task", "exact_match", ">=", 0.85, 0.9 if passed else 0.5, passed,
                      "m")
    return RunRecord(RunInfo(**{"id": "r2", "started": "t0", **run}),
                     metrics=[MetricValue("old_task", "exact_match", 0.9)], gates=[gate],
                     samples=[Sample("old_task", "q1", "Q?", "A", "A", "A", {"tuned_correct": True})])


def test_interrupted_or_erroring_runs_never_write_a_baseline(tmp_path):
    path = tmp_path / "release.json"
    for outcome in (save_baseline_if_allowed(path, record(), 2, anyway=True),
                    save_baseline_if_allowed(path, record(errors=1), 1, anyway=True)):
        assert not outcome.saved and not outcome.refused and "NOT saved" in outcome.message
    assert not path.exists()


def test_failing_or_partial_runs_are_refused_unless_forced(tmp_path):
    path = tmp_path / "release.json"
    failing = save_baseline_if_allowed(path, record(passed=False), 1, anyway=False)
    assert failing.refused and "1 gates failed (old_task.exact_match)" in failing.message and not path.exists()
    partial = save_baseline_if_allowed(path, record(deselected=40), 0, anyway=False)
    assert partial.refused and "40 tests were deselected" in partial.message and not path.exists()
    forced = save_baseline_if_allowed(path, record(passed=False), 1, anyway=True)
    assert forced.saved and "despite failed gates" in forced.message and path.is_file()


def test_overwriting_a_baseline_is_announced(tmp_path):
    path = tmp_path / "release.json"
    save_baseline(path, "release", record(id="r1"))
    outcome = save_baseline_if_allowed(path, record(), 0, anyway=False)
    assert outcome.saved and outcome.message.startswith("overwrote baseline 'release' (was saved ")
    assert "run r1" in outcome.message and json.loads(path.read_text())["run"]["id"] == "r2"


def test_saving_over_a_broken_baseline_or_through_a_link(tmp_path):
    """A file that is no baseline (a JSON list) is overwritten, saying so, not a crash; a baseline that is a link
    to a shared file stays a link, and the shared file is rewritten."""
    path = tmp_path / "release.json"
    path.write_text("[1, 2]")
    outcome = save_baseline_if_allowed(path, record(), 0, anyway=False)
    assert outcome.saved and "(was not a baseline tunegate can read)" in outcome.message
    shared, link = tmp_path / "shared.json", tmp_path / "linked.json"
    shared.write_text("{}")
    link.symlink_to(shared)
    assert save_baseline_if_allowed(link, record(), 0, anyway=False).saved
    assert link.is_symlink() and json.loads(shared.read_text())["name"] == "linked"


def test_gates_not_evaluated_are_listed_with_the_reason():
    listed = {e["id"]: e["reason"] for e in unevaluated_gates(CONFIG, record(), has_baseline=False)}
    assert listed == {"drift.edit_distance": "no --baseline given", "baseline.old_task.exact_match":
                      "no --baseline given", "baseline.perplexity.heldout_ratio": "no --baseline given"}
    with_baseline = unevaluated_gates(CONFIG, record(), has_baseline=True)
    assert {e["id"] for e in with_baseline} == set(listed)
    assert all(e["reason"] == NOT_COLLECTED for e in with_baseline)  # nothing said why: the suite was not there
    why = record(sections={"unjudged": {"baseline.perplexity.heldout_ratio": "missing perplexity/heldout.txt: x",
                                        "old_task": "deselected by -m 'identity'"}})
    reasons = {e["id"]: e["reason"] for e in unevaluated_gates(CONFIG, why, has_baseline=True)}
    assert reasons["baseline.perplexity.heldout_ratio"] == "missing perplexity/heldout.txt: x"  # by gate id first
    assert reasons["baseline.old_task.exact_match"] == "deselected by -m 'identity'"  # then by its capability


def test_the_verdict_counts_configured_gates_and_never_passes_what_it_did_not_judge():
    ids = configured_gate_ids(CONFIG, has_baseline=False)
    assert ids == ["old_task.exact_match"]  # [baseline] and [drift] count only under --baseline
    full = record()
    full.run.not_evaluated = unevaluated_gates(CONFIG, full, has_baseline=False)
    assert run_verdict(full, ids, require_all=True).text == "PASS: 1 of 1 configured gates judged"
    nothing = RunRecord(RunInfo("r", "t0", sections={"gated_tests": 2}))  # gated tests ran, none gave a verdict
    nothing.run.not_evaluated = [{"id": "old_task.exact_match", "reason": "missing x: y"}]
    verdict = run_verdict(nothing, ids, require_all=False)
    assert not verdict.passed and verdict.text == ("FAIL (partial): 0 of 1 configured gates judged; 1 not judged "
                                                   "(missing x)")
    ungated = RunRecord(RunInfo("r", "t0"))  # only a suite without gates ran (-m shadow): reported, not judged
    ungated.run.not_evaluated = [{"id": "old_task.exact_match", "reason": "deselected by -m 'shadow'"}]
    verdict = run_verdict(ungated, ids, require_all=False)
    assert verdict.passed and verdict.text.startswith("NOT JUDGED: 0 of 1 configured gates judged")
    assert not run_verdict(ungated, ids, require_all=True).passed
    failing = record(passed=False)
    assert run_verdict(failing, ids, require_all=False).text == "FAIL: 1 of 1 configured gates judged, 1 failed"


def test_a_baseline_metric_missing_on_either_side_fails_naming_it(tmp_path):
    path = tmp_path / "partial.json"
    save_baseline(path, "partial", RunRecord(RunInfo("r0", "t0"), metrics=[MetricValue("identity", "leak_rate", 0.0)]))
    stored = json.loads(path.read_text())
    verdicts, _, _ = capability_verdicts(stored, "old_task", record().metrics, record().samples, CONFIG, True)
    missing = verdicts["baseline.old_task.exact_match"]
    assert not missing.passed and "the stored baseline 'partial' has no old_task.exact_match" in missing.message
    drift = verdicts["drift.edit_distance[old_task]"]
    assert not drift.passed and "holds no old_task outputs" in drift.message
    full = record()
    full.metrics.append(MetricValue("perplexity", "heldout_ratio", 1.0))
    save_baseline(path, "full", full)
    verdicts, _, _ = capability_verdicts(json.loads(path.read_text()), "perplexity", [], [], CONFIG, False)
    assert "this run has no perplexity.heldout_ratio" in verdicts["baseline.perplexity.heldout_ratio"].message
    verdicts, metrics, _ = capability_verdicts(json.loads(path.read_text()), "old_task", record().metrics,
                                               record().samples, CONFIG, True)
    assert all(v.passed for v in verdicts.values()) and {m.name for m in metrics} == {
        "changed_answer_rate[old_task]", "edit_distance[old_task]"}
