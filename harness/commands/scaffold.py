"""`tunegate init`: set up tunegate in your own repository, never overwriting a file of yours.

It writes the pytest configuration (testpaths, addopts for --base-model and --data-dir) where the repository has
none, one thin suite file per capability under `suites/` (each star-imports `harness.suites.<capability>`, so an
upgrade of tunegate upgrades them), and a data folder: a commented `gates.toml`, `identity/identity.toml` filled
from the answers, starter identity training data (or yours, copied), identity probes for your identity and base
(`harness.data.probes`), your task folders when given, and a README naming every file the folder may hold
(docs/data-folder.md); a `.gitignore` for what tunegate writes and, with `--ci`, the GitHub Actions workflows.
Running it twice is harmless: what exists is left alone and named.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from harness.data import IdentitySpec, load_examples, load_identity_spec
from harness.data.folder import BASE_TASK, GATES, IDENTITY, PROBES, SELF_COGNITION, TASKS, DataFolder
from harness.data.prep import write_records
from harness.data.probes import ProbeSet, build_probes
from harness.foundation.cache import atomic_write_text
from harness.foundation.errors import InputError
from harness.suites import CAPABILITY_SUITES

DEFAULT_DATA_DIR = "tunegate-data"
OTHER_NAMES = ("ChatGPT", "GPT-4", "Claude", "Gemini", "Llama", "Qwen", "通义千问", "文心一言")
OTHER_AUTHORS = ("OpenAI", "Anthropic", "Google", "Meta", "Alibaba", "阿里巴巴", "谷歌", "百度")
PYTEST_CONFIGS = (("pytest.toml", None), (".pytest.toml", None), ("pytest.ini", None), (".pytest.ini", None),
                  ("pyproject.toml", "[tool.pytest"), ("tox.ini", "[pytest]"), ("setup.cfg", "[tool:pytest]"))
CI_WORKFLOWS = ("tunegate-regression.yml", "tunegate-nightly.yml")


@dataclass(frozen=True)
class InitAnswers:
    """What `tunegate init` needs to know (asked in a terminal, else taken from its options)."""

    name: str
    author: str
    base_model: str
    base_name: str = ""
    base_author: str = ""
    data_dir: str = DEFAULT_DATA_DIR
    identity_data: Path | None = None  # your identity training file (alpaca/chat/LLaMA-Factory identity.json)
    tasks: Path | None = None  # a folder with base/dev.json, increment_1/{train,dev}.json, ...
    seed: int = 0
    ci: bool = False  # also write GitHub Actions workflows

    def __post_init__(self) -> None:
        for key in ("name", "author", "base_model"):
            if not getattr(self, key).strip():
                raise InputError(f"--{key.replace('_', '-')} must not be empty")
        for option, path in (("--identity-data", self.identity_data), ("--tasks", self.tasks)):
            if path is not None and not path.exists():
                raise InputError(f"{option} {path}: no such file or folder")
        if self.tasks is not None and not self.tasks.is_dir():
            raise InputError(f"--tasks {self.tasks}: is a file, expected the folder of your tasks (base/dev.json, "
                             "increment_1/train.json, ...: docs/data-folder.md)")
        if self.identity_data is not None and self.identity_data.suffix != ".json":
            raise InputError(f"--identity-data {self.identity_data}: the data folder reads a .json list; convert it "
                             f"first: tunegate data convert {self.identity_data} self_cognition.json --to alpaca")


@dataclass
class InitReport:
    """What `init` wrote, what it left alone (a file of yours), and what it has to tell."""

    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report as printed lines."""
        out = [f"wrote {path}" for path in self.written]
        out += [f"left alone (exists): {path}" for path in self.kept]
        return out + self.notes


def suite_file_text(capability: str) -> str:
    """A suite file of a repository: one star-import of the packaged suite (this checkout's suites/ are these)."""
    return (f'"""tunegate\'s {capability} suite: its tests live in the installed package (harness.suites.'
            f'{capability})."""\n\nfrom harness.suites.{capability} import *  # noqa: F403\n')


