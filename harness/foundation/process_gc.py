"""Python's cyclic garbage collector, tuned for a process that has imported torch, transformers and peft.

The imports leave ~400,000 long-lived objects that every full collection would walk again (about 3-4 s of an
18-20 s warm gate on a 2-core CPU): `collector_paused()` holds collections off while the stack imports, and
`freeze_startup_objects()` moves what the imports left into the permanent generation (again at exit, so shutdown
skips the final passes); garbage made afterwards is collected as usual.
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

_FROZEN: list[bool] = []


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block; the collector's previous state afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def freeze_startup_objects() -> bool:
    """Freeze every object alive now (the imported stack) so later collections skip them, and freeze again at
    exit. Acts once per process (later pytest sessions in the same process, e.g. pytester's in-process runs,
    change nothing); returns whether it acted."""
    if _FROZEN:
        return False
    gc.freeze()
    atexit.register(gc.freeze)
    _FROZEN.append(True)
    return True
