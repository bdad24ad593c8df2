"""Shared test set-up for every tier: offline Hugging Face, project paths, `run_suites`, planted-regression adapters,
the audit's run directory and the bad-input table's project."""

from __future__ import annotations

import importlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from tests.bad_inputs import SUITE, Project

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HOME", str(ROOT / ".tunegate-cache" / "hf"))
# pytester drops the modules each test's in-process runs imported, and pyarrow refuses pandas' extension types
# registered twice in one process: import them once here, before any pytester snapshot
importlib.import_module("pandas.core.arrays.arrow.extension_types")


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root (holds suites/, fixtures/, conftest.py)."""
    return ROOT


@pytest.fixture
def run_suites(pytester: pytest.Pytester, tunegate):
    """Run `pytest suites/` of this project, reports in a temporary folder: in this process (the stack is
    imported already; the run's modules are dropped afterwards), or with `subprocess=True` in a fresh one.

    Returns (result, report_dir); the model cache is the session's, so nothing is rebuilt.
    """
    def run(*args: str, subprocess: bool = False):
        report_dir = pytester.path / "reports"
        options = [str(ROOT / "suites"), "--rootdir", str(ROOT), "-p", "no:cacheprovider", "--report-dir",
                   str(report_dir), "--cache-dir", str(tunegate.settings.cache_dir), *args]
        if subprocess:
            return pytester.runpytest_subprocess(*options, timeout=600), report_dir
        with torch_threads_kept():  # importlib mode: suites/test_audit.py is not this session's tests/e2e/test_audit.py
            return pytester.runpytest_inprocess(*options, "--import-mode=importlib"), report_dir

    return run


@contextmanager
def torch_threads_kept():
    """The torch thread count as it was before the block (a run in this process may change it)."""
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def forgetting_adapter(base_model, identity_spec, tunegate):
    """The identity recipe without replay at 5x the learning rate: the classic catastrophic-forgetting run."""
    from harness.data import load_examples
    from harness.training.lora import train_adapter
    from harness.training.recipe import load_recipe

    fixtures = tunegate.settings.fixtures
    recipe = load_recipe(fixtures / "recipes.toml", "identity")
    reckless = type(recipe).from_mapping({**recipe.to_dict(), "replay_ratio": 0.0,
                                          "learning_rate": recipe.learning_rate * 5})
    data = load_examples(fixtures / "identity/self_cognition.json", identity_spec.variables)
    return train_adapter(base_model, data, reckless, tunegate.settings.cache_dir, name="identity-no-replay").path


@pytest.fixture(scope="module")
def audit_run_dir(sequences, tmp_path_factory):
    """checkpoint-200 and -1000 are healthy replay stages; checkpoint-3000 is the naive final stage (it forgot
    the base task); `logs/` is no checkpoint and is ignored (a checkpoint-N/ without an adapter is an error:
    tests/bad_inputs/). Audited by tests/e2e/test_audit.py, its checkpoints found by
    tests/model/test_audit_model.py."""
    run = tmp_path_factory.mktemp("run")
    copy_adapter(sequences["replay"][1].adapter, run / "checkpoint-200")
    copy_adapter(sequences["replay"][2].adapter, run / "checkpoint-1000")
    copy_adapter(sequences["naive"][2].adapter, run / "checkpoint-3000")
    (run / "logs").mkdir()
    (run / "checkpoint-3000" / "trainer_state.json").write_text(json.dumps({"log_history": [{"step": 3000,
                                                                                              "loss": 0.42}]}))
    return run


# --- the bad-input table's project (tests/bad_inputs/): fast and end-to-end tests use it ---------------

@pytest.fixture(scope="module")
def small_adapter(tmp_path_factory) -> Path:
    """A LoRA adapter (r=4 on q_proj and v_proj) for the shipped built-in model, untrained: it is never run."""
    from peft import LoraConfig, get_peft_model

    from harness.model.loading import BaseModel

    model, _ = BaseModel.at(ROOT / "fixtures/builtin/model").load()
    folder = tmp_path_factory.mktemp("adapter") / "adapter"
    get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])).save_pretrained(folder)
    return folder


@pytest.fixture
def project(pytester: pytest.Pytester, small_adapter: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A fresh project of the bad-input table (see `Project`) with one suite test that records a verdict without
    loading a model."""
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


def plant_adapter(source: Path, target: Path, transform, matrix: str | None = "lora_B") -> Path:
    """A planted regression: a copy of adapter `source` whose `matrix` tensors (lora_A or lora_B) become
    `transform(tensor)`; with `matrix=None`, `transform` edits the whole {name: tensor} dict in place."""
    from safetensors.torch import load_file, save_file

    folder = copy_adapter(source, target)
    tensors = load_file(folder / "adapter_model.safetensors")
    if matrix is None:
        transform(tensors)
    else:
        tensors = {k: transform(v) if matrix in k else v for k, v in tensors.items()}
    save_file(tensors, folder / "adapter_model.safetensors")
    return folder


def copy_adapter(source: Path, target: Path) -> Path:
    """Copy an adapter folder's peft files (config + weights) to `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(source / name, target / name)
    return target


def verdicts_of(tunegate, capability: str, models, data, evaluate=None) -> dict:
    """The verdicts of a registered capability's configured gates on `models` and `data`, recording nothing;
    `evaluate` replaces the capability's evaluate function (other measurement settings, canned results)."""
    registered = tunegate.capabilities[capability]
    chosen = replace(registered, evaluate=evaluate) if evaluate else registered
    return chosen.run(tunegate.gates.for_capability(capability), models, data, tunegate.settings)[1]
