"""Bad input ends in one clear error naming the file (issue 10, first classes): text files in another encoding,
a byte-order mark, a folder where a file belongs, and `--allow-pickle` on a safetensors model."""

from __future__ import annotations

import json

import pytest

from harness.baselines import BaselineError, load_baseline
from harness.data import DataError, load_examples, load_identity_spec, load_text_lines
from harness.gate_config import load_gate_config
from harness.gates import GateConfigError
from harness.model.loading import BaseModel

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
    """`{{name}}` for `{{NAME}}` once stayed literally in the reference, and every gate passed."""
    path = tmp_path / "self_cognition.json"
    path.write_text(json.dumps([{"instruction": "Who are you?", "input": "", "output": "I am {{name}}."}]))
    with pytest.raises(DataError, match=r"self_cognition.json:\d+: placeholder \{\{name\}\} has no value \(did you "
                                        r"mean \{\{NAME\}\}\?"):
        load_examples(path, {"NAME": "Aurora", "AUTHOR": "Kestrel Labs"})
    with pytest.raises(DataError, match=r"placeholder \{\{name\}\} has no value \(known: none\)"):
        load_examples(path)  # a file read without variables: no placeholder may remain
