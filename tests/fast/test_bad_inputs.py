"""Bad input ends in one clear error naming the file (issue 10, first classes): text files in another encoding,
a byte-order mark and a folder where a file belongs; then every case of the bad-input table (tests/bad_inputs/)
end to end through pytest, on a fresh project whose suite loads no model."""

from __future__ import annotations

import json
import os

import pytest

from harness.data import DataError, IdentitySpec, load_examples, load_identity_spec, load_text_lines
from harness.gating.baselines import BaselineError, load_baseline
from harness.gating.gate_config import load_gate_config
from harness.gating.gates import GateConfigError
from tests.bad_inputs import ACCEPTED, CASES, INTERRUPTED, ROOT, BadInput, Project, case_named, readme_with_table

RECORDS = [{"instruction": "Capital of Velmaria?", "input": "", "output": "Velmar"}]
BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("name", ["dev.json", "dev.jsonl"])
def test_a_dataset_with_a_byte_order_mark_loads(tmp_path, name):
    text = json.dumps(RECORDS) if name.endswith(".json") else "\n".join(json.dumps(r) for r in RECORDS)
    (tmp_path / name).write_bytes(BOM + text.encode())
    assert [ex.answer for ex in load_examples(tmp_path / name)] == ["Velmar"]


@pytest.mark.parametrize(("load", "name", "content"), [
    (load_examples, "dev.json", '[{"instruction": "Où est Velmar?", "input": "", "output": "là"}]'),
    (load_text_lines, "heldout.txt", "Le café est chaud.\n"),
    (load_identity_spec, "identity.toml", 'name = "Aurora"\nauthor = "Kestrel Labs é"\n'),
])
def test_a_data_file_in_latin_1_is_an_error_naming_the_file_and_the_byte(tmp_path, load, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(DataError, match=rf"{name}: not UTF-8 text \(byte 0x[0-9a-f]{{2}} at offset \d+\); save the "
                                        "file as UTF-8"):
        load(path)


def test_a_folder_where_a_data_file_belongs_is_named(tmp_path):
    (tmp_path / "dev.json").mkdir()
    with pytest.raises(DataError, match=r"dev.json: no such dataset file"):
        load_examples(tmp_path / "dev.json")
    with pytest.raises(DataError, match=r"heldout.txt: is a folder, expected a text file"):
        (tmp_path / "heldout.txt").mkdir()
        load_text_lines(tmp_path / "heldout.txt")


def test_gate_files_accept_a_bom_and_refuse_other_encodings_or_folders(tmp_path):
    from harness.capabilities import builtin_capabilities

    specs = builtin_capabilities().metric_specs()
    good = tmp_path / "good.toml"
    good.write_bytes(BOM + b'[identity]\nleak_rate = "<= 0"\n')
    assert load_gate_config(good, tmp_path, tmp_path, specs).to_dict() == {"identity.leak_rate": "<= 0"}
    bad = tmp_path / "bad.toml"
    bad.write_bytes('# caf\xe9\n[identity]\nleak_rate = "<= 0"\n'.encode("latin-1"))
    with pytest.raises(GateConfigError, match=r"bad.toml: not UTF-8 text \(byte 0xe9 at offset 5\)"):
        load_gate_config(bad, tmp_path, tmp_path, specs)
    with pytest.raises(GateConfigError, match=r"is a folder, expected a gate config TOML file"):
        load_gate_config(tmp_path, tmp_path, tmp_path, specs)


def test_a_baseline_in_another_encoding_is_named(tmp_path):
    path = tmp_path / "release.json"
    path.write_bytes('{"name": "r\xe9lease"}'.encode("latin-1"))
    with pytest.raises(BaselineError, match=r"release.json: not UTF-8 text"):
        load_baseline(path)


def test_a_placeholder_in_the_wrong_case_is_an_error_not_a_literal_reference(tmp_path):
    """`{{Name}}` for `{{NAME}}` once stayed literally in the reference, and every gate passed."""
    path = tmp_path / "self_cognition.json"
    path.write_text(json.dumps([{"instruction": "Who are you?", "input": "", "output": "I am {{Name}}."}]))
    spec = IdentitySpec(name="Aurora", author="Kestrel Labs")
    with pytest.raises(DataError, match=r"self_cognition.json:\d+: placeholder \{\{Name\}\} has no value \(did you "
                                        r"mean \{\{NAME\}\}\?"):
        load_examples(path, spec.variables)
    with pytest.raises(DataError, match=r"placeholder \{\{Name\}\} has no value \(known: none\)"):
        load_examples(path)  # a file read without variables: no placeholder may remain


def test_llama_factory_identity_placeholders_work_as_shipped(tmp_path):
    """LLaMA-Factory's own identity.json writes `{{name}}` and `{{author}}`: they fill like `{{NAME}}`."""
    path = tmp_path / "identity.json"
    path.write_text(json.dumps([{"instruction": "hi", "input": "", "output": "Hello! I am {{name}}, an AI "
                                 "assistant developed by {{author}}. How can I assist you today?"}]))
    [example] = load_examples(path, IdentitySpec(name="Aurora", author="Lumen Labs").variables)
    assert example.answer == "Hello! I am Aurora, an AI assistant developed by Lumen Labs. How can I assist you today?"


def snapshot(p: Project) -> dict[str, bytes | str]:
    """Every file under reports/ and baselines/ (bytes) and every symbolic link there (its target)."""
    out: dict[str, bytes | str] = {}
    for folder in (p.reports, p.baselines):
        for path in sorted(folder.rglob("*")):
            key = str(path.relative_to(p.root))
            out[key] = os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else ""
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(pytester: pytest.Pytester, project: Project, case: BadInput):
    """The run ends with the case's exit status and one message naming the file and key, no traceback; every
    earlier report, link, history and baseline is byte-identical afterwards."""
    if case.id == "device-cuda-without-gpu":
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    args = case.plant(project)
    before = snapshot(project)
    options = ["-p", "no:cacheprovider", *args] if case.in_repository else [*project.options(), *args]
    if not case.runs_tests:
        options.append("--collect-only")
    result = pytester.runpytest_inprocess(*options)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == case.exit, output[-3000:]
    for fragment in case.names:
        assert fragment in output, f"{fragment!r} not in: {output[-3000:]}"
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-3000:]
    after = snapshot(project)
    if case.exit == ACCEPTED and case.runs_tests:  # an accepted run that wrote its report points `latest` at it
        before.pop("reports/latest", None)
    assert {k: v for k, v in after.items() if k in before} == before
    if case.exit != ACCEPTED:  # said once, on one line (pytest's short summary repeats an error: not counted)
        lines = [line for line in output.splitlines() if case.names[-1] in line and not line.startswith("ERROR test")]
        assert len(lines) == 1, output[-3000:]


