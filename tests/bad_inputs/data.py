"""The data folder: datasets, probes, identity, recipes."""

from __future__ import annotations

import json
import re
import shutil

from tests.bad_inputs.project import (
    ACCEPTED,
    DEV,
    ROOT,
    BadInput,
    Plant,
    Project,
    bom,
    dev_record,
    latin_1,
    records,
    replace_in,
)

TITLE = "the data folder (datasets, identity, recipes, prompt baselines, pyproject.toml)"
IDENTITY, PROBES, RECIPES, PROMPTED, HELDOUT = ("identity/identity.toml", "identity/probes.json", "recipes.toml",
                                                "prompted.toml", "perplexity/heldout.txt")
CHAT = {"id": "chat-1", "messages": [{"role": "user", "content": "Capital of Velmaria?"},
                                     {"role": "assistant", "content": "Velmar"}]}


def _overlapping_dev(records: list) -> list:
    train = json.loads((ROOT / "fixtures/tasks/increment_2/train.json").read_text(encoding="utf-8"))
    fresh = [{**r, "id": f"new-{i}", "instruction": r["instruction"] + f" (variant {i})"} for i, r in
             enumerate(records[:5])]
    return fresh + train[:2]


def _extension_reading(name: str, content: str) -> Plant:
    """A test extension whose session fixture (used by 100 tests) reads data file `name`, holding `content`."""
    def plant(p: Project) -> list[str]:
        (p.root / name).write_text(content)
        (p.root / "test_extension.py").write_text(
            "import pytest\nfrom pathlib import Path\nfrom harness.data import load_examples\n\n"
            "pytestmark = pytest.mark.old_task\n\n\n@pytest.fixture(scope='session')\ndef examples():\n"
            f"    return load_examples(Path(__file__).parent / {name!r})\n\n\n"
            "@pytest.mark.parametrize('item', range(100))\ndef test_item(examples, item):\n    assert examples\n")
        return []
    return plant


def _written(path: str, content: str) -> Plant:
    """Data file `path` replaced by `content`."""
    return lambda p: ((p.data / path).write_text(content, encoding="utf-8"), [])[1]


def _pyproject(content: str) -> Plant:
    """The project's pyproject.toml (in its rootdir) holding `content`."""
    return lambda p: ((p.root / "pyproject.toml").write_text(content), [])[1]


def _builtin_without_data(p: Project) -> list[str]:
    (p.root / "test_base.py").write_text("import pytest\n\npytestmark = pytest.mark.old_task\n\n\n"
                                         "def test_base(base_model):\n    assert base_model\n")
    return ["--base-model", "builtin"]


def _identity_base_named_as_own(p: Project) -> list[str]:
    """[base] name replaced by the identity's own name."""
    p.rewrite(p.data / IDENTITY, lambda t: t.replace('name = "Atlas"', 'name = "Aurora"', 1))
    return []


