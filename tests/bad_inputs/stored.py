"""Documents earlier runs wrote: baselines, results, the audit history, the report folder's links."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable

from tests.bad_inputs.project import ACCEPTED, SUITE, BadInput, Plant, Project, baseline

TITLE = "baselines, earlier results, history, links"
HEADER = "run_id,time,checkpoint,step,task,metric,value\n"
SAMPLE = "old_task/q1"


def saved_baseline(p: Project) -> dict:
    """A baseline as `--save-baseline` writes it: one metric and one sample."""
    from harness.foundation.records import MetricValue, Sample
    from harness.gating.baselines import save_baseline
    from harness.gating.results import RunInfo, RunRecord

    record = RunRecord(RunInfo("earlier", "2026-11-01T00:00:00Z"),
                       metrics=[MetricValue("old_task", "exact_match", 0.9, 0.8, 0.95, 10)],
                       samples=[Sample("old_task", "q1", "Capital of Velmaria?", "Velmar", "Velm", "Velmar",
                                       {"tuned_correct": True})])
    save_baseline(p.root / "saved.json", "release", record)
    return json.loads((p.root / "saved.json").read_text(encoding="utf-8"))


def edited(edit: Callable[[dict], None]) -> Plant:
    """The stored baseline `release` as saved, then edited in place by `edit` (a hand edit or a merge)."""
    def document(p: Project) -> dict:
        stored = saved_baseline(p)
        edit(stored)
        return stored
    return baseline(document)


def _conflicted(p: Project) -> list[str]:
    """A baseline merged by git with both sides' value of a metric kept between conflict markers."""
    lines = json.dumps(saved_baseline(p), indent=1).splitlines()
    at = next(i for i, line in enumerate(lines) if '"value": 0.9' in line)
    lines[at:at + 1] = ["<<<<<<< HEAD", lines[at], "=======", lines[at].replace("0.9", "0.85"), ">>>>>>> release-2"]
    (p.baselines / "release.json").write_text("\n".join(lines))
    return ["--baseline", "release"]


def history(text: str, encoding: str = "utf-8") -> Plant:
    """reports/history.csv replaced by `text`, saved in `encoding`."""
    return lambda p: ((p.reports / "history.csv").write_bytes(text.encode(encoding)), [])[1]


def earlier_results(text: str) -> Plant:
    """A folder `other` beside the earlier run in reports/, holding a results.json of content `text`."""
    def plant(p: Project) -> list[str]:
        (p.reports / "other").mkdir()
        (p.reports / "other/results.json").write_text(text)
        return []
    return plant


def results_with_gate(**fields: object) -> str:
    """A results.json whose one gate (the project suite's) has `fields` replaced."""
    gate = {"id": "old_task.exact_match", "capability": "old_task", "metric": "exact_match", "op": ">=",
            "threshold": 0.5, "value": 0.9, "passed": True, "message": "ok", **fields}
    return json.dumps({"schema_version": 2, "run": {"id": "other", "started": "2026-11-02T00:00:00Z",
                                                    "status": "passed"}, "metrics": [], "gates": [gate],
                       "samples": []})


def _history_through_link(p: Project) -> list[str]:
    """reports/history.csv a link to a shared file elsewhere; the suite also records an audit history row."""
    shared = p.root / "shared"
    shared.mkdir()
    (p.reports / "history.csv").rename(shared / "history.csv")
    os.symlink(shared / "history.csv", p.reports / "history.csv")
    (p.root / "test_suite.py").write_text(SUITE + f'''
def test_audit_row(tunegate):
    row = {{"run_id": "now", "time": "t", "checkpoint": "checkpoint-1", "step": 1, "task": "base",
           "metric": "exact_match", "value": 0.8}}
    tunegate.record_run("audit", {{"history_rows": [row], "checkpoints": [{{"name": "checkpoint-1", "step": 1}}],
                                  "tasks": ["base"], "matrix": [[0.9], [0.8]], "forgetting_trend": [0.1],
                                  "history": {str(p.reports / "history.csv")!r}}})
''')
    return []


