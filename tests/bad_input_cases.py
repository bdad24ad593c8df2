"""Every kind of bad input tunegate was tried with (issue 10), as data: how to plant it in a fresh project, what
the one message must name, and the exit status. `tests/fast/test_bad_inputs.py` runs each on a fresh project (the
`project` fixture of tests/conftest.py); the table of docs/refusals.md is rendered from this list (`python3 dev.py
refusals` rewrites it, `test_refusals_page_is_current` keeps it honest).

Run as a script with that page's path, it rewrites the table in place.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFUSED, ACCEPTED = 4, 0
TABLE_START, TABLE_END = "<!-- refusals:start -->", "<!-- refusals:end -->"


@dataclass
class Project:
    """A fresh project: a copy of the data folder, of the shipped model and of a small LoRA adapter, earlier
    reports, a history file and a stored baseline (the files a bad run must leave byte-identical)."""

    root: Path
    monkeypatch: pytest.MonkeyPatch

    data = property(lambda self: self.root / "data")
    model = property(lambda self: self.root / "model")
    adapter = property(lambda self: self.root / "adapter")
    reports = property(lambda self: self.root / "reports")
    baselines = property(lambda self: self.root / "baselines")

    def options(self) -> list[str]:
        """The pytest options of a run of this project (its data, model, reports, baselines and cache)."""
        return ["-p", "no:cacheprovider", "--rootdir", str(self.root), "--data-dir", str(self.data), "--base-model",
                str(self.model), "--report-dir", str(self.reports), "--baseline-dir", str(self.baselines),
                "--cache-dir", str(self.root / "cache")]

    def write_ini(self) -> None:
        """The project's pytest.ini, as `tunegate init` writes it: the options as addopts, paths relative."""
        options = self.options()[4:]  # not -p no:cacheprovider --rootdir ROOT: pytest finds this file itself
        (self.root / "pytest.ini").write_text("[pytest]\naddopts = " + " ".join(
            str(Path(o).relative_to(self.root)) if o.startswith(str(self.root)) else o for o in options) + "\n")

    def rewrite(self, path: Path, edit: Callable[[str], str], encoding: str = "utf-8") -> None:
        """Replace a text file's content by `edit(content)`, saved in `encoding` (what it cannot encode as "?")."""
        path.write_bytes(edit(path.read_text(encoding="utf-8")).encode(encoding, errors="replace"))

    def edit_json(self, path: Path, edit: Callable[[object], object]) -> None:
        """Replace a JSON file's document by `edit(document)`."""
        path.write_text(json.dumps(edit(json.loads(path.read_text(encoding="utf-8"))), ensure_ascii=False))

    def adapter_tensors(self, edit: Callable[[dict], None]) -> None:
        """Edit the adapter's {name: tensor} in place and save it."""
        from safetensors.torch import load_file, save_file

        tensors = load_file(self.adapter / "adapter_model.safetensors")
        edit(tensors)
        save_file(tensors, self.adapter / "adapter_model.safetensors")

    def checkpoints(self, count: int = 1) -> Path:
        """A training run folder with `count` checkpoints (copies of the adapter, links after the first)."""
        run = self.root / "run"
        shutil.copytree(self.adapter, run / "checkpoint-100")
        for step in range(2, count + 1):
            os.symlink("checkpoint-100", run / f"checkpoint-{step * 100}")
        return run


@dataclass(frozen=True)
class BadInput:
    """One kind of bad input: `plant` makes a fresh project bad and returns the extra pytest arguments; the run
    must end with `exit` (4: refused before any model loads; 0: accepted, checked with --collect-only) and its
    output must contain every fragment of `names` (the file, and the key or line)."""

    id: str
    what: str
    plant: Callable[[Project], list[str]]
    names: tuple[str, ...]
    exit: int = REFUSED
    runs_tests: bool = False  # the case needs the session to run (an error at the end, or in a fixture)
    in_repository: bool = False  # run as in a user's repository: pytest infers the rootdir, the options come from
    # the project's pytest.ini (`Project.write_ini`), not from the command line


def _latin_1(path: str, old: str, new: str) -> Callable[[Project], list[str]]:
    return lambda p: (p.rewrite(p.data / path, lambda t: t.replace(old, new, 1), "latin-1"), [])[1]


def _bom(path: str) -> Callable[[Project], list[str]]:
    return lambda p: ((p.data / path).write_bytes(b"\xef\xbb\xbf" + (p.data / path).read_bytes()), [])[1]


