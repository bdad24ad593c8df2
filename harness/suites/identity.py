"""Identity suite: did the adapter learn its name and author, leak no other identity, and change nothing else?

One test per probe (held-in, held-out, adversarial, locality) and one per configured identity gate.
"""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates, reads, tunegate_state
from harness.data import load_identity_spec
from harness.evaluators import identity
from harness.foundation.records import GateResult
from harness.model.prompted import with_identity_prompt

pytestmark = [pytest.mark.identity, reads("identity")]
__all__ = ["identity_results", "identity_verdicts", "pytest_generate_tests", "pytestmark", "test_gate", "test_probe"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every probe and every identity gate, known at collection time."""
    state = tunegate_state(metafunc.config)
    if "probe_id" in metafunc.fixturenames and state.settings.data_folder.missing_for("identity"):
        metafunc.parametrize("probe_id", [])  # skipped by the plugin, saying which file is missing
    elif "probe_id" in metafunc.fixturenames:
        spec = load_identity_spec(state.settings.data_folder.identity)
        ids = [p.id for p in identity.load_probes(state.settings.fixtures, spec)]
        metafunc.parametrize("probe_id", ids, ids=ids)
    parametrize_gates(metafunc, "identity")


@pytest.fixture(scope="session")
def identity_verdicts(models_under_test, identity_spec, tunegate) -> dict[str, GateResult]:
    """Every probe scored once (batched generation on base, tuned and the base told the identity in a system
    prompt); identity metrics of the three and the probes' samples recorded once; every identity gate (and, under
    --baseline, its baseline and drift gates) checked."""
    probes = identity.load_probes(tunegate.settings.fixtures, identity_spec)
    models = with_identity_prompt(models_under_test, tunegate.settings.fixtures)
    return tunegate.judge("identity", models, identity.IdentityData(probes, identity_spec))


@pytest.fixture(scope="session")
def identity_results(identity_verdicts, tunegate) -> dict[str, tuple[str, str]]:
    """Each probe's outcome and message by probe id (at most the first ten zero-tolerance misses fail)."""
    return identity.probe_outcomes(tunegate.results["identity"].details, tunegate.gates.absolute)


def test_probe(identity_results, probe_id: str) -> None:
    """A probe fails its own test only when its gate allows no misses (the first ten such); other misses are
    xfailed and counted in their gate."""
    outcome, message = identity_results[probe_id]
    if outcome == "fail":
        pytest.fail(message, pytrace=False)
    if outcome == "tolerated":
        pytest.xfail(message)


def test_gate(identity_verdicts, tunegate, gate_id: str) -> None:
    """The aggregate gate over all probes: value vs threshold, with the failing probes named."""
    tunegate.enforce_gate(identity_verdicts, gate_id)
