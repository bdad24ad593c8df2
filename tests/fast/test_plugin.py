"""The plugin's wiring, fast: in-process pytester runs on fake models (no weights, no training).

Options and usage errors, exit status, JUnit gate names, marker selection, results.json and report sections,
a capability added through `pytest_tunegate_capabilities`, baselines and drift, and the merging of pytest-xdist
worker parts, each in well under a second.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.capabilities import builtin_capabilities
from harness.foundation.records import GateResult, MetricValue
from harness.gating.results import RunInfo, RunRecord
from harness.plugin.settings import Settings
from harness.plugin.state import SessionState
from tests import fakes

CONFTEST = """
import os

import pytest

from harness.capabilities import Capability
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue
from harness.measures.statistics import rate
from tests.fakes import fake_pair, question_set


@pytest.fixture(scope="session")
def fake_models():
    return fake_pair(question_set(), wrong=int(os.environ.get("FAKE_WRONG", "0")))


def answered(models, data, settings):
    flags = [a != "no idea" for a in models[1].generate([ex.messages for ex in data])]
    return CapabilityResult([MetricValue("answered", "answered_rate", *rate(flags))],
                            evidence={"answered_rate": f"{flags.count(False)} questions unanswered"})


def pytest_tunegate_capabilities(registry, config):
    how = os.environ.get("FAKE_CAPABILITY", "ok")
    metrics = {"answered_rate": MetricSpec(0, 1, True, "questions the tuned model answers")}
    if how == "ok":
        registry.add(Capability("answered", "the tuned model answers", metrics, answered,
                                default_gates={"answered_rate": ">= 0.9"}))
    elif how == "twice":
        registry.add(Capability("old_task", "again", metrics, answered))
    elif how == "bad-default":
        registry.add(Capability("answered", "x", metrics, answered, default_gates={"nope": ">= 1"}))
"""

SUITE = """
import pytest

from harness.api import parametrize_gates
from tests.fakes import question_set

CAPABILITY = "{name}"
pytestmark = pytest.mark.{name}


def pytest_generate_tests(metafunc):
    parametrize_gates(metafunc, CAPABILITY)


@pytest.fixture(scope="session")
def verdicts(fake_models, tunegate):
    return tunegate.judge(CAPABILITY, fake_models, question_set())


def test_gate(verdicts, tunegate, gate_id):
    tunegate.enforce(verdicts[gate_id])
"""

GATES = """
[old_task]
exact_match = ">= 0.85"
exact_match_drop = "<= 0.05"

[baseline]
"old_task.exact_match" = "-2%"

[drift]
changed_answer_rate = "<= 0.1"
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch) -> pytest.Pytester:
    """A project with a fake-model conftest, an old_task suite, a user capability's suite and a gate file."""
    monkeypatch.delenv("FAKE_WRONG", raising=False)
    monkeypatch.delenv("FAKE_CAPABILITY", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_old_task=SUITE.format(name="old_task"), test_answered=SUITE.format(name="answered"))
    pytester.makefile(".toml", gates=GATES)
    return pytester


def run(project: pytest.Pytester, *args: str):
    """Run pytest in-process on the project with its gate file and a JUnit file; (result, results.json)."""
    result = project.runpytest_inprocess("-p", "no:cacheprovider", "--gates", "gates.toml",
                                         "--junitxml", "junit.xml", *args)
    latest = project.path / "reports" / "latest" / "results.json"
    return result, json.loads(latest.read_text()) if latest.exists() else None


def junit_names(project: pytest.Pytester) -> set[str]:
    """The JUnit test case names of the last run."""
    return {case.get("name") for case in ET.parse(project.path / "junit.xml").iter("testcase")}


def test_a_healthy_model_passes_every_gate_and_each_capability_gets_its_sections(project):
    result, record = run(project)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)
    assert junit_names(project) == {"test_gate[old_task.exact_match]", "test_gate[old_task.exact_match_drop]",
                                    "test_gate[answered.answered_rate]"}
    assert {g["id"] for g in record["gates"]} == {"old_task.exact_match", "old_task.exact_match_drop",
                                                  "answered.answered_rate"}
    assert {(m["capability"], m["name"]) for m in record["metrics"] if m["checkpoint"] == "tuned"} >= {
        ("answered", "answered_rate"), ("old_task", "exact_match")}
    assert len([s for s in record["samples"] if s["capability"] == "old_task"]) == len(fakes.question_set())
    html = (project.path / "reports" / "latest" / "report.html").read_text()
    assert "<h2 id='answered'>" in html and "<h2 id='old_task'>" in html


