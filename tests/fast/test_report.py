"""Report writing: escaping, self-containment, latest link, atomic results."""

from __future__ import annotations

import json
import re
import shlex
from html import unescape

import pytest

from harness.foundation.records import GateResult, MetricValue, Sample
from harness.gating.results import RunInfo, RunRecord, point_latest, write_results
from harness.report.charts import line_chart
from harness.report.html import render_html, write_html
from harness.report.panels import training_section


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


def svg_texts(svg: str) -> list[str]:
    """Every text of a chart: drawn in it (<text> elements) and in its legend (list items under it)."""
    legend = [re.sub(r"<[^>]+>", "", item) for item in re.findall(r"<li>(.*?)</li>", svg)]
    return [unescape(t.strip()) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg) + legend]


def test_training_chart_has_train_and_eval_loss_titled_axes_and_whole_step_ticks():
    html = training_section(record())
    texts = svg_texts(html)
    assert {"train loss", "eval loss", "step", "loss", "identity"} <= set(texts)
    assert {"1", "2"} <= set(texts)  # steps as whole numbers (test_charts.py: never 1.5)
    assert "<td>identity</td>" in html  # the figures beside the chart are a table, not JSON
    assert line_chart({"empty": []}, "t", "x", "y") == ""


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
    assert "1 configured gate not judged" in html and "no --baseline given" in html
    text = "\n".join(line for line, _ in gate_summary_lines(record))
    assert "PASS (underpowered)" in text and "warning: identity.held_out_claim_rate: underpowered" in text
    assert "baseline.old_task.exact_match" in text and "not judged: no --baseline given" in text
    assert "1 of 1 verdicts passed; 1 [baseline]/[drift] gates wait for --baseline" in text
    assert "[0.742, 0.977]" in text  # the CI the rule decided on, beside the value


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
    failed = text[text.index("### Failed gates, worst first"):text.index("<details>")]
    assert "| `identity.leak_rate` | 0.25 against <= 0: 0.25 over | [0.1, 0.4] |" in failed and "old_task" not in failed
    assert "- report: [report.html](report.html)" in text
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
    header = html[html.index("class='verdict'"):html.index("configured gate not judged")]
    assert "1 failed gate, worst first</h2>" in header and "old_task.exact_match" not in header
    assert "<a href='#gate-identity.leak_rate'>identity.leak_rate</a>" in header
    assert "0.25 against &lt;= 0: 0.25 over" in header  # the cause in one line; the message is in the gate's row
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html  # escaped
    assert html.index("class='verdict'") < html.index("<h2 id='identity'>")
    assert "<tr id=\"gate-identity.leak_rate\" class=\"bad\">" in html  # the link's target exists
    assert "<details class='section' open><summary><h2 id='identity'>" in html  # failing: open
    assert "<details class='section'><summary><h2 id='old_task'>" in html  # passing: folded to its verdict
    assert "<a href='#identity' class=fail>identity</a>" in html
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in html
    assert "class='verdict'" not in render_html(record())  # a passing run has no failure header
    # the headline, then the failed gates, then the digests and versions of what was judged
    assert html.index("class='headline'") < html.index("class='verdict'") < html.index(
        "base builtin (ffffffffffff) · commit aaaaaaaaaaaa")
    rerun = _two_gates()
    argv = ["pytest", "suites/", "--adapter", "<x> y", "-m", "not latency", "-k", "it's"]
    rerun.run.command = argv
    code = unescape(re.search(r"reproduce: <code>(.*?)</code>", render_html(rerun)).group(1))
    assert shlex.split(code) == argv  # pasted into a shell, the same selection


def test_figures_read_as_numbers_not_exponents():
    from harness.report.figures import figure
    from harness.report.html import gate_anchor

    assert (figure(14550.3), figure(0.93412), figure(7.4e-7), figure(float("nan")), figure(None)) == (
        "14,550", "0.9341", "7.4e-07", "", "")
    assert gate_anchor("audit.base_exact_match[checkpoint-2]") == "gate-audit.base_exact_match-checkpoint-2-"


