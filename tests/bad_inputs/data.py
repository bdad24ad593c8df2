"""The data folder: datasets, probes, identity, recipes."""

from __future__ import annotations

import json
import shutil

from tests.bad_inputs.project import ACCEPTED, DEV, ROOT, BadInput, Project, bom, dev_record, latin_1, records

TITLE = "the data folder (datasets, identity, recipes)"


def _overlapping_dev(records: list) -> list:
    train = json.loads((ROOT / "fixtures/tasks/increment_2/train.json").read_text(encoding="utf-8"))
    fresh = [{**r, "id": f"new-{i}", "instruction": r["instruction"] + f" (variant {i})"} for i, r in
             enumerate(records[:5])]
    return fresh + train[:2]


def _broken_extension_data(p: Project) -> list[str]:
    (p.root / "broken.json").write_text('[{"instruction": "Hi" "output": "Hello"}]')
    (p.root / "test_extension.py").write_text(
        "import pytest\nfrom pathlib import Path\nfrom harness.data import load_examples\n\n"
        "pytestmark = pytest.mark.old_task\n\n\n@pytest.fixture(scope='session')\ndef examples():\n"
        "    return load_examples(Path(__file__).parent / 'broken.json')\n\n\n"
        "@pytest.mark.parametrize('item', range(100))\ndef test_item(examples, item):\n    assert examples\n")
    return []


def _builtin_without_data(p: Project) -> list[str]:
    (p.root / "test_base.py").write_text("import pytest\n\npytestmark = pytest.mark.old_task\n\n\n"
                                         "def test_base(base_model):\n    assert base_model\n")
    return ["--base-model", "builtin"]


CASES = [
    BadInput("dataset-latin-1", "a dataset saved in latin-1", latin_1(DEV, "Zelnisia", "Zelnisié"),
             ("tasks/base/dev.json", "not UTF-8", "byte 0xe9")),
    BadInput("probes-latin-1", "a probe file saved in latin-1", latin_1("identity/probes.json", "?", "¿"),
             ("identity/probes.json", "not UTF-8")),
    BadInput("dataset-bom", "a dataset with a UTF-8 byte-order mark", bom(DEV), (), ACCEPTED),
    BadInput("prompt-10mb", "a 10 MB prompt in a dev set",
             records(DEV, dev_record(instruction="Velmar is a city. " * 600_000)),
             ("tasks/base/dev.json:", "en-lang-009", "bytes of text", "max_position_embeddings")),
    BadInput("input-over-context", "a record longer than the model's context",
             records(DEV, dev_record(instruction="Which city? " * 150)),
             ("tasks/base/dev.json:", "en-lang-009", "tokens", "context of 256")),
    BadInput("placeholder-wrong-case", "{{Name}} for {{NAME}} in self_cognition.json",
             records("identity/self_cognition.json", lambda r: [{**r[0], "output": "I am {{Name}}."}, *r[1:]]),
             ("identity/self_cognition.json:", "{{Name}}", "did you mean {{NAME}}")),
    BadInput("train-dev-shared-records", "a dev set sharing records with its train set (a leak)",
             records("tasks/increment_2/dev.json", _overlapping_dev),
             ("increment_2/dev.json", "2 of 7 records also appear", "increment_2/train.json"), ACCEPTED),
    BadInput("dev-copy-of-train", "a dev set identical to its train set",
             lambda p: (shutil.copy(p.data / "tasks/increment_1/train.json", p.data / "tasks/increment_1/dev.json"),
                        [])[1], ("increment_1/dev.json", "holds exactly the 120 records")),
    BadInput("empty-answer", "an empty answer in a dev set", records(DEV, dev_record(output="")),
             ("tasks/base/dev.json:", "key 'output' must be a non-empty string")),
    BadInput("dataset-invalid-json", "a dataset that is not JSON",
             lambda p: ((p.data / DEV).write_text('[{"instruction": "Hi" "output": "x"}]'), [])[1],
             ("tasks/base/dev.json:1", "invalid JSON")),
    BadInput("dataset-unknown-format", "a record in neither alpaca nor chat format",
             records(DEV, lambda r: [{"question": "Hi", "answer": "x"}, *r[1:]]),
             ("tasks/base/dev.json:", "unknown record format")),
    BadInput("dataset-duplicate-id", "two records with one id", records(DEV, lambda r: [r[0], *r]),
             ("tasks/base/dev.json:", "duplicate id 'en-lang-009'")),
    BadInput("identity-unknown-key", "an unknown key in identity.toml",
             lambda p: (p.rewrite(p.data / "identity/identity.toml", lambda t: 'colour = "blue"\n' + t), [])[1],
             ("identity/identity.toml", "unknown key(s) ['colour']")),
    BadInput("probe-bad-kind", "a probe of an unknown kind",
             records("identity/probes.json", lambda r: [{**r[0], "kind": "weird"}, *r[1:]]),
             ("identity/probes.json:", "key 'kind'")),
    BadInput("identity-prompt-shots-negative", "a negative number of worked examples for the identity's baseline",
             lambda p: (p.rewrite(p.data / "identity/identity.toml", lambda t: t.replace(
                 "\n[base]", "\nprompt_shots = -1\n[base]", 1)), [])[1],
             ("identity/identity.toml", "key 'prompt_shots' must be a whole number >= 0, got -1")),
    BadInput("recipe-invalid", "a recipe with r = 0",
             lambda p: (p.rewrite(p.data / "recipes.toml", lambda t: t.replace("\nr = 16 ", "\nr = 0 ", 1)), [])[1],
             ("recipes.toml [identity]", "r must be >= 1")),
    BadInput("recipe-missing-target-module", "a recipe targeting a module the base does not have (refused before "
             "training, close matches named)",
             lambda p: (p.rewrite(p.data / "recipes.toml", lambda t: t.replace(
                 'target_modules = "all-linear"', 'target_modules = ["q_proj", "qkv_proj"]', 1)), [])[1],
             ("recipes.toml [identity]", "'qkv_proj' matches no Linear/Conv1D module", "close: v_proj, q_proj")),
    BadInput("recipe-rank-too-large", "a recipe whose rank exceeds the base's layers",
             lambda p: (p.rewrite(p.data / "recipes.toml", lambda t: t.replace("\nr = 16 ", "\nr = 512 ", 1)), [])[1],
             ("recipes.toml [identity]", "r = 512 exceeds the smaller side")),
    BadInput("fixture-error-stops-session", "a data file a session fixture of 100 tests cannot read",
             _broken_extension_data, ("broken.json:1", "invalid JSON"), runs_tests=True),
    BadInput("builtin-without-its-data", "--base-model builtin with a data folder that can neither ship nor build it",
             _builtin_without_data, ("--base-model builtin", "builtin/base_identity.json"), runs_tests=True),
]
