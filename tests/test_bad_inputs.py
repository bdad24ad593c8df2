"""Bad input ends in one clear error naming the file (issue 10, first classes): text files in another encoding,
a byte-order mark, a folder where a file belongs, and `--allow-pickle` on a safetensors model."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from harness.data import DataError, IdentitySpec, load_examples, load_identity_spec, load_text_lines
from harness.gating.baselines import BaselineError, load_baseline
from harness.gating.gate_config import load_gate_config
from harness.gating.gates import GateConfigError
from harness.model.loading import BaseModel
from tests.bad_input_cases import CASES, REFUSED, ROOT, BadInput, Project, readme_with_table

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


@pytest.mark.parametrize("gates", ["folder", "latin-1"])
def test_a_bad_gates_option_is_a_usage_error_without_a_traceback(pytester: pytest.Pytester, gates):
    pytester.makepyfile(test_plain="def test_sum():\n    assert True\n")
    if gates == "folder":
        target = pytester.mkdir("gates")
    else:
        target = pytester.path / "gates.toml"
        target.write_bytes('# caf\xe9\n[identity]\nleak_rate = "<= 0"\n'.encode("latin-1"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--gates", str(target))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert str(target) in output and "Traceback" not in output and "INTERNALERROR" not in output


def test_a_baseline_in_another_encoding_is_named(tmp_path):
    path = tmp_path / "release.json"
    path.write_bytes('{"name": "r\xe9lease"}'.encode("latin-1"))
    with pytest.raises(BaselineError, match=r"release.json: not UTF-8 text"):
        load_baseline(path)


def test_allowing_pickle_still_loads_a_safetensors_model(base_model):
    """`--allow-pickle` means "also accept .bin", never "refuse safetensors"."""
    model, tokenizer = BaseModel.at(base_model.path, allow_pickle=True).load()
    assert sum(p.numel() for p in model.parameters()) > 0 and tokenizer.pad_token_id is not None


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


# --- issue 10 acceptance: every class, end to end through pytest ------------------------------------------------

@pytest.fixture(scope="module")
def small_adapter(tmp_path_factory) -> Path:
    """A LoRA adapter (r=4 on q_proj and v_proj) for the shipped built-in model, untrained: it is never run."""
    from peft import LoraConfig, get_peft_model

    model, _ = BaseModel.at(ROOT / "fixtures/builtin/model").load()
    folder = tmp_path_factory.mktemp("adapter") / "adapter"
    get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])).save_pretrained(folder)
    return folder


@pytest.fixture
def project(pytester: pytest.Pytester, small_adapter: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh project (see `Project`) with one suite test that records a verdict without loading a model."""
    from harness.gating.results import RunInfo, RunRecord, write_results

    p = Project(pytester.path, monkeypatch)
    shutil.copytree(ROOT / "fixtures", p.data, ignore=shutil.ignore_patterns("builtin", "generate.py", "README.md"))
    shutil.copytree(ROOT / "fixtures/builtin/model", p.model)
    shutil.copytree(small_adapter, p.adapter)
    write_results(p.reports / "earlier", RunRecord(RunInfo("earlier", "2026-11-01T00:00:00")))
    (p.reports / "earlier/report.html").write_text("<html>earlier</html>")
    os.symlink("earlier", p.reports / "latest")
    (p.reports / "history.csv").write_text("run_id,time,checkpoint,step,task,metric,value\n"
                                           "earlier,2026-11-01,checkpoint-1,1,base,exact_match,0.9\n")
    p.baselines.mkdir()
    (p.baselines / "release.json").write_text(json.dumps({"schema_version": 1, "name": "release", "run": {},
                                                          "metrics": [], "samples": {}}))
    pytester.makepyfile(test_suite=SUITE)
    return p


SUITE = '''
import pytest
from harness.foundation.records import GateResult, MetricValue

pytestmark = pytest.mark.old_task


def test_gate(tunegate):
    tunegate.record_metrics([MetricValue("old_task", "exact_match", 0.9, n=10)])
    tunegate.enforce(GateResult("old_task.exact_match", "old_task", "exact_match", ">=", 0.5, 0.9, True, "ok"))
'''


def case_named(case_id: str) -> BadInput:
    """The case of CASES with this id."""
    return next(c for c in CASES if c.id == case_id)


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
    assert {k: v for k, v in after.items() if k in before} == before
    if case.exit == REFUSED:  # said once, on one line (pytest's short summary repeats an error: not counted)
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


def test_refusals_page_is_current():
    """docs/refusals.md's table is rendered from CASES (`python3 dev.py refusals` rewrites it)."""
    page = (ROOT / "docs/refusals.md").read_text(encoding="utf-8")
    assert readme_with_table(page) == page, "docs/refusals.md's table is stale: run `python3 dev.py refusals`"


def test_an_input_longer_than_the_context_is_refused_before_inference(base_model):
    """The second line of defence (data an extension loads itself, never seen by preflight): the model refuses an
    input longer than its positions before any forward pass, for generation and for scoring."""
    from harness.data import Example
    from harness.model.views import plain_base

    model = plain_base(base_model)
    long = [("user", "Which city is the capital of Velmaria? " * 40)]
    with pytest.raises(DataError, match=r"an input of \d+ tokens \(with 8 new tokens\) is longer than the model's "
                                        r"context of 256 positions \(its last turn begins 'Which city"):
        model.generate([long], max_new_tokens=8)
    with pytest.raises(DataError, match=r"longer than the model's context of 256"):
        model.loglikelihood([Example("long", tuple(long), "Velmar")])
    assert model.generate([[("user", "What is the capital of Velmaria?")]], max_new_tokens=4)  # short: answered


def test_a_fixture_error_under_xdist_is_exit_4_too(pytester: pytest.Pytester, project: Project):
    """A worker that stops on bad input hands the reason to the controller, whose exit status is 4."""
    case_named("fixture-error-stops-session").plant(project)
    result = pytester.runpytest_subprocess(*project.options(), "-n", "2", "test_extension.py", timeout=300)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert "broken.json:1: invalid JSON" in output and "Traceback" not in output
