"""Runs that would judge nothing: every suite skipped, a selected capability without its data, a marker typo, a
-k that deselects every test. Each is refused at collection end, before any model loads, in the words of the
run's headline."""

from __future__ import annotations

import shutil

from tests.bad_inputs.project import BadInput, Plant, Project

TITLE = "runs that judge nothing"
SUITES = ("old_task", "identity", "perplexity", "new_task")


def suites(*capabilities: str, remove: tuple[str, ...] = (), args: tuple[str, ...] = ()) -> Plant:
    """The project's suite becomes the shipped suites of `capabilities`, data files `remove` are deleted, and the
    run gets `args`. The files are named test_gates_<capability>.py: in-process, a module name one of our own test
    modules holds (tests/model/test_perplexity.py) would be imported as that one."""
    def plant(p: Project) -> list[str]:
        (p.root / "test_suite.py").unlink()
        for name in capabilities:
            (p.root / f"test_gates_{name}.py").write_text(f"from harness.suites.{name} import *  # noqa: F403\n")
        for path in remove:
            target = p.data / path
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        return list(args)
    return plant


def _partial_pyproject(then: Plant, args: list[str]) -> Plant:
    """A pyproject.toml whose [tool.tunegate.gates] names old_task only, then `then`; the run gets `args`."""
    def plant(p: Project) -> list[str]:
        (p.root / "pyproject.toml").write_text('[tool.tunegate.gates.old_task]\nexact_match = ">= 0.5"\n')
        return then(p) + args
    return plant


def _with_unit_test(p: Project) -> list[str]:
    """Beside the suite, a test of the project's own code (no capability marker)."""
    (p.root / "test_unit.py").write_text("def test_unit():\n    assert True\n")
    return ["-k", "unit"]


CASES: list[BadInput] = [
    BadInput("every-suite-skipped", "a data folder that makes every suite skip (it has only gates.toml)",
             suites(*SUITES, remove=("tasks", "identity", "perplexity")),
             ("tunegate NOT JUDGED: 0 of 40 configured gates judged", "identity/identity.toml",
              "lacks identity/identity.toml, identity/self_cognition.json, identity/probes.json, tasks/base/dev.json")),
    BadInput("identity-without-spec", "-m identity without identity/identity.toml",
             suites(*SUITES, remove=("identity/identity.toml",), args=("-m", "identity")),
             ("NOT JUDGED", "every selected suite test would be skipped", "lacks identity/identity.toml (the suites")),
    BadInput("selected-capability-without-data", "-m naming a capability whose data is missing (new_task without "
             "tasks/increment_*), beside one that runs",
             suites(*SUITES, remove=("tasks/increment_1", "tasks/increment_2"), args=("-m", "old_task or new_task")),
             ("-m 'old_task or new_task' selects new_task", "lacks tasks/increment_*/dev.json (the new_task suite")),
    BadInput("k-deselects-all", "-k deselecting every test", lambda p: ["-k", "nothing_matches"],
             ("NOT JUDGED", "-k 'nothing_matches' deselected every suite test (1)")),
    BadInput("m-typo", "a -m typo (-m identiy): pytest deselected everything, exit 5, naming nothing",
             lambda p: ["-m", "identiy"], ("identity, latency", "no test carries the marker 'identiy'",
                                           "did you mean 'identity'?")),
    BadInput("m-typo-beside-a-known-marker", "-m 'old_task or identiy': old_task would run, identity silently not",
             lambda p: ["-m", "old_task or identiy"], ("-m 'old_task or identiy'", "did you mean 'identity'?")),
    BadInput("k-selects-unit-tests", "-k selecting only the project's own tests, every suite test deselected: "
             "accepted (the user chose those tests; the headline says the gates were not judged)",
             _with_unit_test, (), exit=0),
    BadInput("m-hyphen", "-m old-task (pytest reads 'old' minus 'task' and names only 'old')",
             lambda p: ["-m", "old-task"], ("'old-task' is no marker name", "did you mean 'old_task'?")),
    BadInput("pyproject-gates-leave-a-suite-ungated", "a [tool.tunegate.gates] table naming old_task only, "
             "-m perplexity (the table replaces gates.toml; pytest said only 'got empty parameter set')",
             _partial_pyproject(suites("perplexity"), ["-m", "perplexity"]),
             ("NOT JUDGED", "pyproject.toml [tool.tunegate.gates] configures no gate of perplexity")),
    BadInput("pyproject-gates-beside-gates-toml", "a [tool.tunegate.gates] table beside the data folder's gates.toml: "
             "accepted (pyproject is read first, as documented), with a warning that gates.toml is not read",
             _partial_pyproject(lambda p: [], []), ("gates.toml is not read",), exit=0),
]
