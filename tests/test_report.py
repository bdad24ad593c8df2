"""Report writing: escaping, self-containment, latest link, atomic results."""

from __future__ import annotations

import json

import pytest

from harness.records import GateResult, MetricValue, Sample
from harness.report.html import render_html, write_html
from harness.report.svg import loss_chart
from harness.results import RunInfo, RunRecord, point_latest, write_results


def record():
    return RunRecord(
        run=RunInfo("r1", "t0", training={"identity": {"log": [{"step": 1, "loss": 2.0},
                                                               {"step": 2, "loss": 1.0, "eval_loss": 1.5}]}}),
        metrics=[MetricValue("identity", "leak_rate", 0.0, 0.0, 0.1, 30)],
        gates=[GateResult("identity.leak_rate", "identity", "leak_rate", "<=", 0.0, 0.0, True, "PASS ...")],
        samples=[Sample("identity", "p1", "<b>who?</b>", "ref", "<script>alert(1)</script>", "I am & co",
                        {"kind": "held_out", "passed": True})])


def test_model_output_is_escaped_and_report_is_self_contained():
    html = render_html(record())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;who?&lt;/b&gt;" in html and "I am &amp; co" in html
    assert "<link" not in html and "src=" not in html and "<svg" in html


def test_loss_chart_has_train_and_eval_series():
    svg = loss_chart(record().run.training["identity"]["log"], "loss")
    assert svg.count("<polyline") == 2 and "eval loss" in svg
    assert loss_chart([], "empty") == ""


def test_results_round_trip_and_latest_link(tmp_path):
    run_dir = tmp_path / "r1"
    write_results(run_dir, record())
    write_html(run_dir, record())
    point_latest(tmp_path, run_dir)
    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert RunRecord.from_dict(data).to_dict() == data
    assert (tmp_path / "latest" / "report.html").is_file()


def test_merging_worker_parts_keeps_one_copy_of_shared_results():
    controller = RunRecord(RunInfo("r1", "t0"))
    for worker in range(2):
        part = record()
        part.run.base_model = {"sha256": "abc"}
        part.run.errors = 1
        part.run.set_section("audit", {"worker": worker})
        if worker:
            part.gates = []
        controller.merge(part)
    assert len(controller.metrics) == 1 and len(controller.samples) == 1 and len(controller.gates) == 1
    assert controller.run.base_model == {"sha256": "abc"} and "identity" in controller.run.training
    assert controller.run.started == "t0" and controller.run.errors == 2  # every worker's errors count
    assert controller.run.sections["audit"] == {"worker": 0}


def test_the_run_header_is_typed_and_round_trips_with_its_sections():
    run = RunInfo("r1", "t0", command=["pytest", "suites/"])
    run.set_section("sequences", {"replay": {}})
    run.end("t1", 1)
    assert run.status == "failed" and RunInfo.from_dict(run.to_dict()) == run
    assert run.to_dict()["sequences"] == {"replay": {}} and run.to_dict()["status"] == "failed"
    with pytest.raises(ValueError, match="clashes with a run header field"):
        run.set_section("status", "x")
    with pytest.raises(ValueError, match="run status 'done' is not one of"):
        RunInfo("r1", "t0", status="done")
    ended = []
    for code in (0, 1, 2, 4):
        run.end("t1", code)
        ended.append(run.status)
    assert ended == ["passed", "failed", "interrupted", "error"]


def test_rule_power_and_unevaluated_gates_are_shown_in_report_and_terminal():
    from harness.report.terminal import gate_summary_lines

    gate = GateResult("identity.held_out_claim_rate", "identity", "held_out_claim_rate", ">=", 0.9, 0.917, True,
                      "PASS ...", rule="beyond noise", ci_low=0.742, ci_high=0.977, n=24, mde=0.168,
                      warning="underpowered: with n=24 the smallest change detectable at 80% power is 0.168")
    record = RunRecord(RunInfo("r", "t0", not_evaluated=[{"id": "baseline.old_task.exact_match",
                                                           "reason": "no --baseline given"}]), gates=[gate])
    html = render_html(record)
    assert "&gt;= 0.9 beyond noise" in html and "0.168" in html and "PASS (underpowered)" in html
    assert "1 configured gates not evaluated" in html and "no --baseline given" in html
    text = "\n".join(line for line, _ in gate_summary_lines(record))
    assert "PASS (underpowered)" in text and "warning: identity.held_out_claim_rate: underpowered" in text
    assert "baseline.old_task.exact_match" in text and "not evaluated: no --baseline given" in text
    assert "1 of 1 gates passed, 1 configured gates not evaluated" in text


def _two_gates() -> RunRecord:
    healthy = GateResult("old_task.exact_match", "old_task", "exact_match", ">=", 0.85, 0.95, True, "PASS ...")
    broken = GateResult("identity.leak_rate", "identity", "leak_rate", "<=", 0.0, 0.25, False,
                        "FAIL identity.leak_rate = 0.25; p1 answered '<script>x</script> | I am Northwind'",
                        ci_low=0.1, ci_high=0.4, n=8)
    return RunRecord(RunInfo("r7", "t0", base_model={"name": "builtin", "sha256": "f" * 64}, git_sha="a" * 40,
                             not_evaluated=[{"id": "baseline.old_task.exact_match", "reason": "no --baseline given"}]),
                     gates=[healthy, broken])


