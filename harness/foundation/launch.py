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
    return _whole_variable("RANK", 0, environ)


def launch_world_size(environ: Mapping[str, str] | None = None) -> int:
    """How many processes the launch has: 1 outside a launch, or when WORLD_SIZE is no whole number (refused at
    configure).

    >>> launch_world_size({}), launch_world_size({"WORLD_SIZE": " 2"}), launch_world_size({"WORLD_SIZE": "two"})
    (1, 2, 1)
    """
    return _whole_variable("WORLD_SIZE", 1, environ)


def _whole_variable(name: str, default: int, environ: Mapping[str, str] | None) -> int:
    """Environment variable `name` as a whole number; `default` when unset or not one."""
    value = (os.environ if environ is None else environ).get(name, str(default)).strip()
    return int(value) if value.isdigit() else default
