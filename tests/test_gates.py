"""Gate config parsing and gate checks: errors name the key, messages name value and threshold."""

from __future__ import annotations

import math

import pytest

from harness.evaluators import CAPABILITY_METRICS
from harness.gates import GateConfigError, gate_config_from_mapping, load_gate_config
from harness.results import MetricValue


def config(table):
    return gate_config_from_mapping(table, CAPABILITY_METRICS, "gates.toml")


def test_parses_thresholds_and_off():
    cfg = config({"identity": {"leak_rate": "<= 0", "held_out_claim_rate": ">= 0.9", "locality_unchanged": "off"}})
    assert set(cfg.gates) == {"identity.leak_rate", "identity.held_out_claim_rate"}
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
    gate = config({"identity": {"held_out_claim_rate": ">= 0.9"}}).gates["identity.held_out_claim_rate"]
    ok = gate.check(MetricValue("identity", "held_out_claim_rate", 0.95, 0.8, 0.99, 24))
    bad = gate.check(MetricValue("identity", "held_out_claim_rate", 0.5, 0.3, 0.7, 24), "failing probes (12): x")
    empty = gate.check(MetricValue("identity", "held_out_claim_rate", math.nan, 0.0, 1.0, 0))
    assert ok.passed and not bad.passed and not empty.passed
    assert bad.message.startswith("FAIL identity.held_out_claim_rate = 0.5 (n=24, 95% CI [0.300, 0.700]); "
                                  "required >= 0.9; failing probes (12): x")
    assert "no data" in empty.message


def test_zero_tolerance():
    cfg = config({"identity": {"leak_rate": "<= 0", "held_out_claim_rate": ">= 0.9", "held_in_exact_match": ">= 1"}})
    specs = CAPABILITY_METRICS["identity"]
    assert cfg.gates["identity.leak_rate"].zero_tolerance(specs["leak_rate"])
    assert cfg.gates["identity.held_in_exact_match"].zero_tolerance(specs["held_in_exact_match"])
    assert not cfg.gates["identity.held_out_claim_rate"].zero_tolerance(specs["held_out_claim_rate"])


def test_source_precedence(tmp_path, project_root):
    fixtures = project_root / "fixtures"
    assert load_gate_config(None, tmp_path, fixtures, CAPABILITY_METRICS).source.endswith("fixtures/gates.toml")
    (tmp_path / "pyproject.toml").write_text('[tool.tunegate.gates.identity]\nleak_rate = "<= 0.1"\n')
    from_pyproject = load_gate_config(None, tmp_path, fixtures, CAPABILITY_METRICS)
    assert from_pyproject.to_dict() == {"identity.leak_rate": "<= 0.1"}
    explicit = tmp_path / "mine.toml"
    explicit.write_text('[identity]\nlocality_unchanged = ">= 0.5"\n')
    assert load_gate_config(explicit, tmp_path, fixtures, CAPABILITY_METRICS).to_dict() == {
        "identity.locality_unchanged": ">= 0.5"}
    with pytest.raises(GateConfigError, match=r"missing\.toml: gate config file not found"):
        load_gate_config(tmp_path / "missing.toml", tmp_path, fixtures, CAPABILITY_METRICS)
