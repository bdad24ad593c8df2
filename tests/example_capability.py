"""The worked example in examples/answer_language and its registry: shared by tests/fast/test_examples_fast.py and
tests/e2e/test_examples.py."""

from __future__ import annotations

import importlib.util

from harness.capabilities import builtin_capabilities
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "answer_language"


def example_registry():
    """The built-in registry plus what the example's conftest hook adds."""
    spec = importlib.util.spec_from_file_location("answer_language_conftest", EXAMPLE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registry = builtin_capabilities()
    module.pytest_tunegate_capabilities(registry=registry, config=None)
    return registry
