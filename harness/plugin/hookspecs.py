"""tunegate's pytest hooks, for plugins and conftest files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.capabilities import CapabilityRegistry


@pytest.hookspec
def pytest_tunegate_capabilities(registry: CapabilityRegistry, config: pytest.Config) -> None:
    """Add capabilities to the run's registry: `registry.add(Capability(...))`.

    Called once per run in `pytest_configure`, before markers are registered and the gate config is read, so
    the new capability gets its marker and its gates (from the gate config, else its `default_gates`). Implement
    it in a plugin or in a conftest.py that pytest loads at start-up: the rootdir's, or one in a directory named
    on the command line (conftest files deeper in the tree are read after configuration, too late).
    """
