"""Where a run's tunegate state lives in pytest's config stash: light, so the plugin reads it before the stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.plugin.state import SessionState

STATE: pytest.StashKey[SessionState] = pytest.StashKey()  # the session state of a run that uses tunegate
DORMANT = pytest.StashKey[str]()  # why tunegate sleeps in this run: no gate config was found
DESELECTED_MARKS = pytest.StashKey[dict[str, int]]()  # marker name -> how many deselected tests carry it
