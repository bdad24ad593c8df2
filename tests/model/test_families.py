"""Bases of the families users fine-tune (Llama, Qwen2, Mistral, Gemma, Phi-3, GPT-2), each a tiny model built
from its config in this session with the built-in tokenizer: identity (with an adapter trained here, a short
recipe), perplexity and adapter health run end to end on each without an error. GPT-2 ships no chat template, so
it is prompted in the plain format. Quality gates may fail (the models are random); the adapter's weight-health
gates, whose bounds are relative (to the median layer, to the init scale), must pass on every family."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.families import FAMILIES, build_family

STRUCTURAL_HEALTH = ("nonfinite_layers", "dead_layers", "update_ratio_spread", "max_a_growth")


@pytest.fixture(scope="module")
def short_data(tmp_path_factory) -> Path:
    """The data folder with a 12-step identity recipe (the point is running, not learning)."""
    data = tmp_path_factory.mktemp("families") / "data"
    shutil.copytree(ROOT / "fixtures", data, ignore=shutil.ignore_patterns("builtin", "generate.py"))
    recipes = (data / "recipes.toml").read_text()
    (data / "recipes.toml").write_text(recipes.replace("steps = 250", "steps = 12", 1))
    return data


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_tiny_base_of_each_family_runs_identity_perplexity_and_health(run_suites, short_data, tmp_path, family):
    base = build_family(family, tmp_path / family)
    result, report_dir = run_suites("--base-model", str(base), "--data-dir", str(short_data), "--cache-dir",
                                    str(tmp_path / "cache"), "-m", "identity or perplexity or adapter_health")
    outcomes = result.parseoutcomes()
    output = result.stdout.str()[-3000:] + result.stderr.str()[-2000:]
    assert result.ret in (0, 1) and not outcomes.get("errors") and not outcomes.get("error"), output
    data = json.loads((report_dir / "latest/results.json").read_text())
    capabilities = {g["capability"] for g in data["gates"]}
    assert {"identity", "perplexity", "adapter_health"} <= capabilities, output
    assert data["run"]["adapters"]["identity"]["path"]  # an adapter was trained on this base
    weights = {g["metric"]: g for g in data["gates"] if g["capability"] == "adapter_health"}
    for metric in STRUCTURAL_HEALTH:  # bounds that mean the same on every architecture hold on a healthy adapter
        assert weights[metric]["passed"], weights[metric]["message"]