def identity_toml(answers: InitAnswers) -> str:
    """identity/identity.toml for the answers: the identity to learn, the base's, the other vendors'."""
    def quoted(values: tuple[str, ...]) -> str:
        return ", ".join(json.dumps(v, ensure_ascii=False) for v in values)

    return (f"# The identity the adapter must learn ({{{{NAME}}}} / {{{{AUTHOR}}}}, or LLaMA-Factory's {{{{name}}}} / "
            f"{{{{author}}}}, in the identity files are filled from here)\n"
            f"name = {json.dumps(answers.name, ensure_ascii=False)}\n"
            f"author = {json.dumps(answers.author, ensure_ascii=False)}\n\n"
            "# The base model's own identity ({{BASE_NAME}} / {{BASE_AUTHOR}}): claiming it after tuning is a leak\n"
            f"[base]\nname = {json.dumps(answers.base_name, ensure_ascii=False)}\n"
            f"author = {json.dumps(answers.base_author, ensure_ascii=False)}\n\n"
            "# Other vendors' model names and companies: claiming any of them is a leak\n"
            f"[others]\nnames = [{quoted(_others(OTHER_NAMES, answers))}]\n"
            f"authors = [{quoted(_others(OTHER_AUTHORS, answers))}]\n")


def _others(vendors: tuple[str, ...], answers: InitAnswers) -> tuple[str, ...]:
    """Other vendors' names, less the identity's own and the base's (a base named Qwen is listed as the base)."""
    own = {answers.name, answers.author, answers.base_name, answers.base_author}
    return tuple(v for v in vendors if v not in own)


def pytest_ini(root: Path, answers: InitAnswers) -> str:
    """The pytest configuration `init` writes where the repository has none."""
    return ("# tunegate release gates (written by `tunegate init`; docs/your-repository.md)\n[pytest]\n"
            f"testpaths = suites\naddopts = {addopts(root, answers)}\n")


def addopts(root: Path, answers: InitAnswers) -> str:
    """`--base-model M --data-dir D`, quoted, the base model's path relative to the repository when it lies in it
    (pytest takes both from the rootdir, so a clone elsewhere finds them)."""
    base = Path(answers.base_model).resolve()
    inside = root.resolve() in base.parents
    shown = os.path.relpath(base, root.resolve()) if inside else str(base) if base.exists() else answers.base_model
    return f"--base-model {shlex.quote(shown)} --data-dir {shlex.quote(answers.data_dir)}"


def init_repository(root: Path, answers: InitAnswers) -> InitReport:
    """Set up `root` (see the module docstring); returns what was written and what was left alone. Every input
    file is read before anything is written, so a broken one is refused with nothing changed."""
    task_files = checked_task_files(answers.tasks) if answers.tasks is not None else []
    if answers.identity_data is not None:
        load_examples(answers.identity_data, _spec(answers).variables)
    report = InitReport()
    root.mkdir(parents=True, exist_ok=True)
    _pytest_config(root, answers, report)
    for capability in CAPABILITY_SUITES:
        _write(root, f"suites/test_{capability}.py", suite_file_text(capability), report)
    _data_folder(root, answers, task_files, report)
    for workflow in CI_WORKFLOWS if answers.ci else ():
        _write(root, f".github/workflows/{workflow}", _template(workflow), report)
    _repository_notes(root, answers, report)
    return report


def _data_folder(root: Path, answers: InitAnswers, task_files: list[Path], report: InitReport) -> None:
    """The data folder: gates, its README, the identity, identity training data, your tasks, then the probes."""
    folder = answers.data_dir
    _write(root, f"{folder}/{GATES}", _template(GATES), report)
    _write(root, f"{folder}/README.md", _template("data-folder.md"), report)
    _write(root, f"{folder}/{IDENTITY}", identity_toml(answers), report)
    given = answers.identity_data
    starter = given is None
    training = _template("self_cognition.json") if given is None else given.read_text(encoding="utf-8")
    if _write(root, f"{folder}/{SELF_COGNITION}", training, report) and starter:
        report.notes.append("identity: a starter training set was written; the held-in probes are its questions, so "
                            "train your adapter on it, or run init with --identity-data YOUR_FILE")
    if (tasks := answers.tasks) is not None:
        for path in task_files:  # the files of --tasks
            _copy(path, root, f"{folder}/{TASKS}/{path.relative_to(tasks).as_posix()}", report)
    if DataFolder(root / folder).probes.exists():
        report.kept.append(f"{folder}/{PROBES}")
        return
    probes = write_probes(root / folder, answers.seed)
    report.written.append(f"{folder}/{PROBES}")
    report.notes += probes_summary(probes, root / folder)