def test_the_markdown_summary_puts_the_failed_gates_first_with_their_reason():
    from harness.report.markdown import summary_markdown

    text = summary_markdown(_two_gates())
    assert text.startswith("## tunegate FAIL: 1 of 2 gates passed\n")
    failed = text[text.index("### Failed gates"):text.index("<details>")]
    assert "| `identity.leak_rate` | 0.25 | <= 0 | [0.1, 0.4] |" in failed and "old_task" not in failed
    assert "&lt;script>x&lt;/script> \\| I am Northwind" in failed  # one cell: pipe escaped, no raw HTML
    every = text[text.index("<details>"):]
    assert every.index("identity.leak_rate") < every.index("old_task.exact_match")
    assert "- `baseline.old_task.exact_match`: no --baseline given" in text
    assert "run r7 · base builtin (ffffffffffff) · commit aaaaaaaaaaaa" in text
    passing = _two_gates()
    passing.gates = passing.gates[:1]
    assert summary_markdown(passing).startswith("## tunegate PASS: 1 of 1 gates passed") and \
        "### Failed gates" not in summary_markdown(passing)


def test_the_summary_is_appended_to_the_github_step_summary_when_set(tmp_path, monkeypatch):
    from harness.report.markdown import publish_step_summary, write_summary

    path = write_summary(tmp_path / "r7", _two_gates())
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert not publish_step_summary(path)
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert publish_step_summary(path)
    assert step.read_text() == "earlier step\n" + path.read_text()


def test_the_terminal_summary_lists_the_failed_gates_first():
    from harness.report.terminal import gate_summary_lines

    lines = [line for line, _ in gate_summary_lines(_two_gates())]
    assert lines[1].startswith("identity.leak_rate") and lines[1].endswith("FAIL")
    assert lines[2].startswith("old_task.exact_match")


def test_the_report_opens_on_the_failed_gates_linked_to_their_rows():
    html = render_html(_two_gates())
    header = html[html.index("class='verdict'"):html.index("configured gates not evaluated")]
    assert "1 failed gate</h2>" in header and "old_task.exact_match" not in header
    assert "<a href='#gate-identity.leak_rate'>identity.leak_rate</a>" in header
    assert "&lt;script&gt;x&lt;/script&gt;" in header and "<script>" not in html  # the reason, escaped
    assert html.index("class='verdict'") < html.index("<h2 id='identity'>")
    assert "<tr id=\"gate-identity.leak_rate\" class=\"bad\">" in html  # the link's target exists
    assert "<details class='section' open><summary><h2 id='identity'>" in html  # failing: open
    assert "<details class='section'><summary><h2 id='old_task'>" in html  # passing: folded to its verdict
    assert "<a href='#identity' class=fail>identity</a>" in html
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in html
    assert "class='verdict'" not in render_html(record())  # a passing run has no failure header
    assert html.index("base builtin (ffffffffffff) · commit aaaaaaaaaaaa") < html.index("class='verdict'")
    rerun = _two_gates()
    rerun.run.command = ["pytest", "suites/", "--adapter", "<x>"]
    assert "reproduce: <code>pytest suites/ --adapter &lt;x&gt;</code>" in render_html(rerun)


def test_figures_read_as_numbers_not_exponents():
    from harness.report.figures import figure
    from harness.report.html import gate_anchor

    assert (figure(14550.3), figure(0.93412), figure(7.4e-7), figure(float("nan")), figure(None)) == (
        "14,550", "0.9341", "7.4e-07", "", "")
    assert gate_anchor("audit.base_exact_match[checkpoint-2]") == "gate-audit.base_exact_match-checkpoint-2-"


def test_sample_rows_show_the_reference_each_models_correctness_and_the_outcome():
    """"13 + 19" answered 33 by base and 31 by tuned is not regressed (the old-task gate's ok) but wrong in both:
    the row says so, and a regressed row comes first."""
    def item(id_, base, tuned, base_correct, tuned_correct, passed):
        return Sample("old_task", id_, "What is 13 plus 19?", "32", base, tuned,
                      {"kind": "arith", "passed": passed, "base_correct": base_correct, "tuned_correct": tuned_correct})

    rec = RunRecord(RunInfo("r", "t0"), samples=[item("both-wrong", "33", "31", False, False, True),
                                                  item("lost", "32", "30", True, False, False),
                                                  item("kept", "32", "32", True, True, True)])
    html = render_html(rec)
    start = html.index("before / after")
    table = html[start:html.index("</table>", start)]
    assert "3 items, 1 failing" in table and "<th>reference</th>" in table
    rows = table.split("<tr")[2:]
    assert [r.split("mono\">")[1].split("<")[0] for r in rows] == ["lost", "both-wrong", "kept"]
    assert "<td>32</td><td>32<span class='pass'> ✓</span></td><td>30<span class='fail'> ✗</span></td>" \
           "<td>regressed</td>" in rows[0]
    assert "<td>33<span class='fail'> ✗</span></td><td>31<span class='fail'> ✗</span></td>" \
           "<td>unchanged wrong</td>" in rows[1]


def test_the_run_header_reads_as_lines_not_json():
    rec = RunRecord(RunInfo("r", "t0", base_model={"name": "<b>qwen</b>", "sha256": "abc"},
                            timings={"total_s": 14550.25}, config={"gates": {f"g{i}": ">= 0.5" for i in range(12)}}))
    html = render_html(rec)
    run = html[html.index("<h2>Run</h2>"):]
    assert "<b>name</b>: &lt;b&gt;qwen&lt;/b&gt;</div>" in run and "{&quot;" not in run and '{"' not in run
    assert "<b>total_s</b>: 14,550</div>" in run
    assert "<summary>12 entries</summary>" in run  # a long mapping (the gate config) is folded
