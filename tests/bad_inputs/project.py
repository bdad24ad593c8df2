"""The bad-input table's vocabulary: a fresh `Project` to plant bad input in, a `BadInput` case, and the small
planting helpers several families share."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
REFUSED, ACCEPTED, INTERRUPTED = 4, 0, 130
DEV = "tasks/base/dev.json"


@dataclass
class Project:
    """A fresh project: a copy of the data folder, of the shipped model and of a small LoRA adapter, earlier
    reports, a history file and a stored baseline (the files a bad run must leave byte-identical)."""

    root: Path
    monkeypatch: pytest.MonkeyPatch
    passes_cache_dir: bool = True  # a plant sets False to let $TUNEGATE_CACHE_DIR choose the cache

    data = property(lambda self: self.root / "data")
    model = property(lambda self: self.root / "model")
    adapter = property(lambda self: self.root / "adapter")
    reports = property(lambda self: self.root / "reports")
    baselines = property(lambda self: self.root / "baselines")
    cache = property(lambda self: self.root / "cache")

    def options(self) -> list[str]:
        """The pytest options of a run of this project (its data, model, reports, baselines and cache)."""
        cache = ["--cache-dir", str(self.cache)] if self.passes_cache_dir else []
        return ["-p", "no:cacheprovider", "--rootdir", str(self.root), "--data-dir", str(self.data), "--base-model",
                str(self.model), "--report-dir", str(self.reports), "--baseline-dir", str(self.baselines), *cache]

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


Plant = Callable[[Project], list[str]]


@dataclass(frozen=True)
class BadInput:
    """One kind of bad input: `plant` makes a fresh project bad and returns the extra pytest arguments; the run
    must end with `exit` (4: refused before any model loads; 0: accepted, checked with --collect-only) and its
    output must contain every fragment of `names` (the file, and the key or line)."""

    id: str
    what: str
    plant: Plant
    names: tuple[str, ...]
    exit: int = REFUSED
    runs_tests: bool = False  # the case needs the session to run (an error at the end, or in a fixture)
    in_repository: bool = False  # run as in a user's repository: pytest infers the rootdir, the options come from
    # the project's pytest.ini (`Project.write_ini`), not from the command line
    family: str = ""  # the table's section: set from the family module that holds the case


def latin_1(path: str, old: str, new: str) -> Plant:
    """Replace `old` by `new` once in data file `path` and save it in latin-1."""
    return lambda p: (p.rewrite(p.data / path, lambda t: t.replace(old, new, 1), "latin-1"), [])[1]


def bom(path: str) -> Plant:
    """Prefix data file `path` with a UTF-8 byte-order mark."""
    return lambda p: ((p.data / path).write_bytes(b"\xef\xbb\xbf" + (p.data / path).read_bytes()), [])[1]


def records(path: str, edit: Callable[[list], list]) -> Plant:
    """Replace the records of data file `path` by `edit(records)`."""
    return lambda p: (p.edit_json(p.data / path, edit), [])[1]


def dev_record(**fields) -> Callable[[list], list]:
    """An edit of a record list: the first record's `fields` replaced."""
    return lambda rows: [{**rows[0], **fields}, *rows[1:]]


def replace_in(path: str, old: str, new: str) -> Plant:
    """Replace `old` by `new` (once) in data file `path`; the case fails loudly if `old` is not there."""
    def plant(p: Project) -> list[str]:
        text = (p.data / path).read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {path}"
        (p.data / path).write_text(text.replace(old, new, 1), encoding="utf-8")
        return []
    return plant


def adapter_config(edit: Callable[[dict], object]) -> Plant:
    """Replace the adapter's adapter_config.json by `edit(config)`; the run gets `--adapter`."""
    def plant(p: Project) -> list[str]:
        p.edit_json(p.adapter / "adapter_config.json", edit)
        return ["--adapter", str(p.adapter)]
    return plant


def adapter_text(text: str) -> Plant:
    """The adapter's adapter_config.json replaced by `text`; the run gets `--adapter`."""
    return lambda p: ((p.adapter / "adapter_config.json").write_text(text), ["--adapter", str(p.adapter)])[1]


def truncate(path: Callable[[Project], Path], option: list[str]) -> Plant:
    """Cut the file at `path(project)` in half; the run gets `option` ({adapter} filled)."""
    def plant(p: Project) -> list[str]:
        data = path(p).read_bytes()
        path(p).write_bytes(data[: len(data) // 2])
        return [a.format(adapter=p.adapter) for a in option]
    return plant


def baseline(document: Callable[[Project], object]) -> Plant:
    """The stored baseline `release` replaced by `document(project)`; the run gets `--baseline release`."""
    def plant(p: Project) -> list[str]:
        (p.baselines / "release.json").write_text(json.dumps(document(p)))
        return ["--baseline", "release"]
    return plant


def file_option(name: str, content: str, option: str) -> Plant:
    """A file `name` holding `content` in the project, given as `option`."""
    return lambda p: ((p.root / name).write_text(content), [option, str(p.root / name)])[1]


# the project's one suite test: it records a verdict without loading a model
SUITE = '''
import pytest
from harness.foundation.records import GateResult, MetricValue

pytestmark = pytest.mark.old_task


def test_gate(tunegate):
    tunegate.record_metrics([MetricValue("old_task", "exact_match", 0.9, n=10)])
    tunegate.enforce(GateResult("old_task.exact_match", "old_task", "exact_match", ">=", 0.5, 0.9, True, "ok"))
'''
