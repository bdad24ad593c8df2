"""Gate config parsing and gate checks: errors name the key, messages name value and threshold."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.capabilities import builtin_capabilities
from harness.foundation.records import MetricValue
from harness.gating.gate_config import gate_config_from_mapping, load_gate_config
from harness.gating.gates import GateConfigError, decide

METRIC_SPECS = builtin_capabilities().metric_specs()


def config(table):
    return gate_config_from_mapping(table, METRIC_SPECS, "gates.toml")


def test_parses_thresholds_and_off():
    cfg = config({"identity": {"leak_rate": "<= 0", "held_out_claim_rate": ">= 0.9", "locality_unchanged": "off"}})
    assert set(cfg.absolute) == {"identity.leak_rate", "identity.held_out_claim_rate"}
    assert cfg.to_dict()["identity.held_out_claim_rate"] == ">= 0.9"


@pytest.mark.parametrize(("table", "fragment"), [
    ({"identiti": {}}, "unknown capability 'identiti'"),
    ({"identity": {"claim_rate": ">= 0.9"}}, "unknown metric identity.claim_rate"),
    ({"identity": {"leak_rate": "0"}}, "identity.leak_rate: expected a string"),
    ({"identity": {"held_out_claim_rate": ">= 1.5"}}, "identity.held_out_claim_rate: threshold 1.5 is outside"),
    ({"identity": {"held_out_claim_rate": "> 1"}}, "can never be met"),
    ({"identity": {"leak_rate": "< 0"}}, "can never be met"),
])
def test_bad_config_names_the_key(table, fragment):
    with pytest.raises(GateConfigError, match=r"gates\.toml") as err:
        config(table)
    assert fragment in str(err.value)


def test_check_pass_fail_and_nan():
    gate = config({"identity": {"held_out_claim_rate": ">= 0.9"}}).absolute["identity.held_out_claim_rate"]
    ok = gate.check(MetricValue("identity", "held_out_claim_rate", 0.95, 0.8, 0.99, 24))
    bad = gate.check(MetricValue("identity", "held_out_claim_rate", 0.5, 0.3, 0.7, 24), "failing probes (12): x")
    empty = gate.check(MetricValue("identity", "held_out_claim_rate", math.nan, 0.0, 1.0, 0))
    assert ok.passed and not bad.passed and not empty.passed
    assert bad.message.startswith("FAIL identity.held_out_claim_rate = 0.5 (n=24, 95% CI [0.300, 0.700]); "
                                  "required >= 0.9; decided by point estimate; failing probes (12): x")
    assert "no data" in empty.message


def test_zero_tolerance():
    cfg = config({"identity": {"leak_rate": "<= 0", "held_out_claim_rate": ">= 0.9", "held_in_exact_match": ">= 1"}})
    specs = METRIC_SPECS["identity"]
    assert cfg.absolute["identity.leak_rate"].zero_tolerance(specs["leak_rate"])
    assert cfg.absolute["identity.held_in_exact_match"].zero_tolerance(specs["held_in_exact_match"])
    assert not cfg.absolute["identity.held_out_claim_rate"].zero_tolerance(specs["held_out_claim_rate"])


def test_source_precedence(tmp_path, project_root):
    fixtures = project_root / "fixtures"
    assert load_gate_config(None, tmp_path, fixtures, METRIC_SPECS).source.endswith("fixtures/gates.toml")
    (tmp_path / "pyproject.toml").write_text('[tool.tunegate.gates.identity]\nleak_rate = "<= 0.1"\n')
    from_pyproject = load_gate_config(None, tmp_path, fixtures, METRIC_SPECS)
    assert from_pyproject.to_dict() == {"identity.leak_rate": "<= 0.1"}
    explicit = tmp_path / "mine.toml"
    explicit.write_text('[identity]\nlocality_unchanged = ">= 0.5"\n')
    assert load_gate_config(explicit, tmp_path, fixtures, METRIC_SPECS).to_dict() == {
        "identity.locality_unchanged": ">= 0.5"}
    with pytest.raises(GateConfigError, match=r"missing\.toml: gate config file not found"):
        load_gate_config(tmp_path / "missing.toml", tmp_path, fixtures, METRIC_SPECS)


def test_rules_parse_and_are_kept_in_the_effective_config():
    cfg = config({"old_task": {"exact_match": ">= 0.85 beyond noise", "exact_match_drop": "<= 0.05 confident"},
                  "baseline": {"old_task.exact_match": "-2% beyond noise"}})
    assert cfg.absolute["old_task.exact_match"].rule == "beyond noise"
    assert cfg.to_dict() == {"old_task.exact_match": ">= 0.85 beyond noise",
                             "old_task.exact_match_drop": "<= 0.05 confident",
                             "baseline.old_task.exact_match": "-2% beyond noise"}
    with pytest.raises(GateConfigError, match="beyond noise"):
        config({"old_task": {"exact_match": ">= 0.85 maybe"}})


def test_each_rule_decides_and_says_so():
    gate = config({"old_task": {"exact_match": ">= 0.85 beyond noise"}}).absolute["old_task.exact_match"]
    within = gate.check(MetricValue("old_task", "exact_match", 0.83, 0.78, 0.88, 182))
    real = gate.check(MetricValue("old_task", "exact_match", 0.75, 0.68, 0.81, 182))
    assert within.passed and "beyond noise: point 0.83 misses, but the 95% CI [0.78, 0.88] reaches 0.85" in \
        within.message
    assert not real.passed and "decided by beyond noise: the whole 95% CI [0.68, 0.81] misses 0.85" in real.message
    sure = config({"old_task": {"exact_match": ">= 0.85 confident"}}).absolute["old_task.exact_match"]
    unsure = sure.check(MetricValue("old_task", "exact_match", 0.9, 0.84, 0.94, 182))
    assert not unsure.passed and "confident: point 0.9 passes, but the 95% CI [0.84, 0.94] reaches past 0.85" in \
        unsure.message
    assert sure.check(MetricValue("old_task", "exact_match", 0.95, 0.91, 0.97, 182)).passed
    no_ci = sure.check(MetricValue("old_task", "exact_match", 0.9))
    assert no_ci.passed and "point estimate (no CI for confident)" in no_ci.message


def test_power_warning_flags_a_gate_too_small_for_its_threshold():
    gate = config({"identity": {"held_out_claim_rate": ">= 0.9"}}).absolute["identity.held_out_claim_rate"]
    small = gate.check(MetricValue("identity", "held_out_claim_rate", 22 / 24, 0.742, 0.977, 24))
    large = gate.check(MetricValue("identity", "held_out_claim_rate", 0.95, 0.91, 0.972, 224))
    assert small.mde == pytest.approx(0.168, abs=0.001) and small.warning.startswith("underpowered: with n=24")
    assert "underpowered" in small.message and small.passed
    assert large.warning is None and large.mde < 0.1
    far = gate.check(MetricValue("identity", "held_out_claim_rate", 0.5, 0.3, 0.7, 24))
    assert far.mde > 0.1 and far.warning is None  # wide, but nowhere near its threshold: decided regardless


OPS = st.sampled_from([">=", "<=", ">", "<"])
UNIT = st.floats(0, 1, allow_nan=False)


@st.composite
def measurements(draw):
    """(op, threshold, value, (ci_low, ci_high)) with the CI around the value."""
    value = draw(UNIT)
    low, high = value - draw(st.floats(0, 0.5)), value + draw(st.floats(0, 0.5))
    return draw(OPS), draw(UNIT), value, (low, high)


@given(measurements())
def test_beyond_noise_never_fails_when_the_point_estimate_passes(case):
    op, threshold, value, ci = case
    if decide(op, threshold, value, ci, "point")[0]:
        assert decide(op, threshold, value, ci, "beyond noise")[0]


@given(measurements())
def test_confident_never_passes_when_the_point_estimate_fails(case):
    op, threshold, value, ci = case
    if not decide(op, threshold, value, ci, "point")[0]:
        assert not decide(op, threshold, value, ci, "confident")[0]


@given(measurements())
def test_rules_are_ordered_confident_then_point_then_beyond_noise(case):
    op, threshold, value, ci = case
    verdicts = [decide(op, threshold, value, ci, rule)[0] for rule in ("confident", "point", "beyond noise")]
    assert verdicts == sorted(verdicts)  # a pass under a stricter rule implies a pass under every looser one


def test_graded_by_maps_an_adapter_path_to_the_capabilities_that_grade_it(tmp_path):
    grading = builtin_capabilities().grading(named=True)
    config = gate_config_from_mapping({"graded_by": {"*/task-*": ["new_task", "old_task"], "*": ["old_task"]}},
                                      METRIC_SPECS, "gates.toml", grading=grading)
    rule = "gates.toml [graded_by] '*/task-*'"
    assert config.grading(tmp_path / "runs" / "task-3") == (("new_task", "old_task"), rule)
    assert config.grading(tmp_path / "sft")[0] == ("old_task",)
    assert gate_config_from_mapping({}, METRIC_SPECS, "gates.toml").grading(tmp_path / "sft") is None
    assert "new_task" in builtin_capabilities().grading() and "forgetting" not in grading


@pytest.mark.parametrize(("table", "fragment"), [
    ({"ckpt-*": ["forgetting"]}, "gates.toml: [graded_by] 'ckpt-*': forgetting cannot grade a model you bring"),
    ({"ckpt-*": "old_task"}, "gates.toml: [graded_by] 'ckpt-*': expected a list of capability names"),
    (["old_task"], "gates.toml: [graded_by] must be a table"),
])
def test_a_bad_graded_by_rule_names_the_key(table, fragment):
    with pytest.raises(GateConfigError, match=re.escape(fragment)):
        gate_config_from_mapping({"graded_by": table}, METRIC_SPECS, "gates.toml",
                                 grading=builtin_capabilities().grading(named=True))