CASES = [
    BadInput("dataset-latin-1", "a dataset saved in latin-1", latin_1(DEV, "Zelnisia", "Zelnisié"),
             ("tasks/base/dev.json", "not UTF-8", "byte 0xe9")),
    BadInput("probes-latin-1", "a probe file saved in latin-1", latin_1("identity/probes.json", "?", "¿"),
             ("identity/probes.json", "not UTF-8")),
    BadInput("dataset-bom", "a dataset with a UTF-8 byte-order mark", bom(DEV), (), ACCEPTED),
    BadInput("prompt-10mb", "a 10 MB prompt in a dev set",
             records(DEV, dev_record(instruction="Velmar is a city. " * 600_000)),
             ("tasks/base/dev.json:", "en-cap-000", "bytes of text", "max_position_embeddings")),
    BadInput("input-over-context", "a record longer than the model's context",
             records(DEV, dev_record(instruction="Which city? " * 150)),
             ("tasks/base/dev.json:", "en-cap-000", "tokens", "context of 256")),
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
             ("tasks/base/dev.json:", "duplicate id 'en-cap-000'")),
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
             ("recipes.toml [identity]", "key 'r' must be a whole number >= 1, got 0")),
    BadInput("recipe-missing-target-module", "a recipe targeting a module the base does not have (refused before "
             "training, close matches named)",
             lambda p: (p.rewrite(p.data / "recipes.toml", lambda t: t.replace(
                 'target_modules = "all-linear"', 'target_modules = ["q_proj", "qkv_proj"]', 1)), [])[1],
             ("recipes.toml [identity]", "'qkv_proj' matches no Linear/Conv1D module", "close: v_proj, q_proj")),
    BadInput("recipe-rank-too-large", "a recipe whose rank exceeds the base's layers",
             lambda p: (p.rewrite(p.data / "recipes.toml", lambda t: t.replace("\nr = 16 ", "\nr = 512 ", 1)), [])[1],
             ("recipes.toml [identity]", "r = 512 exceeds the smaller side")),
    BadInput("fixture-error-stops-session", "a data file a session fixture of 100 tests cannot read",
             _extension_reading("broken.json", '[{"instruction": "Hi" "output": "Hello"}]'),
             ("broken.json:1", "invalid JSON"), runs_tests=True),
    BadInput("builtin-without-its-data", "--base-model builtin with a data folder that can neither ship nor build it",
             _builtin_without_data, ("--base-model builtin", "builtin/base_identity.json"), runs_tests=True),
    # identity.toml: every key of its type (a boolean is not a number)
    BadInput("identity-name-not-text", "identity.toml `name = 5`", replace_in(IDENTITY, 'name = "Aurora"', "name = 5"),
             ("identity/identity.toml", "key 'name' must be a non-empty string, got 5 (a whole number)")),
    BadInput("identity-author-a-list", "identity.toml `author = [\"a\"]`",
             replace_in(IDENTITY, 'author = "Kestrel Labs"', 'author = ["a"]'),
             ("identity/identity.toml", "key 'author' must be a non-empty string, got ['a'] (a list)")),
    BadInput("identity-name-missing", "identity.toml without `name`", replace_in(IDENTITY, 'name = "Aurora"\n', ""),
             ("identity/identity.toml", "key 'name' must be a non-empty string, got nothing (the key is missing)")),
    BadInput("identity-prompt-shots-text", "identity.toml `prompt_shots = \"3\"`",
             replace_in(IDENTITY, "\n[base]", '\nprompt_shots = "3"\n[base]'),
             ("identity/identity.toml", "key 'prompt_shots' must be a whole number >= 0, got '3' (a string)")),
    BadInput("identity-prompt-shots-bool", "identity.toml `prompt_shots = true` (Python counts True as 1)",
             replace_in(IDENTITY, "\n[base]", "\nprompt_shots = true\n[base]"),
             ("identity/identity.toml", "key 'prompt_shots' must be a whole number >= 0, got true (a boolean)")),
    BadInput("identity-system-prompt-not-text", "identity.toml `system_prompt = 1`",
             replace_in(IDENTITY, "\n[base]", "\nsystem_prompt = 1\n[base]"),
             ("identity/identity.toml", "key 'system_prompt' must be a string, got 1 (a whole number)")),
    BadInput("identity-deeply-nested", "identity.toml with 100 000 nested arrays (the TOML parser recurses)",
             replace_in(IDENTITY, 'name = "Aurora"', "name = " + "[" * 100_000 + "]" * 100_000),
             ("identity/identity.toml", "not valid TOML (arrays or tables nested too deeply to read)")),
    BadInput("identity-base-not-table", "identity.toml `base = \"Atlas\"` instead of a [base] table",
             replace_in(IDENTITY, '[base]\nname = "Atlas"\nauthor = "Northwind"', 'base = "Atlas"'),
             ("identity/identity.toml", "key 'base' must be a table, got 'Atlas' (a string)")),
    BadInput("identity-other-names-text", "identity.toml [others] `names` a string, not a list",
             lambda p: (p.rewrite(p.data / IDENTITY, lambda t: re.sub(r"\nnames = \[.*", '\nnames = "ChatGPT"', t)),
                        [])[1],
             ("identity/identity.toml [others]", "key 'names' must be a list of strings, got 'ChatGPT' (a string)")),
    # datasets: text that is not text, JSON too deep to read, records of the wrong shape
    BadInput("dataset-lone-surrogate", "a lone surrogate escape (\\ud800) in a dataset's JSON string",
             replace_in(DEV, "Zelnisia", "Zelni\\ud800sia"),
             ("tasks/base/dev.json:146", "key 'instruction' holds a lone surrogate escape '\\ud800'")),
    BadInput("dataset-deeply-nested", "100 000 nested `[` in a dataset (Python's JSON parser recurses)",
             _written(DEV, "[" + "[" * 100_000 + "]" * 100_000 + "]"),
             ("tasks/base/dev.json:1", "nested too deeply to read")),
    BadInput("dataset-top-level-object", "a .json dataset holding an object, not a list of records",
             _written(DEV, '{"records": []}'), ("tasks/base/dev.json:1", "expected a JSON list of records, got an "
                                                "object")),
    BadInput("dataset-jsonl-line-not-object", "a .jsonl line that is a list, not a record",
             _extension_reading("extra.jsonl", '{"instruction": "Hi", "output": "Hello"}\n["Hi", "Hello"]\n'),
             ("extra.jsonl:2", "a record must be a JSON object, got ['Hi', 'Hello'] (a list)"), runs_tests=True),
    BadInput("dataset-output-a-number", "a dev record whose `output` is a number", records(DEV, dev_record(output=5)),
             ("tasks/base/dev.json:1", "key 'output' must be a non-empty string, got 5 (a whole number)")),
    BadInput("dataset-instruction-a-list", "a dev record whose `instruction` is a list",
             records(DEV, dev_record(instruction=["Capital?"])),
             ("tasks/base/dev.json:1", "key 'instruction' must be a non-empty string, got ['Capital?'] (a list)")),
    BadInput("dataset-input-null", "a dev record with `input: null` (read as no input, as the loader documents)",
             records(DEV, dev_record(input=None)), (), ACCEPTED),
    BadInput("dataset-input-a-number", "a dev record with `input: 0` (once read as no input)",
             records(DEV, dev_record(input=0)),
             ("tasks/base/dev.json:1", "key 'input' must be a string, got 0 (a whole number)")),
    BadInput("dataset-system-a-number", "a dev record with `system: 1` (once read as the text \"1\")",
             records(DEV, dev_record(system=1)),
             ("tasks/base/dev.json:1", "key 'system' must be a string, got 1 (a whole number)")),
    BadInput("dataset-history-not-pairs", "a dev record whose `history` is a list of strings, not of pairs",
             records(DEV, dev_record(history=["Hi", "Hello"])),
             ("tasks/base/dev.json:1", "key 'history' must be a list of [question, answer] pairs of strings, got "
              "['Hi', 'Hello'] (a list)")),
    BadInput("dataset-id-a-list", "a dev record whose `id` is a list", records(DEV, dev_record(id=["a"])),
             ("tasks/base/dev.json:1", "key 'id' must be a non-empty string or a whole number, got ['a'] (a list)")),
    BadInput("dataset-id-a-decimal", "a dev record whose `id` is 1.5", records(DEV, dev_record(id=1.5)),
             ("tasks/base/dev.json:1", "key 'id' must be a non-empty string or a whole number, got 1.5")),
    BadInput("dataset-lang-not-text", "a dev record whose `lang` is a number", records(DEV, dev_record(lang=1)),
             ("tasks/base/dev.json:1", "key 'lang' must be a non-empty string, got 1 (a whole number)")),
    BadInput("dataset-chat-unknown-role", "a chat record with role `bot`",
             records(DEV, lambda r: [{**CHAT, "messages": [{"role": "bot", "content": "Hi"},
                                                           *CHAT["messages"]]}, *r[1:]]),
             ("tasks/base/dev.json:1", "key 'messages[0].role' must be one of ('system', 'user', 'assistant'), "
              "got 'bot' (a string)")),
    BadInput("dataset-chat-content-not-text", "a chat record whose `content` is a number",
             records(DEV, lambda r: [{**CHAT, "messages": [CHAT["messages"][0], {"role": "assistant", "content": 4}]},
                                     *r[1:]]),
             ("tasks/base/dev.json:1", "key 'messages[1].content' must be a string, got 4 (a whole number)")),
    # probes.json: each field of a probe
    BadInput("probe-kind-a-list", "a probe whose `kind` is a list", records(PROBES, dev_record(kind=["held_out"])),
             ("identity/probes.json:1", "key 'kind' must be one of")),
    BadInput("probe-lang-a-number", "a probe whose `lang` is a number", records(PROBES, dev_record(lang=7)),
             ("identity/probes.json:1", "key 'lang' must be a non-empty string, got 7 (a whole number)")),
    BadInput("probe-id-a-bool", "a probe whose `id` is true", records(PROBES, dev_record(id=True)),
             ("identity/probes.json:1", "key 'id' must be a non-empty string or a whole number, got true")),
    BadInput("probe-instruction-null", "a probe whose `instruction` is null", records(PROBES, dev_record(
        instruction=None)), ("identity/probes.json:1", "key 'instruction' must be a non-empty string, got null")),
    BadInput("probe-output-a-list", "a probe whose `output` is a list", records(PROBES, dev_record(output=["I am"])),
             ("identity/probes.json:1", "key 'output' must be a non-empty string, got ['I am'] (a list)")),
    # perplexity/heldout.txt: a perplexity over no text must not pass
    BadInput("heldout-empty", "an empty perplexity/heldout.txt", _written(HELDOUT, ""),
             ("perplexity/heldout.txt", "has no text (the file is empty)")),
    BadInput("heldout-blank-lines", "a perplexity/heldout.txt of blank lines", _written(HELDOUT, "\n   \n\t\n"),
             ("perplexity/heldout.txt", "has no text (only blank lines)")),
    # recipes.toml: types and ranges of every key
    BadInput("recipe-learning-rate-text", "recipes.toml `learning_rate = \"2e-4\"`",
             replace_in(RECIPES, "learning_rate = 3e-3", 'learning_rate = "2e-4"'),
             ("recipes.toml [identity]", "key 'learning_rate' must be a number > 0, got '2e-4' (a string)")),
    BadInput("recipe-alpha-decimal", "recipes.toml `alpha = 16.5` (peft declares lora_alpha a whole number)",
             replace_in(RECIPES, "alpha = 32", "alpha = 16.5"),
             ("recipes.toml [identity]", "key 'alpha' must be a whole number >= 1, got 16.5 (a decimal number)")),
    BadInput("recipe-r-bool", "recipes.toml `r = true`", replace_in(RECIPES, "\nr = 16 ", "\nr = true "),
             ("recipes.toml [identity]", "key 'r' must be a whole number >= 1, got true (a boolean)")),
    BadInput("recipe-epochs-negative", "recipes.toml `epochs = -1` beside `steps` (once ignored)",
             replace_in(RECIPES, "\nsteps = 250", "\nsteps = 250\nepochs = -1"),
             ("recipes.toml [identity]", "key 'epochs' must be a number > 0, got -1 (a whole number)")),
    BadInput("recipe-epochs-zero", "recipes.toml `epochs = 0` in a sequence recipe",
             replace_in(RECIPES, "\nsteps = 120", "\nsteps = 120\nepochs = 0"),
             ("recipes.toml [sequence.naive]", "key 'epochs' must be a number > 0, got 0 (a whole number)")),
    BadInput("recipe-dropout-one", "recipes.toml `dropout = 1.0`",
             replace_in(RECIPES, "dropout = 0.0", "dropout = 1.0"),
             ("recipes.toml [identity]", "key 'dropout' must be a number in [0, 1), got 1.0 (a decimal number)")),
    BadInput("recipe-key-outside-a-table", "recipes.toml `learning_rate = 1e-3` above every table",
             lambda p: (p.rewrite(p.data / RECIPES, lambda t: "learning_rate = 1e-3\n" + t), [])[1],
             ("recipes.toml: key 'learning_rate' must be a table (a recipe, or a group of recipes), got 0.001",)),
    BadInput("recipe-group-value-not-table", "recipes.toml `naive = 5` in the [sequence] group of recipe tables",
             replace_in(RECIPES, "[sequence.naive]", "[sequence]\nnaive = 5\n[sequence.naive2]"),
             ("recipes.toml [sequence]: key 'naive' must be a table (a recipe, or a group of recipes), got 5",)),
    BadInput("recipe-target-modules-number", "recipes.toml `target_modules = 5`",
             replace_in(RECIPES, 'target_modules = "all-linear"', "target_modules = 5"),
             ("recipes.toml [identity]", "key 'target_modules' must be \"all-linear\", a module name or a list of "
              "module names, got 5")),
    # prompted.toml: read at configure
    BadInput("prompted-shots-text", "prompted.toml `shots = \"4\"`", replace_in(PROMPTED, "shots = 4", 'shots = "4"'),
             ("prompted.toml [new_task]", "key 'shots' must be a whole number >= 0, got '4' (a string)")),
    BadInput("prompted-seed-negative", "prompted.toml `seed = -1`", replace_in(PROMPTED, "seed = 0", "seed = -1"),
             ("prompted.toml [new_task]", "key 'seed' must be a whole number >= 0, got -1")),
    BadInput("prompted-system-not-text", "prompted.toml `system = 5`",
             replace_in(PROMPTED, 'system = "Answer with the fact only, as in the examples."', "system = 5"),
             ("prompted.toml [new_task]", "key 'system' must be a string, got 5 (a whole number)")),
    BadInput("prompted-table-not-table", "prompted.toml `new_task = 4` instead of a table", _written(PROMPTED,
             "new_task = 4\n"), ("prompted.toml", "key 'new_task' must be a table, got 4 (a whole number)")),
    BadInput("prompted-unknown-table", "prompted.toml with `[newtask]` for `[new_task]`",
             replace_in(PROMPTED, "[new_task]", "[newtask]"), ("prompted.toml", "unknown table(s) ['newtask']")),
    # pyproject.toml [tool.tunegate]
    BadInput("pyproject-gates-text", "pyproject.toml `[tool.tunegate] gates = \"strict\"`",
             _pyproject('[tool.tunegate]\ngates = "strict"\n'),
             ("pyproject.toml", "key 'tool.tunegate.gates' must be a table, got 'strict' (a string)")),
    BadInput("pyproject-tunegate-not-table", "pyproject.toml `[tool] tunegate = true`",
             _pyproject("[tool]\ntunegate = true\n"),
             ("pyproject.toml", "key 'tool.tunegate' must be a table, got true (a boolean)")),
    BadInput("pyproject-not-toml", "a pyproject.toml that is not TOML (pytest reads it first, and says so)",
             _pyproject("[tool.tunegate\ngates = {}\n"),
             ("pyproject.toml", "Expected ']' at the end of a table declaration")),
    BadInput("pyproject-unknown-key", "pyproject.toml `[tool.tunegate] data_dir = \"data\"` (an option, not a key)",
             _pyproject('[tool.tunegate]\ndata_dir = "data"\n'),
             ("pyproject.toml [tool.tunegate]", "unknown key(s) ['data_dir']")),
    BadInput("increment-misnamed", "tasks/increment_one/ (once graded the base task's dev set as the new task, "
             "silently)", lambda p: ((p.data / "tasks/increment_1").rename(p.data / "tasks/increment_one"), [])[1],
             ("tasks/increment_one", "an increment's folder is named increment_N")),
    BadInput("identity-own-name-as-base", "identity.toml [base] name = the identity's own name (contradictory; "
             "once dropped from the leak terms silently)", _identity_base_named_as_own,
             ("identity/identity.toml [base]", "the identity's own name")),
]
