"""Progress bars for training and evaluation: shown on an interactive terminal, silent under CI or pipes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

from harness.foundation.launch import launch_rank


def progress_enabled() -> bool:
    """True when a human is watching: stderr is a terminal, CI is not set, and this is the first (or only)
    process of an `accelerate launch`."""
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"} or launch_rank():
        return False
    stream = sys.__stderr__
    return bool(stream and stream.isatty())


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "") -> tqdm:
    """A tqdm bar on the real stderr (pytest's capture cannot swallow it), disabled when nobody watches."""
    return tqdm(iterable, total=total, desc=desc, file=sys.__stderr__, disable=not progress_enabled(),
                leave=False, dynamic_ncols=True)
