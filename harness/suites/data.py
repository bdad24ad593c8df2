"""Data suite: the data a run trains and evaluates on. No dev item leaked from its training set (a dev set drawn
wholly from train is a recall sample, as the built-in tasks are, and is no leak), few near-duplicate training
records, few examples cut by their recipe's max_length. `python -m harness.data report` prints the same report."""

from __future__ import annotations

import pytest

from harness.api import parametrize_gates
from harness.data.folder import PROBES, SELF_COGNITION, TASKS
from harness.data.prep import dataset_report
from harness.foundation.records import GateResult
from harness.plugin.preflight import identity_datasets, task_datasets
from harness.training.recipe import load_recipe
from harness.training.recipe_check import token_lengths

pytestmark = [pytest.mark.data]
__all__ = ["data_verdicts", "pytest_generate_tests", "pytestmark", "test_gate"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise over every verdict the data capability yields."""
    parametrize_gates(metafunc, "data")


@pytest.fixture(scope="session")
def data_verdicts(base_model, tunegate) -> dict[str, GateResult]:
    """One validation report per dataset (each task's train and dev, the identity training data and its held-out
    probes), lengths in the base's tokens against the recipe that trains it; checked once."""
    s = tunegate.settings
    folder = s.data_folder
    spec = folder.identity_spec()
    named = dict(identity_datasets(s.fixtures, spec) + task_datasets(s.fixtures))
    pairs = [(label.split("/")[1], examples, named.get(label.replace("train.json", "dev.json"), []))
             for label, examples in named.items() if label.startswith(f"{TASKS}/") and label.endswith("train.json")]
    if SELF_COGNITION in named:
        pairs.append(("identity", named[SELF_COGNITION], named.get(PROBES, [])))
    recipes = folder.recipes
    tokenizer = base_model.load_tokenizer()
    reports = []
    for name, train, dev in pairs:
        recipe = load_recipe(recipes, "identity" if name in ("identity", "base") else "sequence.replay")
        reports.append(dataset_report(name, train, dev, token_lengths(tokenizer, train), recipe.max_length))
    return tunegate.judge("data", None, reports)


def test_gate(data_verdicts, tunegate, gate_id: str) -> None:
    """No dev leak, near-duplicates and cut examples within their bounds."""
    tunegate.enforce_gate(data_verdicts, gate_id)