def test_a_planted_regression_fails_the_run_with_each_gate_naming_its_evidence(project, monkeypatch):
    monkeypatch.setenv("FAKE_WRONG", "10")  # the tuned model forgets 10 of 40 answers
    result, record = run(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=3)
    verdicts = {g["id"]: g for g in record["gates"]}
    assert verdicts["old_task.exact_match"]["value"] == pytest.approx(30 / 40)
    assert "10 items lost, 0 gained vs base" in verdicts["old_task.exact_match_drop"]["message"]
    assert "10 questions unanswered" in verdicts["answered.answered_rate"]["message"]
    result.stdout.fnmatch_lines(["*FAIL answered.answered_rate = 0.75*required >= 0.9*"])


def test_a_marker_selection_reads_as_partial_and_require_all_gates_fails_it(project):
    """-m leaves gates unjudged: the headline says PASS (partial) with the reason in every output; with
    --require-all-gates the same run fails."""
    result, record = run(project, "-m", "answered")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    not_evaluated = {e["id"]: e["reason"] for e in record["run"]["not_evaluated"]}
    assert not_evaluated["old_task.exact_match"] == "deselected by -m 'answered'"
    assert not_evaluated["drift.changed_answer_rate"] == "no --baseline given"
    headline = "PASS (partial): 1 of 3 configured gates judged; 2 not judged (deselected by -m 'answered')"
    assert record["run"]["verdict"]["text"] == headline and record["run"]["verdict"]["passed"]
    assert result.stdout.lines[-2] == f"tunegate {headline}"  # the verdict is on the last screen
    summary = (project.path / "reports/latest/summary.md").read_text()
    assert summary.startswith(f"## tunegate {headline}")
    assert "PASS (partial)</span>" in (project.path / "reports/latest/report.html").read_text()
    strict, record = run(project, "-m", "answered", "--require-all-gates")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED and record["run"]["status"] == "failed"
    assert record["run"]["verdict"]["text"].startswith("FAIL (--require-all-gates): 1 of 3 configured gates judged")
    everything, record = run(project, "--require-all-gates")
    assert everything.ret == pytest.ExitCode.OK
    assert record["run"]["verdict"]["text"] == "PASS: 3 of 3 configured gates judged"


