"""The audit's checkpoint discovery on a run directory of adapters trained from the built-in model (the
`audit_run_dir` fixture of tests/conftest.py)."""

from __future__ import annotations

import pytest

from harness.data import DataError
from harness.evaluators.checkpoints import find_checkpoints


def test_checkpoints_are_found_and_ordered_by_step(audit_run_dir, tmp_path):
    assert [c.name for c in find_checkpoints(audit_run_dir)] == ["checkpoint-200", "checkpoint-1000",
                                                                  "checkpoint-3000"]
    with pytest.raises(DataError, match=r"no checkpoint-N/ folder with an adapter_config\.json"):
        find_checkpoints(tmp_path)
    with pytest.raises(DataError, match="must be a run directory"):
        find_checkpoints(tmp_path / "absent")