def _repository_notes(root: Path, answers: InitAnswers, report: InitReport) -> None:
    """A .gitignore for what tunegate writes (or the lines to add), and a word on a base model outside the repo."""
    ignored = "reports/\n.tunegate-cache/\n"
    if not _write(root, ".gitignore", ignored, report) and "reports" not in (root / ".gitignore").read_text():
        report.notes.append(".gitignore: add reports/ and .tunegate-cache/ (tunegate writes them)")
    base = Path(answers.base_model)
    if base.is_absolute() and root not in base.parents:
        report.notes.append(f"--base-model {base} is outside the repository: where CI has it elsewhere, pass "
                            "--base-model=PATH there (an option on the command line overrides pytest.ini's)")


def _spec(answers: InitAnswers) -> IdentitySpec:
    return IdentitySpec(answers.name, answers.author, answers.base_name, answers.base_author)


def write_probes(data_dir: Path, seed: int = 0, held_out: int | None = None) -> ProbeSet:
    """Generate `identity/probes.json` of a data folder from its identity.toml, its identity training file and
    its base-task data (train.json, else dev.json, for locality); written atomically."""
    spec, folder = _identity(data_dir), DataFolder(data_dir)
    training = load_examples(folder.self_cognition, spec.variables)
    base = next((p for p in (folder.base_train, folder.base_dev) if p.is_file()), None)
    probes = build_probes(spec, training, load_examples(base) if base else [], seed, held_out=held_out)
    write_records(folder.probes, probes.records)
    return probes


def probes_summary(probes: ProbeSet, data_dir: Path) -> list[str]:
    """What the probe file holds, what was skipped, where locality came from, and each gate's power."""
    lines = [f"probes: {probes.count('held_out')} held-out, {probes.count('adversarial')} adversarial, "
             f"{probes.count('locality')} locality (seed {probes.seed})"]
    if probes.skipped:
        shown = "; ".join(probes.skipped[:3]) + (" ..." if len(probes.skipped) > 3 else "")
        lines.append(f"probes: skipped {len(probes.skipped)} held-out candidates that are questions of your "
                     f"identity training file ({shown})")
    if not probes.locality_pool:
        base_task = DataFolder(data_dir).tasks / BASE_TASK
        lines.append(f"probes: no locality probes: {base_task} has no train.json or dev.json yet; "
                     "add your base-task data and run `tunegate probes --force`")
    return lines + [f"power: {line}" for line in probes.power_lines()]


def _identity(data_dir: Path) -> IdentitySpec:
    path = DataFolder(data_dir).identity
    if not path.is_file():
        raise InputError(f"{path}: no identity config; `tunegate init` writes one")
    return load_identity_spec(path)


def _pytest_config(root: Path, answers: InitAnswers, report: InitReport) -> None:
    """pytest.ini, unless a pytest configuration exists: then the lines to add are a note."""
    for name, section in PYTEST_CONFIGS:
        path = root / name
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        if path.is_file() and (section is None or section in text):
            report.kept.append(name)
            if "--data-dir" not in text:
                report.notes.append(f"add to the pytest configuration in {name}: testpaths = [\"suites\"] and "
                                    f"addopts \"{addopts(root, answers)}\"")
            return
    _write(root, "pytest.ini", pytest_ini(root, answers), report)


def checked_task_files(source: Path) -> list[Path]:
    """The task files of `source` (`<task>/train.json` and `<task>/dev.json`: base/dev.json, increment_1/train.json,
    ...), each read first: a broken one, or a task file in JSONL, is refused naming it before anything is written."""
    if jsonl := sorted(source.glob("*/*.jsonl")):
        raise InputError(f"{jsonl[0]}: the data folder reads .json lists; convert it first: tunegate data convert "
                         f"{jsonl[0]} {jsonl[0].with_suffix('.json')} --to alpaca")
    files = sorted(p for p in source.glob("*/*.json") if p.name in ("train.json", "dev.json"))
    for path in files:
        load_examples(path)
    return files


def _copy(source: Path, root: Path, relative: str, report: InitReport) -> None:
    """Copy a file of yours into the repository; an existing one is left alone and named."""
    if (root / relative).exists():
        report.kept.append(relative)
        return
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, root / relative)
    report.written.append(relative)


def _write(root: Path, relative: str, text: str, report: InitReport) -> bool:
    """Write a new file (atomically) and say so; an existing one is left alone and named (False)."""
    path = root / relative
    if path.exists():
        report.kept.append(relative)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    report.written.append(relative)
    return True


def _template(name: str) -> str:
    """A file shipped in `harness/templates/`."""
    return resources.files("harness").joinpath("templates").joinpath(name).read_text(encoding="utf-8")