def test_a_run_whose_suite_tests_judge_nothing_fails_and_says_why(project):
    """Every suite test skipped while it runs (here: its data found missing then): nothing judged is never a pass.
    (Skipped before the run, for a missing file its suite `reads`, the run is refused at collection end: the
    bad-input table's `every-suite-skipped`.)"""
    project.makeconftest(CONFTEST + "\n\n@pytest.fixture(autouse=True)\ndef no_data():\n"
                         "    pytest.skip('missing tasks/none/dev.json: not there')\n")
    result, record = run(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(skipped=3)
    verdict = record["run"]["verdict"]
    assert verdict["text"] == ("FAIL (partial): 0 of 3 configured gates judged; 3 not judged (missing "
                               "tasks/none/dev.json)")
    assert record["run"]["status"] == "failed" and result.stdout.lines[-2] == f"tunegate {verdict['text']}"


@pytest.mark.parametrize(("env", "gates", "message"), [
    ("ok", "[nope]\nx = \">= 1\"\n", "*gates.toml: unknown capability 'nope'*"),
    ("ok", "[answered]\nanswered_rate = \">= 2\"\n", "*answered.answered_rate: threshold 2 is outside*"),
    ("twice", GATES, "*pytest_tunegate_capabilities: capability 'old_task' is registered twice*"),
    ("bad-default", GATES, "*capability answered: default_gates name unknown metrics*nope*"),
])
def test_bad_configuration_is_a_usage_error_naming_its_source(project, monkeypatch, env, gates, message):
    monkeypatch.setenv("FAKE_CAPABILITY", env)
    project.makefile(".toml", gates=gates)
    result, _ = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_baseline_round_trip_gates_the_change_and_the_drift(project, monkeypatch):
    saved, _ = run(project, "--save-baseline", "release")
    assert saved.ret == pytest.ExitCode.OK and (project.path / "baselines" / "release.json").is_file()
    monkeypatch.setenv("FAKE_WRONG", "10")
    result, record = run(project, "--baseline", "release")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert {"test_gate[baseline.old_task.exact_match]", "test_gate[drift.changed_answer_rate[old_task]]"} <= \
        junit_names(project)
    verdicts = {g["id"]: g for g in record["gates"]}
    assert not verdicts["baseline.old_task.exact_match"]["passed"]
    assert verdicts["drift.changed_answer_rate[old_task]"]["value"] == pytest.approx(10 / 40)
    refused, _ = run(project, "--baseline", "release", "--save-baseline", "release")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR  # a failed gate never becomes the new baseline
    refused.stdout.fnmatch_lines(["*baseline 'release' refused: * gates failed*"])
    missing, _ = run(project, "--baseline", "nowhere")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*baseline 'nowhere' not found at*nowhere.json; create it with --save-baseline*"])


def test_a_partial_run_is_no_baseline_and_a_metric_the_baseline_lacks_fails(project, monkeypatch):
    refused, _ = run(project, "-m", "old_task", "--save-baseline", "partial")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR and not (project.path / "baselines" / "partial.json").exists()
    refused.stderr.fnmatch_lines(["*-m/-k deselected 1 tests, so the baseline would be partial*"])
    saved, _ = run(project, "-m", "old_task", "--save-baseline", "partial", "--save-baseline-anyway")
    assert saved.ret == pytest.ExitCode.OK
    project.makefile(".toml", gates=GATES.replace('"old_task.exact_match" = "-2%"',
                                                  '"old_task.exact_match" = "-2%"\n"answered.answered_rate" = "-5%"'))
    result, record = run(project, "--baseline", "partial")
    verdicts = {g["id"]: g for g in record["gates"]}
    assert verdicts["baseline.old_task.exact_match"]["passed"]
    assert "paired on 40 items: change +0.0000" in verdicts["baseline.old_task.exact_match"]["message"]
    lacking = verdicts["baseline.answered.answered_rate"]
    assert not lacking["passed"] and "the stored baseline 'partial' has no answered.answered_rate" in \
        lacking["message"]
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def _state(tmp_path: Path) -> SessionState:
    settings = Settings(rootdir=tmp_path, fixtures=tmp_path, base_model="fake", adapter=None, gates_file=None,
                        report_dir=tmp_path / "reports", cache_dir=tmp_path / "cache", device="cpu",
                        dtype="float32", allow_pickle=False)
    return SessionState(settings, builtin_capabilities(), None, RunRecord(RunInfo("run-1", "t0")))


def test_worker_parts_merge_into_the_controllers_record_once(tmp_path):
    workers = [_state(tmp_path) for _ in range(2)]
    shared = MetricValue("old_task", "exact_match", 0.9, n=40)  # a session result both workers computed
    for i, worker in enumerate(workers):
        worker.record_metrics([shared, MetricValue("answered", f"rate_{i}", 1.0)])
        worker.record_gate(GateResult(f"answered.rate_{i}", "answered", f"rate_{i}", ">=", 0.5, 1.0, True, "PASS"))
        worker.record.run.training[f"chain-{i}"] = {}
        worker.write_worker_part(f"gw{i}")
    controller = _state(tmp_path)
    controller.merge_worker_parts()
    assert [m.name for m in controller.record.metrics] == ["exact_match", "rate_0", "rate_1"]
    assert {g.id for g in controller.record.gates} == {"answered.rate_0", "answered.rate_1"}
    assert controller.record.run.training == {"chain-0": {}, "chain-1": {}}
    assert not (tmp_path / "reports" / "run-1" / "parts").exists()


@pytest.mark.parametrize(("options", "message"), [
    (("--ppl-stride", "0"), "*--ppl-stride must be in [[]1, 255[]] (below --ppl-window 256*), got 0*"),
    (("--ppl-stride", "256"), "*--ppl-stride must be in [[]1, 255[]]*got 256*"),
    (("--ppl-window", "1"), "*--ppl-window must be at least 2 tokens, got 1*"),
    (("--history", "nights.txt"), "*--history */nights.txt: the file must end in .csv or .parquet*"),
    (("--history", "reports.csv"), "*--history */reports.csv: is a folder, expected a .csv or .parquet file*"),
])
def test_an_option_no_run_can_use_is_a_usage_error_naming_it(project, options, message):
    project.mkdir("reports.csv")
    result, _ = run(project, *options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_device_map_under_accelerate_launch_is_a_usage_error(project, monkeypatch):
    """One model spread over every GPU and one process per GPU cannot both hold: refused before any load."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    result, _ = run(project, "--device-map", "auto")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--device-map auto spreads one model over every GPU*use one or the other*"])