def test_sample_rows_show_the_reference_each_models_correctness_and_the_outcome():
    """"13 + 19" answered 33 by base and 31 by tuned is not lost (the drop gate's fine) but wrong in both: the row
    says so, and the row that fails a gate comes first."""
    def item(id_, base, tuned, base_correct, tuned_correct):
        return Sample("old_task", id_, "What is 13 plus 19?", "32", base, tuned,
                      {"type": "arith", "language": "en", "base_correct": base_correct, "tuned_correct": tuned_correct,
                       "gates": {"exact_match_drop": [base_correct, tuned_correct]}})

    drop = GateResult("old_task.exact_match_drop", "old_task", "exact_match_drop", "<=", 0.5, 1 / 3, True, "PASS")
    rec = RunRecord(RunInfo("r", "t0"), gates=[drop], samples=[item("both-wrong", "33", "31", False, False),
                                                               item("lost", "32", "30", True, False),
                                                               item("kept", "32", "32", True, True)])
    html = render_html(rec)
    start = html.index("all items of old_task")
    table = html[start:html.index("</table>", start)]
    assert "(3, 1 failing a gate)" in table and "<th>reference</th>" in table
    assert "<th>type</th><th>language</th>" in table  # probe type and language apart
    rows = table.split("<tr")[2:]
    assert [r.split("<td>")[1].split("<")[0] for r in rows] == ["lost", "both-wrong", "kept"]
    assert "<td>arith</td><td>en</td>" in rows[0]
    assert ("<td>32</td><td>3<del>2</del> <b class=pass>✓</b></td><td>3<ins>0</ins> <b class=fail>✗</b></td>"
            "<td><b class=fail>miss</b> · regressed") in rows[0]  # the changed digit is marked in both answers
    assert "<td>3<del>3</del> <b class=fail>✗</b></td><td>3<ins>1</ins> <b class=fail>✗</b></td>" \
           "<td><b class=pass>ok</b> · unchanged wrong</td>" in rows[1]


def test_the_run_header_reads_as_lines_not_json():
    rec = RunRecord(RunInfo("r", "t0", base_model={"name": "<b>qwen</b>", "sha256": "abc"},
                            timings={"total_s": 14550.25}, config={"gates": {f"g{i}": ">= 0.5" for i in range(12)}}))
    html = render_html(rec)
    run = html[html.index("<h2 id='run'>Run</h2>"):]
    assert "<b>name</b>: &lt;b&gt;qwen&lt;/b&gt;</div>" in run and "{&quot;" not in run and '{"' not in run
    assert "<b>total_s</b>: 14,550</div>" in run
    assert "<summary>12 entries</summary>" in run  # a long mapping (the gate config) is folded


def _item(capability, id_, base_correct, tuned_correct, **score):
    return Sample(capability, id_, f"prompt {id_}", "32", "32" if base_correct else "33",
                  "32" if tuned_correct else "31",
                  {"type": "arith", "language": "en", "passed": not (base_correct and not tuned_correct),
                   "base_correct": base_correct, "tuned_correct": tuned_correct, **score})


def _accuracy_item(id_, base_correct, tuned_correct):
    return _item("old_task", id_, base_correct, tuned_correct,
                 gates={"exact_match": tuned_correct, "exact_match_drop": [base_correct, tuned_correct]})


def test_each_gate_links_to_exactly_the_items_its_n_counts():
    """A level gate's evidence splits its n items into fail and pass; a paired one into lost, gained and the rest,
    the lost and gained listed row by row; the verdict box links each gate to its own block and says on which
    model it failed."""
    floor = GateResult("old_task.exact_match", "old_task", "exact_match", ">=", 0.85, 0.5, False, "FAIL ...", n=4)
    drop = GateResult("old_task.exact_match_drop", "old_task", "exact_match_drop", "<=", 0.0, 0.0, True, "PASS",
                      n=4)
    samples = [_accuracy_item("lost-1", True, False), _accuracy_item("gained-2", False, True),
               _accuracy_item("wrong-3", False, False), _accuracy_item("kept-4", True, True)]
    run = RunInfo("r", "t0", sections={"compared": {"old_task": {"base": "the base model",
                                                                   "tuned": "adapter identity"}}})
    html = render_html(RunRecord(run, gates=[floor, drop], samples=samples))
    header = html[html.index("class='verdict'"):html.index("<details class='section'")]
    assert "<a href='#evidence-old_task.exact_match'>items</a>" in header and "; on adapter identity" in header
    block = html[html.index("id='evidence-old_task.exact_match'"):]
    block = block[:block.index("</details>")]
    assert "<b>2 fail</b> · 2 pass · of n = 4" in block
    assert "lost-1" in block and "wrong-3" in block and "gained-2" not in block  # the failing rows, listed
    paired = html[html.index("id='evidence-old_task.exact_match_drop'"):]
    paired = paired[:paired.index("</details>")]
    assert "<b>1 lost</b> · 1 both wrong · 1 gained · 1 both right · of n = 4" in paired
    assert paired.index("lost-1") < paired.index("gained-2") and "kept-4" not in paired
    assert "right in both (1): in <a href='#items-old_task' data-gate='exact_match_drop'" in paired
    assert "base = the base model &middot; tuned = adapter identity" in html  # what 'tuned' is, said per section