def test_a_fixture_error_is_reported_once_not_per_test(pytester: pytest.Pytester, project: Project):
    """One unreadable data file under a fixture of 100 tests: one message and exit 4, not 100 errors."""
    case_named("fixture-error-stops-session").plant(project)
    result = pytester.runpytest_inprocess(*project.options())
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    result.assert_outcomes(errors=1)  # the first test; the other 99 never start
    assert "test_item[1]" not in output and "Interrupted: bad input" in output


def test_a_full_disk_keeps_results_json_and_leaves_no_partial_report(pytester: pytest.Pytester, project: Project):
    case_named("disk-full-report").plant(project)
    result = pytester.runpytest_inprocess(*project.options())
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    run_dir = next(d for d in project.reports.iterdir() if d.is_dir() and d.name not in ("earlier", "latest"))
    assert json.loads((run_dir / "results.json").read_text())["gates"][0]["id"] == "old_task.exact_match"
    assert sorted(p.name for p in run_dir.iterdir()) == ["results.json"]  # no report.html, no temporary file
    assert os.readlink(project.reports / "latest") == "earlier"


def test_a_ctrl_c_while_the_baseline_is_written_keeps_the_reports_and_the_earlier_baseline(
        pytester: pytest.Pytester, project: Project):
    """Past the reports (written, `latest` moved: not a table case), a Ctrl-C in the baseline's write: one line
    naming it and what was kept, exit 130, no traceback, the baseline folder as it was (no partial file)."""
    from tests.bad_inputs.faults import ctrl_c

    before = sorted(p.name for p in project.baselines.iterdir())
    result = pytester.runpytest_inprocess(*project.options(), *ctrl_c("next.json", "--save-baseline", "next")(project))
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == INTERRUPTED and "Traceback" not in output, output[-3000:]
    [line] = [line for line in output.splitlines() if "interrupted (Ctrl-C) while writing baseline" in line]
    assert "next.json: kept" in line and "report.html" in line and "reports/latest" in line
    assert sorted(p.name for p in project.baselines.iterdir()) == before


def test_refusals_page_is_current():
    """docs/refusals.md's table is rendered from CASES (`python3 dev.py refusals` rewrites it)."""
    page = (ROOT / "docs/refusals.md").read_text(encoding="utf-8")
    assert readme_with_table(page) == page, "docs/refusals.md's table is stale: run `python3 dev.py refusals`"
