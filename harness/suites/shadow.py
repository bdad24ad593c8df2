"""Shadow suite (`--shadow OTHER_ADAPTER`): the adapter under test and a shadow adapter on the same prompts."""

from __future__ import annotations

import pytest

from harness.api import reads
from harness.evaluators import shadow
from harness.model.sets import ShadowPair

pytestmark = [pytest.mark.shadow, reads("shadow")]
__all__ = ["pytestmark", "test_shadow_disagreement_is_reported"]


def test_shadow_disagreement_is_reported(request, models_under_test, identity_spec, tunegate) -> None:
    """Identity probes and every task's dev set through both adapters (over one copy of the base);
    disagreements recorded, never gated."""
    s = tunegate.settings
    if not s.shadow:
        pytest.skip("no --shadow: no shadow adapter given")
    other = request.getfixturevalue("shadow_model")
    datasets = shadow.shadow_datasets(s.fixtures, identity_spec)
    tunegate.judge("shadow", ShadowPair(models_under_test.tuned, other), datasets)
    tunegate.record_run("shadow", {"path": str(s.shadow)})
    result = tunegate.results["shadow"]
    for name, examples in datasets.items():  # every prompt compared, and every disagreement listed as evidence
        disagreement = next(m for m in result.metrics if m.name == f"disagreement[{name}]")
        listed = sum(sample.id.startswith(f"{name}/") for sample in result.samples)
        assert disagreement.n == len(examples) and round(disagreement.value * len(examples)) == listed, name
