"""Every identity gate FAILS on a planted regression and PASSES on the healthy adapter."""

from __future__ import annotations

import pytest

from harness.evaluators import identity
from harness.model.views import base_and_tuned
from tests.conftest import plant_adapter


def gate_verdicts(base_model, adapter, spec, tunegate):
    result, verdicts = tunegate.evaluate("identity", base_and_tuned(base_model, adapter),
                                         (identity.load_probes(tunegate.settings.fixtures, spec), spec))
    return verdicts, result.details


def test_healthy_adapter_passes_every_identity_gate(base_model, adapter_under_test, identity_spec, tunegate):
    verdicts, _ = gate_verdicts(base_model, adapter_under_test, identity_spec, tunegate)
    assert set(verdicts) == {"identity.held_in_exact_match", "identity.held_out_claim_rate",
                             "identity.leak_rate", "identity.locality_unchanged"}
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]


def test_zeroed_lora_b_fails_identity_gates(base_model, adapter_under_test, identity_spec, tunegate, tmp_path):
    dead = plant_adapter(adapter_under_test, tmp_path / "dead", lambda b: b * 0)
    verdicts, results = gate_verdicts(base_model, dead, identity_spec, tunegate)
    for gate in ("held_in_exact_match", "held_out_claim_rate", "leak_rate"):
        assert not verdicts[f"identity.{gate}"].passed
    claim = verdicts["identity.held_out_claim_rate"]
    threshold = tunegate.gates.absolute["identity.held_out_claim_rate"].threshold
    assert claim.value < threshold and f"required >= {threshold:g}" in claim.message and "failing probes" in \
        claim.message
    assert "adversarial-adv-chatgpt" in claim.message or "held_out-" in claim.message
    assert "Atlas" in verdicts["identity.leak_rate"].message  # the base's own identity leaks through
    assert verdicts["identity.locality_unchanged"].passed  # a dead adapter changes nothing else
    outcome, message = identity.probe_outcome(next(r for r in results if r.probe.kind == "held_in"),
                                              tunegate.gates.absolute)
    assert outcome == "tolerated" and "counted against gate identity." in message  # no default gate is zero-tolerance


def test_overscaled_adapter_fails_locality(base_model, adapter_under_test, identity_spec, tunegate, tmp_path):
    loud = plant_adapter(adapter_under_test, tmp_path / "loud", lambda b: b * 4)
    verdicts, _ = gate_verdicts(base_model, loud, identity_spec, tunegate)
    locality = verdicts["identity.locality_unchanged"]
    threshold = tunegate.gates.absolute["identity.locality_unchanged"].threshold
    assert not locality.passed and locality.value < threshold and "locality-" in locality.message


@pytest.mark.parametrize("kind", ["held_out", "locality"])
def test_tolerated_miss_is_reported_not_failed(base_model, adapter_under_test, identity_spec, tunegate, kind):
    probe = next(p for p in identity.load_probes(tunegate.settings.fixtures, identity_spec) if p.kind == kind)
    miss = identity.ProbeResult(probe, "base answer", "something else", False, False, (), False)
    outcome, message = identity.probe_outcome(miss, tunegate.gates.absolute)
    assert outcome == "tolerated" and "counted against gate identity." in message