def _records(path: str, edit: Callable[[list], list]) -> Callable[[Project], list[str]]:
    return lambda p: (p.edit_json(p.data / path, edit), [])[1]


def _adapter_config(edit: Callable[[dict], object]) -> Callable[[Project], list[str]]:
    def plant(p: Project) -> list[str]:
        p.edit_json(p.adapter / "adapter_config.json", edit)
        return ["--adapter", str(p.adapter)]
    return plant


def _adapter_text(text: str) -> Callable[[Project], list[str]]:
    return lambda p: ((p.adapter / "adapter_config.json").write_text(text), ["--adapter", str(p.adapter)])[1]


def _truncate(path: Callable[[Project], Path], option: list[str]) -> Callable[[Project], list[str]]:
    def plant(p: Project) -> list[str]:
        data = path(p).read_bytes()
        path(p).write_bytes(data[: len(data) // 2])
        return [a.format(adapter=p.adapter) for a in option]
    return plant


def _baseline(document: Callable[[Project], object]) -> Callable[[Project], list[str]]:
    def plant(p: Project) -> list[str]:
        (p.baselines / "release.json").write_text(json.dumps(document(p)))
        return ["--baseline", "release"]
    return plant


def _file(name: str, content: str, option: str) -> Callable[[Project], list[str]]:
    return lambda p: ((p.root / name).write_text(content), [option, str(p.root / name)])[1]


def _overlapping_dev(records: list) -> list:
    train = json.loads((ROOT / "fixtures/tasks/increment_2/train.json").read_text(encoding="utf-8"))
    fresh = [{**r, "id": f"new-{i}", "instruction": r["instruction"] + f" (variant {i})"} for i, r in
             enumerate(records[:5])]
    return fresh + train[:2]


def _other_architecture(p: Project) -> list[str]:
    p.adapter_tensors(lambda t: [t.update({k.replace("model.layers.", "transformer.h."): t.pop(k)})
                                 for k in list(t)])
    p.edit_json(p.adapter / "adapter_config.json", lambda c: {**c, "base_model_name_or_path": "gpt2"})
    return ["--adapter", str(p.adapter)]


def _resized_embeddings(p: Project) -> list[str]:
    import torch

    config = json.loads((p.model / "config.json").read_text())
    vocab, hidden = config["vocab_size"], config["hidden_size"]
    p.adapter_tensors(lambda t: t.update({"base_model.model.model.embed_tokens.weight": torch.zeros(vocab + 8,
                                                                                                     hidden)}))
    return ["--adapter", str(p.adapter)]


def _narrower_lora_a(p: Project) -> list[str]:
    """q_proj's lora_A of the adapter's own rank, for 64 input features where the base layer takes 128."""
    import torch

    p.adapter_tensors(lambda t: t.update({next(k for k in sorted(t) if "q_proj.lora_A" in k): torch.zeros(4, 64)}))
    return ["--adapter", str(p.adapter)]


def _optimizer_only(p: Project) -> list[str]:
    run = p.checkpoints(1)
    (run / "checkpoint-200").mkdir()
    for name in ("optimizer.pt", "scheduler.pt", "trainer_state.json"):
        (run / "checkpoint-200" / name).write_bytes(b"0")
    return ["--checkpoints", str(run)]


def _symlink_loop(p: Project) -> list[str]:
    run = p.checkpoints(1)
    os.symlink("checkpoint-200", run / "checkpoint-200")
    return ["--checkpoints", str(run)]


def _thousand_checkpoints(p: Project) -> list[str]:
    shutil.copy(ROOT / "suites/test_audit.py", p.root / "test_run_audit.py")  # a name no test of ours has
    return ["--checkpoints", str(p.checkpoints(1000)), "-m", "audit"]


def _no_gate_config(p: Project) -> list[str]:
    (p.data / "gates.toml").unlink()
    return []


def _tunegate_own_suites(p: Project) -> list[str]:
    return [str(ROOT / "suites")]


def _adapter_path_with_a_space(p: Project) -> list[str]:
    """The repository's pytest.ini, and an adapter outside it given as `--adapter PATH` (not `--adapter=PATH`)."""
    p.write_ini()
    elsewhere = p.root.parent / f"{p.root.name}-adapters" / "checkpoint-500"
    shutil.copytree(p.adapter, elsewhere)
    return ["--adapter", str(elsewhere)]


def _disk_full(p: Project) -> list[str]:
    """A fault-injecting writer: writing report.html's temporary file fails half-way with ENOSPC."""
    import errno

    write_text = Path.write_text

    def full_disk(self: Path, text: str, *args, **kwargs):
        if self.name.startswith(".report.html-"):
            write_text(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return write_text(self, text, *args, **kwargs)

    p.monkeypatch.setattr(Path, "write_text", full_disk)
    return []


def _unwritable_baselines(p: Project) -> list[str]:
    """Root may write anywhere: the check's permission probe is what is faked."""
    import harness.plugin.preflight

    p.monkeypatch.setattr(harness.plugin.preflight, "can_write", lambda folder: folder != p.baselines)
    return ["--save-baseline", "next"]


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


def _dev_record(**fields) -> Callable[[list], list]:
    return lambda records: [{**records[0], **fields}, *records[1:]]


DEV = "tasks/base/dev.json"
CASES = [
    # --- seen failing with a traceback (issue 10) ---
    BadInput("dataset-latin-1", "a dataset saved in latin-1", _latin_1(DEV, "Zelnisia", "Zelnisié"),
             ("tasks/base/dev.json", "not UTF-8", "byte 0xe9")),
    BadInput("probes-latin-1", "a probe file saved in latin-1", _latin_1("identity/probes.json", "?", "¿"),
             ("identity/probes.json", "not UTF-8")),
    BadInput("dataset-bom", "a dataset with a UTF-8 byte-order mark", _bom(DEV), (), ACCEPTED),
    BadInput("gates-bom", "a gates TOML with a UTF-8 byte-order mark", _bom("gates.toml"), (), ACCEPTED),
    BadInput("gates-folder", "--gates naming a folder", lambda p: ["--gates", str(p.data)],
             ("data", "is a folder, expected a gate config TOML file")),
    BadInput("gates-latin-1", "a gates TOML in latin-1",
             lambda p: (p.rewrite(p.data / "gates.toml", lambda t: "# café\n" + t, "latin-1"), [])[1],
             ("gates.toml", "not UTF-8")),
    BadInput("adapter-config-not-json", "adapter_config.json that is not JSON", _adapter_text("{r: 8"),
             ("adapter_config.json:1:2", "not valid JSON")),
    BadInput("adapter-config-empty", "adapter_config.json that is {}", _adapter_config(lambda c: {}),
             ("adapter_config.json", "key 'peft_type' missing")),
    BadInput("adapter-r-mismatch", "adapter_config.json whose r disagrees with the tensors",
             _adapter_config(lambda c: {**c, "r": 8}), ("adapter_model.safetensors", "rank 4", "key 'r' is 8")),
    BadInput("adapter-truncated", "a truncated adapter_model.safetensors",
             _truncate(lambda p: p.adapter / "adapter_model.safetensors", ["--adapter", "{adapter}"]),
             ("adapter_model.safetensors", "truncated")),
    BadInput("base-config-not-json", "a base model config.json that is not JSON",
             lambda p: ((p.model / "config.json").write_text('{"model_type": "llama",'), [])[1],
             ("model/config.json:1:", "not valid JSON")),
    BadInput("base-weights-truncated", "a truncated base model.safetensors",
             _truncate(lambda p: p.model / "model.safetensors", []), ("model/model.safetensors", "truncated")),
    BadInput("base-no-tokenizer", "a base model folder without tokenizer files",
             lambda p: ((p.model / "tokenizer.json").unlink(), [])[1], ("model", "no tokenizer files")),
    BadInput("allow-pickle-safetensors", "--allow-pickle with a safetensors base (it only also accepts .bin)",
             lambda p: ["--allow-pickle"], (), ACCEPTED),
    BadInput("save-baseline-unwritable", "--save-baseline into a folder that is not writable",
             _unwritable_baselines, ("--save-baseline", "baselines", "is not writable")),
    BadInput("report-dir-file", "--report-dir naming a file", _file("taken", "x", "--report-dir"),
             ("--report-dir", "taken", "is a file, expected a folder")),
    BadInput("baseline-without-samples", "a stored baseline without samples",
             _baseline(lambda p: {"schema_version": 1, "name": "release", "run": {}, "metrics": []}),
             ("release.json", "key 'samples' missing")),
    BadInput("history-unparseable", "an audit history CSV pandas cannot parse",
             lambda p: ((p.reports / "history.csv").write_text('run_id,time\n"r1,2026\n'), [])[1],
             ("history.csv", "unreadable audit history")),
    BadInput("cache-dir-file", "--cache-dir naming a file", _file("cache-file", "x", "--cache-dir"),
             ("--cache-dir", "cache-file", "is a file, expected a folder")),
    BadInput("prompt-10mb", "a 10 MB prompt in a dev set",
             _records(DEV, _dev_record(instruction="Velmar is a city. " * 600_000)),
             ("tasks/base/dev.json:", "en-lang-009", "bytes of text", "max_position_embeddings")),
    BadInput("input-over-context", "a record longer than the model's context",
             _records(DEV, _dev_record(instruction="Which city? " * 150)),
             ("tasks/base/dev.json:", "en-lang-009", "tokens", "context of 256")),
    # --- seen silent or misleading ---
    BadInput("placeholder-wrong-case", "{{Name}} for {{NAME}} in self_cognition.json",
             _records("identity/self_cognition.json", lambda r: [{**r[0], "output": "I am {{Name}}."}, *r[1:]]),
             ("identity/self_cognition.json:", "{{Name}}", "did you mean {{NAME}}")),
    BadInput("ppl-window-over-context", "--ppl-window longer than max_position_embeddings",
             lambda p: ["--ppl-window", "2048", "--ppl-stride", "1024"],
             ("--ppl-window 2048", "config.json", "max_position_embeddings = 256")),
    BadInput("fixture-error-stops-session", "a data file a session fixture of 100 tests cannot read",
             _broken_extension_data, ("broken.json:1", "invalid JSON"), runs_tests=True),
    # --- not tried before issue 10 ---
    BadInput("train-dev-shared-records", "a dev set sharing records with its train set (a leak)",
             _records("tasks/increment_2/dev.json", _overlapping_dev),
             ("increment_2/dev.json", "2 of 7 records also appear", "increment_2/train.json"), ACCEPTED),
    BadInput("dev-copy-of-train", "a dev set identical to its train set",
             lambda p: (shutil.copy(p.data / "tasks/increment_1/train.json", p.data / "tasks/increment_1/dev.json"),
                        [])[1], ("increment_1/dev.json", "holds exactly the 120 records")),
    BadInput("empty-answer", "an empty answer in a dev set", _records(DEV, _dev_record(output="")),
             ("tasks/base/dev.json:", "key 'output' must be a non-empty string")),
    BadInput("adapter-other-architecture", "an adapter made for another architecture", _other_architecture,
             ("adapter_model.safetensors", "transformer.h.0", "does not have", "'gpt2'")),
    BadInput("adapter-resized-embeddings", "an adapter trained with a resized vocabulary", _resized_embeddings,
             ("adapter_model.safetensors", "embed_tokens", "resized")),
    BadInput("adapter-fewer-input-features", "an adapter whose lora_A takes fewer input features than the base layer "
             "(made for another model size)", _narrower_lora_a,
             ("adapter_model.safetensors", "q_proj.lora_A.weight", "(shape [4, 64])", "takes 128 input features")),
    BadInput("checkpoint-optimizer-only", "a checkpoint folder with optimizer state only", _optimizer_only,
             ("checkpoint-200", "no adapter_config.json", "optimizer.pt")),
    BadInput("checkpoints-symlink-loop", "a symbolic-link loop in --checkpoints", _symlink_loop,
             ("checkpoint-200", "symbolic link loop")),
    BadInput("checkpoints-1000", "a run of 1,000 checkpoints (checked and collected in one pass each)",
             _thousand_checkpoints, ("1000/1001 tests collected",), ACCEPTED),
    BadInput("disk-full-report", "the disk filling up while report.html is written", _disk_full,
             ("report.html", "unchanged", "No space left on device"), runs_tests=True),
    BadInput("baseline-newer-schema", "a baseline written by a newer tunegate",
             _baseline(lambda p: {"schema_version": 3, "name": "release"}),
             ("release.json", "'schema_version' is 3", "newer tunegate")),
    BadInput("results-as-baseline", "a results.json passed as a baseline",
             _baseline(lambda p: json.loads((p.reports / "earlier/results.json").read_text())),
             ("release.json", "results.json, not a baseline")),
    BadInput("prompt-format-chat-without-template", "--prompt-format chat on a base without a chat template",
             lambda p: ((p.model / "chat_template.jinja").unlink(), ["--prompt-format", "chat"])[1],
             ("--prompt-format chat", "model", "has no chat template")),
    BadInput("prompt-format-unknown", "--prompt-format naming neither a format nor a .jinja file",
             lambda p: ["--prompt-format", "alpaca"], ("--prompt-format alpaca", "expected auto, chat, plain")),
    BadInput("base-without-template", "a base whose tokenizer has no chat template (GPT-2 style): the plain format",
             lambda p: ((p.model / "chat_template.jinja").unlink(), [])[1], (), ACCEPTED),
    BadInput("batch-size-zero", "--batch-size 0", lambda p: ["--batch-size", "0"],
             ("--batch-size must be at least 1",)),
    BadInput("batch-size-not-a-number", "--batch-size neither auto nor a number", lambda p: ["--batch-size", "many"],
             ("--batch-size", "expected auto or a whole number, got 'many'")),
    BadInput("builtin-without-its-data", "--base-model builtin with a data folder that can neither ship nor build it",
             _builtin_without_data, ("--base-model builtin", "builtin/base_identity.json"), runs_tests=True),
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
    BadInput("identity-prompt-shots-negative", "a negative number of worked examples for the identity's baseline",
             lambda p: (p.rewrite(p.data / "identity/identity.toml", lambda t: t.replace(
                 "\n[base]", "\nprompt_shots = -1\n[base]", 1)), [])[1],
             ("identity/identity.toml", "key 'prompt_shots' must be a whole number >= 0, got -1")),
    # --- clear before issue 10, kept clear ---
    BadInput("dataset-invalid-json", "a dataset that is not JSON",
             lambda p: ((p.data / DEV).write_text('[{"instruction": "Hi" "output": "x"}]'), [])[1],
             ("tasks/base/dev.json:1", "invalid JSON")),
    BadInput("dataset-unknown-format", "a record in neither alpaca nor chat format",
             _records(DEV, lambda r: [{"question": "Hi", "answer": "x"}, *r[1:]]),
             ("tasks/base/dev.json:", "unknown record format")),
    BadInput("dataset-duplicate-id", "two records with one id", _records(DEV, lambda r: [r[0], *r]),
             ("tasks/base/dev.json:", "duplicate id 'en-lang-009'")),
    BadInput("gates-unknown-metric", "a gate on a metric no capability has",
             lambda p: (p.rewrite(p.data / "gates.toml", lambda t: t.replace("heldout_ratio =", "heldout_ratioo =")),
                        [])[1], ("gates.toml", "heldout_ratioo")),
    BadInput("gates-infinite-threshold", "a threshold of 1e999 on an unbounded ratio (a gate no value fails)",
             lambda p: (p.rewrite(p.data / "gates.toml", lambda t: t.replace('heldout_ratio = "<= 1.25 beyond noise"',
                                                                             'heldout_ratio = "<= 1e999"')), [])[1],
             ("gates.toml", "perplexity.heldout_ratio", "threshold 1e999 is not a finite number")),
    BadInput("gates-baseline-good-direction", "a [baseline] bound that limits only the good direction: \"+2%\" on "
             "a higher-is-better metric lets any drop pass",
             lambda p: (p.rewrite(p.data / "gates.toml", lambda t: t.replace(
                 '"old_task.exact_match" = "-2% beyond noise"', '"old_task.exact_match" = "+2% beyond noise"')), [])[1],
             ("gates.toml", "old_task.exact_match", "so any drop passes", '"-2% beyond noise"')),
    BadInput("env-world-size-not-a-number", "WORLD_SIZE in the environment that is not a number",
             lambda p: (p.monkeypatch.setenv("WORLD_SIZE", "two"), [])[1],
             ("WORLD_SIZE='two'", "is not a whole number")),
    BadInput("env-rank-left-over", "RANK=1 left in the environment of a plain run (it would write no report)",
             lambda p: (p.monkeypatch.setenv("RANK", "1"), p.monkeypatch.delenv("WORLD_SIZE", raising=False), [])[2],
             ("RANK=1 with WORLD_SIZE=unset", "unset RANK and WORLD_SIZE")),
    BadInput("gates-bad-toml", "a gates file that is not TOML",
             lambda p: ((p.data / "gates.toml").write_text("[old_task\n"), [])[1], ("gates.toml",)),
    BadInput("baseline-missing", "--baseline naming no stored baseline", lambda p: ["--baseline", "nope"],
             ("nope.json", "--save-baseline nope")),
    BadInput("baseline-bad-name", "a baseline name with a slash", lambda p: ["--baseline", "a/b"], ("'a/b'",)),
    BadInput("ppl-stride-over-window", "--ppl-stride not below --ppl-window", lambda p: ["--ppl-stride", "300"],
             ("--ppl-stride", "300")),
    BadInput("adapter-pickle-only", "an adapter with pickled weights only, without --allow-pickle",
             lambda p: ((p.adapter / "adapter_model.safetensors").rename(p.adapter / "adapter_model.bin"),
                        ["--adapter", str(p.adapter)])[1], ("adapter_model.bin", "--allow-pickle")),
    BadInput("adapter-missing", "--adapter naming nothing", lambda p: ["--adapter", str(p.root / "nope")],
             ("--adapter", "nope", "no such file or folder")),
    BadInput("anyway-without-save", "--save-baseline-anyway without --save-baseline",
             lambda p: ["--save-baseline-anyway"], ("--save-baseline-anyway needs --save-baseline NAME",)),
    BadInput("request-cache-not-sqlite", "--request-cache naming a file that is not an SQLite database",
             lambda p: ((p.root / "answers.sqlite").write_text("notes, not a database\n"),
                        ["--request-cache", str(p.root / "answers.sqlite")])[1],
             ("--request-cache", "answers.sqlite", "not an SQLite database")),
    BadInput("identity-unknown-key", "an unknown key in identity.toml",
             lambda p: (p.rewrite(p.data / "identity/identity.toml", lambda t: 'colour = "blue"\n' + t), [])[1],
             ("identity/identity.toml", "unknown key(s) ['colour']")),
    BadInput("probe-bad-kind", "a probe of an unknown kind",
             _records("identity/probes.json", lambda r: [{**r[0], "kind": "weird"}, *r[1:]]),
             ("identity/probes.json:", "key 'kind'")),
    BadInput("device-cuda-without-gpu", "--device cuda on a machine without a GPU", lambda p: ["--device", "cuda"],
             ("--device cuda", "no CUDA device")),
    # --- adopting tunegate in a repository (issue 24) ---
    BadInput("no-gate-config", "a tunegate suite collected with no gate config anywhere", _no_gate_config,
             ("test_suite.py: a tunegate suite, but no gate config was found", "data/gates.toml", "tunegate init")),
    BadInput("tunegate-own-suites-from-elsewhere", "pytest ../tunegate/suites run from another project",
             _tunegate_own_suites, ("tunegate's own suites", "run from", "tunegate init"), in_repository=True),
    BadInput("adapter-path-read-as-test-path", "--adapter /outside/the/repo with a space: pytest took the path "
             "for a test path and left the repository's pytest.ini out", _adapter_path_with_a_space,
             ("(the value of --adapter) for a test path", "pytest.ini", "--adapter=", "with '='"), in_repository=True),
]


def case_named(case_id: str) -> BadInput:
    """The case of CASES with this id."""
    return next(c for c in CASES if c.id == case_id)


# the project's one suite test: it records a verdict without loading a model
SUITE = '''
import pytest
from harness.foundation.records import GateResult, MetricValue

pytestmark = pytest.mark.old_task


def test_gate(tunegate):
    tunegate.record_metrics([MetricValue("old_task", "exact_match", 0.9, n=10)])
    tunegate.enforce(GateResult("old_task.exact_match", "old_task", "exact_match", ">=", 0.5, 0.9, True, "ok"))
'''


def render_table() -> str:
    """The docs/refusals.md table: one row per case, by test id."""
    rows = ["| test id | bad input | outcome | the message names |", "|---|---|---|---|"]
    for case in CASES:
        outcome = "refused, exit 4" if case.exit == REFUSED else "accepted"
        names = ", ".join(f"`{n}`" for n in case.names) or "—"
        rows.append(f"| `{case.id}` | {case.what} | {outcome} | {names} |")
    return "\n".join(rows)


def readme_with_table(readme: str) -> str:
    """`readme` with the text between the table markers replaced by `render_table()`."""
    start, end = readme.index(TABLE_START) + len(TABLE_START), readme.index(TABLE_END)
    return readme[:start] + "\n" + render_table() + "\n" + readme[end:]


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs/refusals.md")
    target.write_text(readme_with_table(target.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"{target}: table of {len(CASES)} bad inputs written")
