"""Nightly audit end to end on an externally laid-out run directory with several checkpoint-N/ folders (the run
directory: the `audit_run_dir` fixture of tests/conftest.py)."""

from __future__ import annotations

import json

import pandas as pd


def test_audit_says_where_the_run_broke_and_what_to_roll_back_to(run_suites, audit_run_dir, tmp_path):
    history = tmp_path / "history.parquet"
    for _night in (1, 2):
        result, report_dir = run_suites("-m", "audit", "--checkpoints", str(audit_run_dir), "--history",
                                        str(history))
        assert result.ret == 1, result.stdout.str()[-2000:]
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAILED*test_checkpoint[[]checkpoint-3000[]]*"])
    result.stdout.fnmatch_lines(["*audit.base_exact_match[[]checkpoint-3000[]]*FAIL"])
    answer = ("audit: newest checkpoint checkpoint-3000 FAILS: broke at checkpoint-3000, roll back to "
              "checkpoint-1000 (keep checkpoint-1000, checkpoint-200)")
    assert answer in result.stdout.str()
    audit = json.loads((report_dir / "latest" / "results.json").read_text())["run"]["audit"]
    assert audit["first_failing"] == "checkpoint-3000" and audit["rollback_candidate"] == "checkpoint-1000"
    assert [c["step"] for c in audit["checkpoints"]] == [200, 1000, 3000]
    assert len(audit["matrix"]) == 4 and audit["matrix"][3][0] < 0.2  # the naive stage forgot the base task
    assert audit["forgetting_trend"][2] > 0.5
    frame = pd.read_parquet(history)
    assert frame["run_id"].nunique() == 2 and len(frame) == 2 * 3 * 7  # 2 nights x 3 checkpoints x 7 metrics
    assert all(len(values) == 2 for values in audit["nights"].values())
    html = (report_dir / "latest" / "report.html").read_text()
    assert "Audit: 3 checkpoints" in html and "run after run" in html
    assert "<th>change (checkpoint-3000 − checkpoint-1000)</th>" in html  # the audit's change: last two checkpoints
    assert "<a href='#panel-audit'>charts and matrices of audit</a>" in html and "<h2 id='panel-audit'>" in html
    data = json.loads((report_dir / "latest" / "results.json").read_text())
    assert data["run"]["training"]["audited run"]["log"] == [{"step": 3000, "loss": 0.42}]  # its trainer_state.json
    assert "audited run" in html and "training and eval loss per adapter" in html
    lost = [s for s in data["samples"] if s["score"]["checkpoint"] == "checkpoint-3000" and not s["score"]["passed"]]
    base_lost = [s for s in lost if s["score"]["type"] == "base"]
    assert len(base_lost) > 0.5 * 684 and all(s["score"]["previous"] == "checkpoint-1000" for s in lost)
    assert f"{len(lost)} items lost" in next(g["message"] for g in data["gates"]
                                             if g["id"] == "audit.base_exact_match[checkpoint-3000]")
    evidence = "evidence-audit.base_exact_match-checkpoint-3000-"
    assert f"id='{evidence}'" in html and f"(<a href='#{evidence}'>items checkpoint-3000 lost</a>)" in html  # the