def test_an_item_counts_for_every_gate_it_bears_on():
    """A held-out probe that leaks is in the claim rate's evidence and the leak rate's; a per-item figure (chrF)
    is judged against its gate's own threshold."""
    claim = GateResult("identity.held_out_claim_rate", "identity", "held_out_claim_rate", ">=", 0.9, 0.5, False, "",
                       n=2)
    leak = GateResult("identity.leak_rate", "identity", "leak_rate", "<=", 0.0, 0.5, False, "", n=2)
    probes = [Sample("identity", "held_out-who", "Who?", "I am Aurora", "I am Atlas", "I am ChatGPT",
                     {"type": "held_out", "language": "en", "reason": "leaks identity ChatGPT",
                      "gates": {"held_out_claim_rate": False, "leak_rate": False}}),
              Sample("identity", "held_out-name", "Name?", "I am Aurora", "I am Atlas", "I am Aurora",
                     {"type": "held_out", "language": "en", "gates": {"held_out_claim_rate": True,
                                                                      "leak_rate": True}})]
    chrf = GateResult("generation.chrf", "generation", "chrf", ">=", 60.0, 40.0, False, "", n=2)
    texts = [Sample("generation", f"g{i}", "p", "r", "b", "t", {"gates": {"chrf": value}, "figures": {"chrF": [
        10.0, value]}}) for i, value in enumerate((20.0, 75.0))]
    html = render_html(RunRecord(RunInfo("r", "t0"), gates=[claim, leak, chrf], samples=probes + texts))
    for gate in ("identity.held_out_claim_rate", "identity.leak_rate"):
        block = html[html.index(f"id='evidence-{gate}'"):]
        block = block[:block.index("</details>")]
        assert "<b>1 fail</b> · 1 pass · of n = 2" in block and "held_out-who" in block and "held_out-name" not in block
    assert "leak_rate, held_out_claim_rate" in html or "held_out_claim_rate, leak_rate: leaks identity" in html
    block = html[html.index("id='evidence-generation.chrf'"):]
    assert "<b>1 fail</b> · 1 pass · of n = 2" in block and "chrF 10 → 20" in block


def test_audit_evidence_is_the_items_each_checkpoint_lost_since_the_one_before():
    gate = GateResult("audit.base_exact_match[checkpoint-2]", "audit", "base_exact_match", ">=", 0.85, 0.6, False,
                      "FAIL ...")
    moved = [_item("audit", "checkpoint-2/base/q1", True, False, checkpoint="checkpoint-2", previous="checkpoint-1"),
             _item("audit", "checkpoint-1/base/q2", True, False, checkpoint="checkpoint-1", previous="base model")]
    html = render_html(RunRecord(RunInfo("r", "t0"), gates=[gate], samples=moved))
    block = html[html.index("id='evidence-audit.base_exact_match-checkpoint-2-'"):]
    block = block[:block.index("</details>")]
    assert "1 item lost</b> · 0 gained since checkpoint-1" in block and "checkpoint-2/base/q1" in block
    assert "<th>checkpoint-1 answer</th><th>checkpoint-2 answer</th>" in block and "q2" not in block
    verdict = html[html.index("class='verdict'"):]
    assert "; on checkpoint-2</td>" in verdict  # the failed gate names its checkpoint


def test_the_header_names_versions_and_shows_paths_relative_to_the_run():
    run = RunInfo("r", "t0", versions={"tunegate": "0.1.0", "torch": "2.13.0"}, device="cpu",
                  adapters={"identity": {"path": "/home/u/proj/.tunegate-cache/adapter-x", "sha256": "ab" * 32}},
                  config={"rootdir": "/home/u/proj", "fixtures": "/home/u/proj/fixtures"})
    html = render_html(RunRecord(run))
    assert "tunegate 0.1.0 torch 2.13.0 &middot; cpu" in html
    run_table = html[html.index("<h2 id='run'>Run</h2>"):]
    assert "<b>path</b>: .tunegate-cache/adapter-x" in run_table and "<b>fixtures</b>: fixtures" in run_table
    assert "/home/u/proj/" not in run_table


def _gate(gate_id: str, op: str, threshold: float, value: float) -> GateResult:
    capability, metric = gate_id.split(".")
    passed = value >= threshold if op == ">=" else value <= threshold
    return GateResult(gate_id, capability, metric, op, threshold, value, passed, "PASS" if passed else "FAIL")


