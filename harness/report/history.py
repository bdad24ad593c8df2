"""The audit history file: one row per run, checkpoint, task and metric, appended night after night.

CSV or Parquet by the file's suffix (pandas). Appending happens under a file lock (concurrent runs lose no
row) and rewrites the file atomically (temp file + rename), so an interrupted run never corrupts the history; a
history file that is a symbolic link (to a shared file elsewhere) stays a link, and its target is rewritten.
Reading checks the file is one: every column, every CSV row as many fields as the header, numbers where the
nightly trend reads them.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pandas as pd
from filelock import FileLock

from harness.data import DataError
from harness.foundation.cache import atomic_output
from harness.foundation.errors import summary
from harness.foundation.textfiles import read_text_file

COLUMNS = ["run_id", "time", "checkpoint", "step", "task", "metric", "value"]
NUMERIC = {"step": ("a whole number", True), "value": ("a number (or empty: not measured)", False)}
FIX = "fix or move the file (a new one is started when it is missing)"


class HistoryError(DataError):
    """The audit history file is not one: the message names the file and, where known, the line and column."""


def read_history(path: Path) -> pd.DataFrame:
    """The history so far (empty with the right columns when the file does not exist); a HistoryError naming
    the file, line and column when it cannot be read as one."""
    if not path.is_file():
        return pd.DataFrame(columns=COLUMNS)
    parquet = path.suffix == ".parquet"
    text = "" if parquet else read_text_file(path, HistoryError, "audit history file")
    try:
        lines = [] if parquet else _row_lines(path, text)
        frame = pd.read_parquet(path) if parquet else pd.read_csv(io.StringIO(text))
    except HistoryError:
        raise
    except Exception as err:  # pandas and pyarrow raise many types; all mean "unreadable"
        raise HistoryError(f"{path}: unreadable audit history ({type(err).__name__}: {summary(err)}); {FIX}") from err
    if missing := [c for c in COLUMNS if c not in frame.columns]:
        raise HistoryError(f"{path}: not a tunegate history file (missing columns {missing}); {FIX}")
    for column, (expected, whole) in NUMERIC.items():
        if (row := _first_not_a_number(frame[column], whole, parquet)) is not None:
            where = f"{path}: row {row + 1}," if parquet else f"{path}:{lines[row]}:"
            value = frame[column].iloc[row]
            raise HistoryError(f"{where} column {column!r} is {'empty' if pd.isna(value) else repr(str(value))}, "
                               f"expected {expected}; {FIX}")
    return frame


def _row_lines(path: Path, text: str) -> list[int]:
    """The line each data row of a CSV history (`text`, read from `path`) ends on; a HistoryError naming the first
    row whose field count is not the header's (pandas fills a short row with empty values, and takes a long first
    row's extra field as an index, shifting every column)."""
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)  # an unclosed quote is an error, not one field
    header, lines = next(rows, []), []
    for row in rows:
        if row and len(row) != len(header):
            raise HistoryError(f"{path}:{rows.line_num}: {len(row)} fields, the header has {len(header)} "
                               f"({','.join(header)}); {FIX}")
        if row:  # pandas skips blank lines too
            lines.append(rows.line_num)
    return lines


def _first_not_a_number(column: pd.Series, whole: bool, typed: bool) -> int | None:
    """The position of the first value that is not a number (empty counts as one unless `whole`; in a `typed`
    file, Parquet, a column of text holds no number whatever the text says), or None."""
    numbers = pd.to_numeric(column, errors="coerce")
    if typed and not pd.api.types.is_numeric_dtype(column):
        numbers = pd.Series(float("nan"), index=column.index)
    bad = (numbers.isna() & column.notna()) | ((numbers.isna() | (numbers % 1 != 0)) if whole else False)
    return int(bad.to_numpy().nonzero()[0][0]) if bad.any() else None


def append_history(path: Path, rows: list[dict]) -> pd.DataFrame:
    """Append `rows` (dicts with COLUMNS) to the history file under a file lock, through a symbolic link when the
    file is one; returns the whole history."""
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"), atomic_output(target) as tmp:
        frame = pd.concat([read_history(target), pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True)
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return frame
