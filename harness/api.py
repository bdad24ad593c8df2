"""tunegate's public API: what suites and plugins outside this package may import (docs/api.md).

The suites `tunegate init` writes import only `harness.suites.<capability>` (the capability suites themselves,
shipped in the package, so upgrading tunegate upgrades them); a suite or capability of your own imports from
here. Everything else under `harness` is internal and may change between releases.
"""

from __future__ import annotations

from harness.capabilities import Capability, CapabilityError, CapabilityRegistry
from harness.data import DataError, Example, IdentitySpec, load_examples, load_identity_spec
from harness.foundation.records import CapabilityResult, GateResult, MetricSpec, MetricValue, Sample
from harness.measures.item_gates import paired
from harness.measures.metrics import text_language
from harness.measures.statistics import rate, wilson_interval
from harness.model.protocol import LanguageModel
from harness.model.sets import ModelSet
from harness.plugin import parametrize_gates, tunegate_state
from harness.plugin.selection import missing_data, reads
from harness.plugin.state import SessionState

__all__ = [
    "Capability",
    "CapabilityError",
    "CapabilityRegistry",
    "CapabilityResult",
    "DataError",
    "Example",
    "GateResult",
    "IdentitySpec",
    "LanguageModel",
    "MetricSpec",
    "MetricValue",
    "ModelSet",
    "Sample",
    "SessionState",
    "load_examples",
    "load_identity_spec",
    "missing_data",
    "paired",
    "parametrize_gates",
    "rate",
    "reads",
    "text_language",
    "tunegate_state",
    "wilson_interval",
]