def _dangling_report_dir(p: Project) -> list[str]:
    os.symlink(p.root / "mounted/reports", p.root / "reports-link")
    return ["--report-dir", str(p.root / "reports-link")]


def _latest_not_a_link(folder: bool) -> Plant:
    """reports/latest a folder the user made (with a note in it) or a file, where tunegate keeps its link."""
    def plant(p: Project) -> list[str]:
        (p.reports / "latest").unlink()
        if folder:
            shutil.copytree(p.reports / "earlier", p.reports / "latest")
        else:
            (p.reports / "latest").write_text("earlier\n")
        return []
    return plant


def _dangling_baseline(p: Project) -> list[str]:
    (p.baselines / "release.json").unlink()
    os.symlink("../shared/release.json", p.baselines / "release.json")
    return ["--baseline", "release"]


def _baseline_through_link(p: Project) -> list[str]:
    """baselines/release.json a link to a file shared between repositories; this run saves over it."""
    (p.root / "shared").mkdir()
    (p.baselines / "release.json").rename(p.root / "shared/release.json")
    os.symlink(p.root / "shared/release.json", p.baselines / "release.json")
    return ["--save-baseline", "release"]


def _dangling_history(option: bool) -> Plant:
    """The history file a link to a file in a folder that does not exist: reports/history.csv, or --history."""
    def plant(p: Project) -> list[str]:
        link = p.root / "nightly.csv" if option else p.reports / "history.csv"
        link.unlink(missing_ok=True)
        os.symlink(p.root / "volume/history.csv", link)
        return ["--history", str(link)] if option else []
    return plant


def _parquet_history(p: Project) -> list[str]:
    """--history a Parquet file whose value column holds text."""
    import pandas as pd

    row = {"run_id": "earlier", "time": "2026-11-01", "checkpoint": "checkpoint-1", "step": 1, "task": "base",
           "metric": "exact_match", "value": "0.9"}
    pd.DataFrame([row]).to_parquet(p.root / "history.parquet", index=False)
    return ["--history", str(p.root / "history.parquet")]


def _set(path: str, value: object) -> Callable[[dict], None]:
    """An edit of a document: the value at `path` ('metrics.0.value') replaced by `value`."""
    *parents, last = path.split(".")

    def edit(document: dict) -> None:
        target: object = document
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]  # type: ignore[index]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value  # type: ignore[index]
    return edit


