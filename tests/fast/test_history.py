"""The audit history: concurrent appends lose no row; a run appends once, from the controller."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

from harness.gating.results import RunInfo, RunRecord
from harness.report.history import COLUMNS, append_history, read_history
from harness.report.run_end import append_audit_history, preview_audit_trend, take_history_rows


def _append_many(path: str, writer: int, count: int) -> None:
    from pathlib import Path

    for i in range(count):
        append_history(Path(path), [{"run_id": f"w{writer}", "time": "t", "checkpoint": f"checkpoint-{i}",
                                     "step": i, "task": "base", "metric": "exact_match", "value": 0.5}])


def _summary(path: str) -> tuple[int, list[str], dict[str, int]]:
    from pathlib import Path

    history = read_history(Path(path))
    return len(history), list(history.columns), history.groupby("run_id").size().to_dict()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_concurrent_appends_lose_no_row(tmp_path, suffix):
    path = tmp_path / f"history{suffix}"
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_append_many, [str(path)] * 4, range(4), [15] * 4))
        # read back in a fresh process too: in-process pytester runs of other tests may have reset pandas'
        # modules here, and pyarrow refuses to register pandas' extension types twice in one process
        rows, columns, per_writer = pool.submit(_summary, str(path)).result()
    assert rows == 60 and columns == COLUMNS
    assert per_writer == {f"w{w}": 15 for w in range(4)}
    assert not list(tmp_path.glob(".history*"))  # no temporary file left behind


def test_run_end_shows_the_trend_before_it_appends_the_audit_rows_once(tmp_path):
    path = tmp_path / "history.csv"
    rows = [{"run_id": "r1", "time": "t", "checkpoint": "checkpoint-1", "step": 1, "task": "base",
             "metric": "exact_match", "value": 0.9}]
    record = RunRecord(RunInfo("r1", "t0", sections={"audit": {"history_rows": rows}}))
    taken = take_history_rows(record)
    assert take_history_rows(record) == []  # rows are consumed: a second end could append nothing
    preview_audit_trend(record, path, taken)
    assert record.run.sections["audit"]["nights"] == {"base": [["r1", 0.9]]} and not path.exists()
    append_audit_history(path, taken)
    assert len(pd.read_csv(path)) == 1 and "history_rows" not in record.run.sections["audit"]


def test_a_history_file_that_is_a_link_stays_one_and_its_target_grows(tmp_path):
    shared = tmp_path / "shared" / "history.csv"
    shared.parent.mkdir()
    shared.write_text(",".join(COLUMNS) + "\nr0,t,checkpoint-1,1,base,exact_match,0.5\n")
    link = tmp_path / "reports" / "history.csv"
    link.parent.mkdir()
    link.symlink_to(shared)
    append_history(link, [{"run_id": "r1", "time": "t", "checkpoint": "checkpoint-1", "step": 1, "task": "base",
                           "metric": "exact_match", "value": 0.9}])
    assert link.is_symlink() and link.resolve() == shared
    assert list(pd.read_csv(shared)["run_id"]) == ["r0", "r1"]
