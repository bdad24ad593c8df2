"""Generation-quality gates FAIL on a dead adapter and PASS on the healthy one (the built-in model)."""

from __future__ import annotations

from dataclasses import replace

from harness.evaluators import generation, identity
from harness.model.sets import ModelSet
from harness.model.views import base_and_tuned
from tests.conftest import plant_adapter


def generation_verdicts(base, tuned, spec, tunegate):
    examples = [replace(p.example, id=p.id) for p in identity.load_probes(tunegate.settings.fixtures, spec)
                if p.kind != "locality"]
    result, verdicts = tunegate.evaluate("generation", ModelSet(base, tuned), examples)
    return verdicts, result.details


def test_healthy_adapter_passes_generation_gates(models_under_test, identity_spec, tunegate):
    verdicts, items = generation_verdicts(*models_under_test, identity_spec, tunegate)
    assert set(verdicts) == {"generation.chrf", "generation.rouge_l", "generation.chrf_gain"}
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]
    assert {g.lang for g in items} == {"en", "zh"}
    metrics = {(m.name, m.checkpoint): m for m in generation.generation_metrics(items)}
    assert metrics["rouge_l[zh]", "tuned"].value > 0.5  # Chinese is scored, not silently 0
    assert all(m.ci_low <= m.value <= m.ci_high and m.n for m in metrics.values())


def test_dead_adapter_fails_generation_gates(base_model, adapter_under_test, identity_spec, tunegate, tmp_path):
    dead = plant_adapter(adapter_under_test, tmp_path / "dead", lambda b: b * 0)
    verdicts, _ = generation_verdicts(*base_and_tuned(base_model, dead), identity_spec, tunegate)
    assert not any(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]
    assert verdicts["generation.chrf_gain"].value == 0.0 and "base " in verdicts["generation.chrf"].message