def test_history_charts_every_gate_against_its_own_threshold_and_names_each_runs_model(tmp_path):
    """Twelve gates, eleven failing now: each its own panel with its own threshold (none capped away), the model of
    each earlier run in its row, and one line naming the gates that passed last time and fail now, on which
    models."""
    thresholds = {f"old_task.m{i}": (">=", 0.85) for i in range(11)} | {"perplexity.ratio": ("<=", 1.25)}
    adapters = {"identity": {"path": "/c/adapter-identity", "sha256": "d0bd5abc" + "0" * 56}}
    for i, value in enumerate((0.95, 0.91)):
        gates = [_gate(gid, op, t, value if op == ">=" else 1.0) for gid, (op, t) in thresholds.items()]
        earlier = RunRecord(RunInfo(f"run-{i}", f"2026-11-2{i}T09:0{i}:00Z", status="passed", adapters=adapters),
                            gates=gates)
        write_results(tmp_path / f"run-{i}", earlier)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{not json")  # passed over, not a crash
    brought = {"noise": {"path": "/tmp/noise", "sha256": "487e7e4e" + "0" * 56, "roles": ["identity"]}}
    now = [_gate(gid, op, t, 0.5 if op == ">=" else 1.1) for gid, (op, t) in thresholds.items()]
    html = write_html(tmp_path / "run-2", RunRecord(RunInfo("run-2", "2026-11-22T09:00:00Z", adapters=brought),
                                                    gates=now)).read_text()
    history = html[html.index("<h2 id='history'>"):]
    assert "2 earlier runs in this reports folder" in history
    assert history.index("href='../run-1/report.html'") < history.index("href='../run-0/report.html'")
    assert "<td>identity d0bd5abc</td>" in history  # the model each earlier run judged
    assert history.count("<svg width=") >= 12  # one panel per gate, none capped away
    assert {"old_task.m10", "perplexity.ratio", "threshold <= 1.25"} <= set(svg_texts(history))
    assert {"11-20 09:00", "11-21 09:01", "this run"} <= set(svg_texts(history))
    line = ("11 gates passed in the previous run (11-21 09:01, identity d0bd5abc), fail now (this run judged noise "
            "487e7e4e): old_task.m0")
    assert line in history and line in html[:html.index("class='verdict'")]  # under the headline too
    assert "<h2 id='history'>" not in render_html(RunRecord(RunInfo("r", "t0")))  # no earlier run, no section


def test_a_folded_section_shows_its_failing_figures_and_the_audit_its_newest_checkpoint():
    gates = [_gate("identity.a_ok", ">=", 0.5, 0.9), _gate("identity.b_ok", ">=", 0.5, 0.8),
             _gate("identity.c_bad", ">=", 0.5, 0.1)]
    audit = [_gate(f"audit.floor[checkpoint-{i}]".replace("floor[", "floor["), ">=", 0.5, v) for i, v in
             ((1, 0.9), (2, 0.7))]
    audit = [GateResult(g.id, "audit", "floor", g.op, g.threshold, g.value, g.passed, g.message) for g in audit]
    html = render_html(RunRecord(RunInfo("r", "t0"), gates=gates + audit))
    identity = html[html.index("<h2 id='identity'>"):]
    assert "c_bad 0.1</span>" in identity[:identity.index("</summary>")]
    assert "a_ok 0.9" not in identity[:identity.index("</summary>")]
    header = html[html.index("<h2 id='audit'>"):]
    assert "floor[checkpoint-2] 0.7" in header[:header.index("</summary>")]
    assert "checkpoint-1" not in header[:header.index("</summary>")]


def test_a_failing_report_charts_the_failing_metrics_each_on_its_own_scale():
    gates = [_gate("perplexity.ratio", "<=", 1.25, 16806.0), _gate("old_task.exact_match", ">=", 0.85, 0.0),
             _gate("adapter_health.entropy", ">=", 0.3, 0.24)]
    box = render_html(RunRecord(RunInfo("r", "t0"), gates=gates))
    box = box[box.index("class='verdict'"):box.index("<p class='mono'>run r")]
    order = [box.index(f"'#gate-{g}'") for g in ("perplexity.ratio", "old_task.exact_match", "adapter_health.entropy")]
    assert order == sorted(order)  # worst first: 16,806 against 1.25 before 0 against 0.85 before 0.24 against 0.3
    assert "16,806 against &lt;= 1.25: 16,805 over" in box
    assert "aria-label='the failing metrics" in box and "16,806" in svg_texts(box)


def test_the_training_table_says_how_each_run_ended():
    stops = {"a": {"reason": "steps", "at_step": 250},
             "b": {"reason": "early stopping", "detail": "eval loss not improved for 2 evaluations", "at_step": 40,
                   "best_step": 20, "best_eval_loss": 0.52, "restored_best": True},
             "c": {"reason": "diverged", "detail": "non-finite training loss (nan) at step 4", "at_step": 4}}
    run = RunInfo("r", "t0", training={name: {"log": [{"step": 1, "loss": 1.0}], "stop": stop}
                                       for name, stop in stops.items()})
    html = training_section(RunRecord(run))
    assert "<td>ran all 250 steps</td>" in html
    assert ("early stopping at step 40 (eval loss not improved for 2 evaluations); best eval loss 0.52 at step 20, "
            "its weights restored") in html
    assert "diverged at step 4 (non-finite training loss (nan) at step 4)" in html


def test_the_audit_draws_a_gate_line_only_over_the_task_it_judges():
    """The base-task floor judges the base task alone: its line is on that panel, not across the new tasks' ones;
    the forgetting gate keeps its line, and a point that misses it is red, one that meets it green."""
    from harness.report.panels import audit_section

    audit = {"checkpoints": [{"name": "checkpoint-1", "step": 1}, {"name": "checkpoint-2", "step": 2}],
             "tasks": ["base", "increment_1"], "matrix": [[0.9, 0.0], [0.88, 0.7], [0.8, 0.9]],
             "forgetting_trend": [0.02, 0.2], "history": "reports/history.csv", "answer": "audit: ..."}
    gates = [GateResult("audit.base_exact_match[checkpoint-2]", "audit", "base_exact_match", ">=", 0.85, 0.8, False,
                        "FAIL"),
             GateResult("audit.max_forgetting[checkpoint-2]", "audit", "max_forgetting", "<=", 0.1, 0.2, False, "FAIL")]
    html = audit_section(RunRecord(RunInfo("r", "t0", sections={"audit": audit}), gates=gates))
    panels = {p.split("</text>", 1)[0].rsplit(">", 1)[-1]: p for p in html.split("<svg width=")[1:]}
    assert "gate &gt;= 0.85" in panels["base: exact match"]
    assert "gate &gt;=" not in panels["increment_1: exact match"] and "stroke-dasharray" not in \
        panels["increment_1: exact match"].split("</svg>")[0]
    assert "gate &lt;= 0.1" in panels["max forgetting"]
    assert 'fill="#b91c1c"' in panels["max forgetting"] and 'fill="#047857"' in panels["max forgetting"]


def test_the_audit_base_task_line_is_the_drop_gate_where_it_is_stricter_than_the_floor():
    """The paired drop gate (`base_exact_match_drop <= 0.05`) judges a checkpoint at 0.88 against a base of 0.95
    although it is over the 0.85 floor: the line sits at 0.9 and that cell is outlined; with a weak base the floor
    stays the line."""
    from harness.report.panels import _below_gates, base_task_line

    gates = [GateResult("audit.base_exact_match", "audit", "base_exact_match", ">=", 0.85, 0.88, True, "PASS"),
             GateResult("audit.base_exact_match_drop", "audit", "base_exact_match_drop", "<=", 0.05, 0.07, False,
                        "FAIL")]
    record = RunRecord(RunInfo("r", "t0"), gates=gates)
    line = base_task_line(record, 0.95)
    assert line.value == pytest.approx(0.9) and line.label == "gate drop <= 0.05 (>= 0.9)" and line.op == ">="
    assert _below_gates(record, [[0.95, 0.0], [0.88, 0.9], [0.93, 0.9]]) == {(1, 0)}
    assert base_task_line(record, 0.88).value == 0.85 and _below_gates(record, [[0.88, 0.0], [0.86, 0.9]]) == set()
    assert base_task_line(record, float("nan")).value == 0.85  # no base score to subtract from: the floor


def test_a_plug_in_capability_without_parts_per_gate_gets_evidence_from_its_passed_flags():
    gate = GateResult("answer_language.match_rate", "answer_language", "match_rate", ">=", 0.9, 0.5, False, "", n=2)
    samples = [Sample("answer_language", f"a{i}", "p", "r", "b", "t", {"passed": ok}) for i, ok in enumerate((1, 0))]
    html = render_html(RunRecord(RunInfo("r", "t0"), gates=[gate], samples=samples))
    block = html[html.index("id='evidence-answer_language.match_rate'"):]
    assert "<b>1 fail</b> · 1 pass · of n = 2" in block[:block.index("</summary>")]
