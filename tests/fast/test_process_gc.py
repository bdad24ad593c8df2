"""The collector policy: collections paused only inside the block, startup objects frozen once per process."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from harness.foundation.process_gc import collector_paused, freeze_startup_objects


@pytest.mark.parametrize("enabled_before", [True, False])
def test_collector_paused_restores_the_previous_state_even_on_error(enabled_before):
    gc.enable() if enabled_before else gc.disable()
    try:
        with pytest.raises(RuntimeError), collector_paused():
            assert not gc.isenabled()
            raise RuntimeError("inside")
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()


def test_startup_objects_are_frozen_once_per_process():
    script = ("import gc; from harness.foundation.process_gc import freeze_startup_objects as f; "
              "before = gc.get_freeze_count(); first = f(); frozen = gc.get_freeze_count(); second = f(); "
              "print(before == 0, first, frozen > 1000, second, gc.get_freeze_count() == frozen)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True", "False", "True"]


def test_this_pytest_process_was_frozen_by_the_plugin():
    assert gc.get_freeze_count() > 0 and freeze_startup_objects() is False
