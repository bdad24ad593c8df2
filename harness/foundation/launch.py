"""The process variables `accelerate launch` (or torchrun) sets, read one way everywhere: `RANK=" 0"` or `"00"` is
process 0, as the launch check at configure (`harness.plugin.invocation`) reads it."""

from __future__ import annotations

import os
from collections.abc import Mapping


def launch_rank(environ: Mapping[str, str] | None = None) -> int:
    """This process's rank among a launch's processes: 0 outside a launch, or when RANK is no whole number (the
    plugin refuses that at configure).

    >>> launch_rank({}), launch_rank({"RANK": " 00"}), launch_rank({"RANK": "2"}), launch_rank({"RANK": "x"})
    (0, 0, 2, 0)
    """
    value = (os.environ if environ is None else environ).get("RANK", "0").strip()
    return int(value) if value.isdigit() else 0
