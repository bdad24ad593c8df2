"""The audit history file: one row per run, checkpoint, task and metric, appended night after night.

CSV or Parquet by the file's suffix (pandas). Appending happens under a file lock (concurrent runs lose no
row) and rewrites the file atomically (temp file + rename), so an interrupted run never corrupts the history.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from filelock import FileLock

from harness.foundation.cache import atomic_output

COLUMNS = ["run_id", "time", "checkpoint", "step", "task", "metric", "value"]


def read_history(path: Path) -> pd.DataFrame:
    """The history so far (empty with the right columns when the file does not exist)."""
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if missing := [c for c in COLUMNS if c not in frame.columns]:
        raise ValueError(f"{path}: not a tunegate history file (missing columns {missing})")
    return frame


def append_history(path: Path, rows: list[dict]) -> pd.DataFrame:
    """Append `rows` (dicts with COLUMNS) to the history file under a file lock; returns the whole history."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"), atomic_output(path) as tmp:
        frame = pd.concat([read_history(path), pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return frame