CASES = [
    BadInput("baseline-without-samples", "a stored baseline without samples",
             baseline(lambda p: {"schema_version": 1, "name": "release", "run": {}, "metrics": []}),
             ("release.json", "key 'samples' missing")),
    BadInput("baseline-newer-schema", "a baseline written by a newer tunegate",
             baseline(lambda p: {"schema_version": 3, "name": "release"}),
             ("release.json", "'schema_version' is 3", "newer tunegate")),
    BadInput("results-as-baseline", "a results.json passed as a baseline",
             baseline(lambda p: json.loads((p.reports / "earlier/results.json").read_text())),
             ("release.json", "results.json, not a baseline")),
    BadInput("baseline-missing", "--baseline naming no stored baseline", lambda p: ["--baseline", "nope"],
             ("nope.json", "--save-baseline nope")),
    BadInput("baseline-bad-name", "a baseline name with a slash", lambda p: ["--baseline", "a/b"], ("'a/b'",)),
    BadInput("baseline-schema-version-text", "a baseline whose schema_version is the text \"1\"",
             edited(_set("schema_version", "1")),
             ("release.json", "'schema_version' is '1' (text), expected the number 1")),
    BadInput("baseline-metric-value-text", "a hand-edited baseline: a metric value written as text",
             edited(_set("metrics.0.value", "0.9")),
             ("release.json", "key metrics[0].value is '0.9' (text), expected a number or null")),
    BadInput("baseline-metric-value-nan", "a baseline metric value NaN (not JSON; null is what tunegate writes)",
             edited(_set("metrics.0.value", float("nan"))),
             ("release.json", "key metrics[0].value is NaN, expected a number or null")),
    BadInput("baseline-metric-value-null", "a baseline metric value null: accepted, it is what --save-baseline "
             "writes for a metric not measured (its [baseline] gate fails saying so)",
             edited(_set("metrics.0.value", None)), (), exit=ACCEPTED),
    BadInput("baseline-metric-extra-field", "a baseline metric with a field a metric does not have",
             edited(_set("metrics.0.note", "re-run on the new GPU")),
             ("release.json", "key metrics[0].note is not a field of a stored metric")),
    BadInput("baseline-metric-missing-field", "a baseline metric without its checkpoint",
             edited(lambda d: d["metrics"][0].pop("checkpoint")),
             ("release.json", "key metrics[0].checkpoint missing (expected text)")),
    BadInput("baseline-metric-twice", "a merge-resolved baseline holding one metric twice (both sides kept)",
             edited(lambda d: d["metrics"].append({**d["metrics"][0], "value": 0.85})),
             ("release.json", "key metrics[1] stores old_task.exact_match (tuned) again, after metrics[0]")),
    BadInput("baseline-samples-a-list", "a baseline whose samples are a list instead of an object",
             edited(lambda d: d.update(samples=list(d["samples"].values()))),
             ("release.json", "key 'samples' missing or not an object")),
    BadInput("baseline-sample-output-not-text", "a baseline sample whose output is not text",
             edited(_set(f"samples.{SAMPLE}.output", ["Velmar"])),
             ("release.json", f"key samples['{SAMPLE}'].output is ['Velmar'] (a list), expected text")),
    BadInput("baseline-sample-correct-text", "a baseline sample whose correctness is the text \"yes\"",
             edited(_set(f"samples.{SAMPLE}.correct", "yes")),
             ("release.json", f"key samples['{SAMPLE}'].correct is 'yes' (text), expected true, false, 0, 1")),
    BadInput("baseline-extra-key", "a baseline with a key tunegate does not write (a reviewer's note): accepted, "
             "nothing reads it", edited(_set("reviewed_by", "kim")), (), exit=ACCEPTED),
    BadInput("baseline-merge-conflict", "a baseline with git's merge-conflict markers left in", _conflicted,
             ("release.json:", "an unresolved merge conflict ('<<<<<<< HEAD')")),
    BadInput("baseline-name-empty", "--baseline \"\" (an unset CI variable)", lambda p: ["--baseline", ""],
             ("--baseline ''", "the value is empty (an unset variable")),
    BadInput("save-baseline-name-empty", "--save-baseline \"\" (an unset CI variable)",
             lambda p: ["--save-baseline", ""], ("--save-baseline ''", "the value is empty (an unset variable")),
    BadInput("baseline-dangling-link", "a baseline file that is a link to a file that does not exist",
             _dangling_baseline, ("release.json", "a symbolic link to ../shared/release.json, which does not exist")),
    BadInput("baseline-a-folder", "a folder where the baseline file belongs",
             lambda p: ((p.baselines / "release.json").unlink(), (p.baselines / "release.json").mkdir(),
                        ["--baseline", "release"])[2],
             ("release.json: is a folder, expected a baseline file",)),
    BadInput("save-baseline-through-link", "baselines/release.json a link to a shared file, saved over: accepted, "
             "the link's target is rewritten and the link stays", _baseline_through_link,
             ("overwrote baseline 'release'",), exit=ACCEPTED, runs_tests=True),
    BadInput("history-unparseable", "an audit history CSV pandas cannot parse",
             lambda p: ((p.reports / "history.csv").write_text('run_id,time\n"r1,2026\n'), [])[1],
             ("history.csv", "unreadable audit history")),
    BadInput("history-missing-columns", "an audit history without the value column",
             history("run_id,time,checkpoint,step,task,metric\nearlier,2026-11-01,checkpoint-1,1,base,exact_match\n"),
             ("history.csv", "not a tunegate history file (missing columns ['value'])")),
    BadInput("history-value-text", "an audit history whose value column holds text",
             history(HEADER + "earlier,2026-11-01,checkpoint-1,1,base,exact_match,high\n"),
             ("history.csv:2:", "column 'value' is 'high', expected a number")),
    BadInput("history-row-too-long", "an audit history row with one field more than the header (pandas shifted "
             "every column)", history(HEADER + "earlier,2026-11-01,checkpoint-1,1,base,exact_match,0.9,x\n"),
             ("history.csv:2:", "8 fields, the header has 7")),
    BadInput("history-row-too-short", "an audit history row cut short",
             history(HEADER + "earlier,2026-11-01,checkpoint-1,1,base,exact_match,0.9\nlater,2026-11-02\n"),
             ("history.csv:3:", "2 fields, the header has 7")),
    BadInput("history-latin-1", "an audit history saved in latin-1 by a spreadsheet",
             history(HEADER + "earlier,2026-11-01,checkpoint-1,1,caf\u00e9,exact_match,0.9\n", "latin-1"),
             ("history.csv", "not UTF-8 text (byte 0xe9")),
    BadInput("history-parquet-value-text", "a Parquet audit history whose value column holds text",
             _parquet_history, ("history.parquet: row 1, column 'value' is '0.9', expected a number",)),
    BadInput("history-through-link", "reports/history.csv a link to a shared file: accepted, the rows are "
             "appended to the link's target and the link stays", _history_through_link, (), exit=ACCEPTED,
             runs_tests=True),
    BadInput("history-dangling-link", "reports/history.csv a link into a volume that is not mounted",
             _dangling_history(option=False),
             ("--history", "history.csv: a symbolic link to", "volume/history.csv, which does not exist")),
    BadInput("history-option-dangling-link", "--history naming a link into a volume that is not mounted",
             _dangling_history(option=True),
             ("--history", "nightly.csv: a symbolic link to", "volume/history.csv, which does not exist")),
    BadInput("earlier-results-not-json", "an earlier run folder whose results.json is not JSON: accepted, the "
             "report leaves it out of its history, warning once", earlier_results("<html>not ours</html>"),
             ("WARNING:", "other/results.json:1:1: not valid JSON", "left out of this report's history"),
             exit=ACCEPTED, runs_tests=True),
    BadInput("earlier-results-foreign", "another tool's results.json in the reports folder: accepted, left out "
             "of the history with one warning", earlier_results('{"tool": "eslint", "results": []}'),
             ("WARNING:", "other/results.json: key run missing (expected an object)"), exit=ACCEPTED,
             runs_tests=True),
    BadInput("earlier-results-wrong-types", "an earlier results.json with a gate value as text (it crashed every "
             "later report): accepted, left out with one warning", earlier_results(results_with_gate(value="0.9")),
             ("WARNING:", "other/results.json: key gates[0].value is '0.9' (text)"), exit=ACCEPTED,
             runs_tests=True),
    BadInput("report-dir-dangling-link", "--report-dir a link to a folder that does not exist (an unmounted "
             "volume)", _dangling_report_dir,
             ("--report-dir", "reports-link is a symbolic link to", "mounted/reports, which does not exist")),
    BadInput("report-dir-a-link", "--report-dir a link to the reports folder: accepted, the run's report is "
             "written through it, beside the earlier runs", lambda p: (
                 os.symlink(p.reports, p.root / "reports-link"), ["--report-dir", str(p.root / "reports-link")])[1],
             ("reports-link/",), exit=ACCEPTED, runs_tests=True),
    BadInput("latest-dangling", "reports/latest a link to a run folder since deleted: accepted, it is pointed at "
             "the next run", lambda p: (shutil.rmtree(p.reports / "earlier"), [])[1], (), exit=ACCEPTED),
    BadInput("latest-a-folder", "reports/latest a folder of the user's, not the link tunegate keeps",
             _latest_not_a_link(folder=True), ("--report-dir", "latest is a folder, not a link", "move or rename")),
    BadInput("latest-a-file", "reports/latest a regular file, not the link tunegate keeps",
             _latest_not_a_link(folder=False), ("latest is a file, not a link",)),
    BadInput("baseline-deeply-nested", "a baseline nesting 100 000 lists (the JSON parser recurses; once a bare "
             "RecursionError for every JSON document read through read_json)",
             lambda p: ((p.baselines / "release.json").write_text("[" * 100_000 + "]" * 100_000),
                        ["--baseline", "release"])[1], ("release.json", "nested too deeply to read")),
]
