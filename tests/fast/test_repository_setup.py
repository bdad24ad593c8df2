"""Adopting tunegate in your own repository, fast (no model): `tunegate init` and `tunegate probes`, the suites a
repository keeps (thin, public API only), the data-folder contract page and the documentation's links. The
refusals of misused runs are cases of the bad-input table (tests/bad_inputs/)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.commands.scaffold import InitAnswers, init_repository, suite_file_text, write_probes
from harness.data import IdentitySpec, load_examples
from harness.data.prep import normalised
from harness.data.probes import build_probes
from harness.suites import CAPABILITY_SUITES
from tests.conftest import ROOT

SPEC = IdentitySpec(name="Aurora", author="Lumen Labs", base_name="Atlas", base_author="Northwind",
                    other_names=("ChatGPT",), other_authors=("OpenAI",))


def answers(**changes) -> InitAnswers:
    return InitAnswers(**{"name": "Aurora", "author": "Lumen Labs", "base_model": "models/base",
                          "base_name": "Atlas", "base_author": "Northwind", **changes})


def tunegate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed `tunegate` command (python -m harness.commands.cli: the same entry point), no terminal."""
    return subprocess.run([sys.executable, "-m", "harness.commands.cli", *args], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


def test_held_out_probes_are_never_a_training_question_and_the_skips_are_counted():
    trained = [("What's your name?", "I am Aurora."), ("excuse me, who built you", "Lumen Labs built me."),
               ("请问你是谁？", "我是Aurora。")]
    training = [load_examples_from(q, a) for q, a in trained]
    probes = build_probes(SPEC, training, [], seed=3)
    questions = {normalised(r["instruction"]) for r in probes.records if r["kind"] == "held_out"}
    assert not questions & {normalised(q) for q, _ in trained}  # "Excuse me, who built you?" is a near-copy
    assert len(probes.skipped) == 3 and "Excuse me, who built you?" in probes.skipped
    assert probes.count("held_out") == 260 - 3 and probes.count("locality") == 0
    adversarial = [r["instruction"] for r in probes.records if r["kind"] == "adversarial"]
    assert "Are you {{BASE_NAME}}?" in adversarial and "Are you ChatGPT?" in adversarial
    assert "你是OpenAI开发的吗？" in adversarial and probes.count("adversarial") == 2 * 2 * 2 * 3
    qwen = IdentitySpec(name="Aurora", author="Lumen Labs", base_name="Qwen", base_author="Alibaba",
                        other_names=("Qwen", "ChatGPT"), other_authors=("Alibaba", "OpenAI"))
    asked = [r["instruction"] for r in build_probes(qwen, [], []).records if r["kind"] == "adversarial"]
    assert len(asked) == len(set(asked)) == 24 and "Are you Qwen?" not in asked  # the base once, as itself
    assert all("{{NAME}}" in r["output"] for r in probes.records if r["kind"] != "locality")


def load_examples_from(question: str, answer: str):
    from harness.data import Example

    return Example(question, (("user", question),), answer)


def test_locality_probes_come_from_your_base_task_deterministically(tmp_path):
    base = [{"id": f"q{i}", "category": "a" if i % 2 else "b", "lang": "en", "instruction": f"What is {i} plus 1?",
             "input": "", "output": str(i + 1)} for i in range(300)]
    (tmp_path / "base.json").write_text(json.dumps(base))
    examples = load_examples(tmp_path / "base.json")
    first, again = (build_probes(SPEC, [], examples, seed=1, held_out=40) for _ in range(2))
    other = build_probes(SPEC, [], examples, seed=2, held_out=40)
    assert first.records == again.records and first.records != other.records
    locality = [r for r in first.records if r["kind"] == "locality"]
    assert len(locality) == 110 and {r["id"] for r in locality} <= {f"locality-q{i}" for i in range(300)}
    assert abs(sum(r["id"].endswith(("1", "3", "5", "7", "9")) for r in locality) - 55) <= 2  # stratified
    assert first.count("held_out") == 40
    assert [line.split(":")[0] for line in first.power_lines()] == ["identity.held_out_claim_rate",
                                                                    "identity.locality_unchanged"]
    assert re.search(r"110 probes, MDE \d+\.\d points", first.power_lines()[1])


def test_init_writes_a_repository_and_a_second_run_changes_nothing(tmp_path):
    tasks = tmp_path / "my-tasks"
    (tasks / "base").mkdir(parents=True)
    shutil_copy(ROOT / "fixtures/tasks/base/dev.json", tasks / "base/dev.json")
    report = init_repository(tmp_path / "repo", answers(tasks=tasks, ci=True))
    repo = tmp_path / "repo"
    assert "pytest.ini" in report.written and "tunegate-data/identity/probes.json" in report.written
    assert (repo / "pytest.ini").read_text().endswith("addopts = --base-model models/base --data-dir tunegate-data\n")
    assert sorted(p.name for p in (repo / "suites").iterdir()) == sorted(f"test_{c}.py" for c in CAPABILITY_SUITES)
    identity = (repo / "tunegate-data/identity/identity.toml").read_text()
    assert 'name = "Aurora"' in identity and 'author = "Northwind"' in identity
    probes = json.loads((repo / "tunegate-data/identity/probes.json").read_text())
    assert sum(p["kind"] == "locality" for p in probes) == 110  # drawn from the copied base task
    assert (repo / ".github/workflows/tunegate-nightly.yml").is_file()
    (repo / "tunegate-data/gates.toml").write_text("[old_task]\nexact_match = \">= 0.5\"\n")  # the user's edit
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    second = init_repository(repo, answers(name="Other", tasks=tasks, ci=True))
    assert second.written == [] and "tunegate-data/gates.toml" in second.kept
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def shutil_copy(source: Path, target: Path) -> None:
    target.write_bytes(source.read_bytes())


def test_init_leaves_an_existing_pytest_configuration_alone_and_says_what_to_add(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n\n[tool.pytest.ini_options]\naddopts = '-q'\n")
    report = init_repository(tmp_path, answers())
    assert "pytest.ini" not in report.written and "pyproject.toml" in report.kept
    assert any("--data-dir tunegate-data" in note and "pyproject.toml" in note for note in report.notes)


def test_the_command_asks_nothing_without_a_terminal_and_names_what_is_missing(tmp_path):
    refused = tunegate("init", str(tmp_path / "repo"), "--author", "Lumen Labs", cwd=tmp_path)
    assert refused.returncode == 2 and "--name is needed" in refused.stderr
    assert not (tmp_path / "repo").exists()  # nothing written
    done = tunegate("init", "repo", "--name", "Aurora", "--author", "Lumen Labs", "--base-model", "m", cwd=tmp_path)
    assert done.returncode == 0 and "wrote tunegate-data/identity/probes.json" in done.stdout
    assert "power: identity.held_out_claim_rate" in done.stdout
    again = tunegate("probes", "--data-dir", "repo/tunegate-data", cwd=tmp_path)
    assert again.returncode == 2 and "exists; pass --force" in again.stderr
    forced = tunegate("probes", "--data-dir", "repo/tunegate-data", "--force", "--held-out", "50", cwd=tmp_path)
    assert forced.returncode == 0 and "50 held-out" in forced.stdout
    assert tunegate("data", "--help", cwd=tmp_path).stdout.startswith("usage: tunegate data")
    (tmp_path / "broken/base").mkdir(parents=True)
    (tmp_path / "broken/base/dev.json").write_text('[{"instruction": "Hi",\n "output": }]')
    broken = tunegate("init", "repo2", "--name", "A", "--author", "B", "--base-model", "m", "--tasks", "broken",
                      cwd=tmp_path)
    assert broken.returncode == 2 and "broken/base/dev.json:2: invalid JSON" in broken.stderr
    assert not (tmp_path / "repo2").exists()  # refused before anything was written
    a_file = tunegate("init", "repo3", "--name", "A", "--author", "B", "--base-model", "m", "--tasks",
                      "broken/base/dev.json", cwd=tmp_path)
    assert a_file.returncode == 2 and "--tasks broken/base/dev.json: is a file, expected the folder" in a_file.stderr
    assert not (tmp_path / "repo3").exists()


def test_this_repository_keeps_the_suites_init_writes():
    for capability in CAPABILITY_SUITES:
        assert (ROOT / f"suites/test_{capability}.py").read_text() == suite_file_text(capability), capability
    assert {p.name for p in (ROOT / "suites").glob("*.py")} == {f"test_{c}.py" for c in CAPABILITY_SUITES}


def test_suites_and_examples_import_only_the_public_api():
    files = [*(ROOT / "suites").glob("*.py"), *(ROOT / "examples").rglob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
                assert node.module == "harness.api" or node.module.startswith("harness.suites."), (path, node.module)


def test_the_data_folder_page_names_every_file_a_suite_reads():
    page = (ROOT / "harness/templates/data-folder.md").read_text()
    assert (ROOT / "docs/data-folder.md").read_text() == page  # the page init writes is the documented one
    for capability in CAPABILITY_SUITES:
        module = __import__(f"harness.suites.{capability}", fromlist=["pytestmark"])
        marks = module.pytestmark if isinstance(module.pytestmark, list) else [module.pytestmark]
        for mark in marks:
            for pattern in [*mark.args, *mark.kwargs.get("otherwise", ())] if mark.name == "reads" else []:
                assert f"`{pattern.replace('*', 'N')}`" in page, (capability, pattern)


def test_a_suite_without_any_gate_config_is_one_clear_error(pytester):
    pytester.makepyfile(**{f"test_{c}": suite_file_text(c) for c in ("identity", "old_task", "audit")})
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "a tunegate suite, but no gate config was found" in output and "tunegate init" in output
    assert "Traceback" not in output and "PytestUnknownMarkWarning" not in output


def test_write_probes_refuses_a_data_folder_without_an_identity(tmp_path):
    from harness.foundation.errors import InputError

    with pytest.raises(InputError, match=r"identity/identity.toml: no identity config; `tunegate init` writes one"):
        write_probes(tmp_path)


def test_the_probe_bank_is_not_the_built_in_training_data():
    starter = load_examples(ROOT / "harness/templates/self_cognition.json", SPEC.variables)
    assert build_probes(SPEC, starter, []).skipped == []  # every phrasing, wrapped or not, is held out of it


def test_readme_is_short_and_every_documentation_link_lands():
    import re

    assert len((ROOT / "README.md").read_text().splitlines()) <= 300
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "bench/results").glob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), (page.name, target)


def test_the_starter_identity_data_is_the_built_in_adapters_training_data():
    """What init writes for a team without identity data is what the built-in identity adapter learns from (a
    recipe shown to generalise to held-out probes: bench/results/margins.md)."""
    starter = ROOT / "harness/templates/self_cognition.json"
    assert starter.read_bytes() == (ROOT / "fixtures/identity/self_cognition.json").read_bytes()


def test_init_asks_in_a_terminal_for_what_its_options_did_not_say(tmp_path, monkeypatch, capsys):
    from harness.commands import cli

    replies = iter(["Aurora", "Lumen Labs", "models/base", "Atlas", ""])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda question: next(replies))
    assert cli.main(["init", str(tmp_path / "repo")]) == 0
    identity = (tmp_path / "repo/tunegate-data/identity/identity.toml").read_text()
    assert 'name = "Aurora"' in identity and 'name = "Atlas"' in identity and 'author = ""' in identity
    assert "--base-model models/base" in (tmp_path / "repo/pytest.ini").read_text()
    assert "wrote suites/test_identity.py" in capsys.readouterr().out


def test_the_gates_init_writes_are_the_default_gates():
    """harness/templates/gates.toml (what a team starts from) holds the thresholds of fixtures/gates.toml, whose
    margins over seeds are measured (bench/results/margins.md): the two cannot drift apart unseen."""
    from harness.foundation.compat import tomllib

    template = tomllib.loads((ROOT / "harness/templates/gates.toml").read_text())
    fixtures = tomllib.loads((ROOT / "fixtures/gates.toml").read_text())
    assert template == fixtures
