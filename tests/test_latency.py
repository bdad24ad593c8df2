"""Latency gates FAIL on an artificially slowed model and PASS on the healthy adapter, in the same run."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from harness.data import load_examples
from harness.evaluators import latency
from harness.model.lm import LanguageModel, plain_base

FAST = latency.LatencySettings(prompts=8, new_tokens=16, rounds=5)


class SlowedModel(LanguageModel):
    """A wrapper that sleeps 10 ms before every forward pass: a planted inference-time regression."""

    def __init__(self, inner: LanguageModel) -> None:
        super().__init__(inner.model, inner.tokenizer, name=f"{inner.name} (slowed)", model_id="slowed",
                         adapter_enabled=inner.adapter_enabled)

    @contextmanager
    def _view(self):
        inner = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        hook = inner.register_forward_pre_hook(lambda *_: time.sleep(0.010))  # generate() bypasses peft's forward
        try:
            with super()._view():
                yield
        finally:
            hook.remove()


@pytest.fixture(scope="module")
def prompts(tunegate):
    return [ex.messages for ex in load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")]


def verdicts(models, prompts, tunegate):
    timings = latency.measure_latency(models, prompts, FAST)
    return latency.latency_gate_results(timings, tunegate.gates.gates)


def test_slowed_model_fails_and_healthy_passes_latency_gates(base_model, identity_models, merged_model, prompts,
                                                              tunegate):
    base, tuned = plain_base(base_model), identity_models[1]
    healthy = verdicts({"base": base, "tuned": tuned, "merged": merged_model}, prompts, tunegate)
    assert set(healthy) == {f"latency.{m}" for m in latency.METRICS}
    assert all(v.passed for v in healthy.values()), [v.message for v in healthy.values()]
    slowed = verdicts({"base": base, "tuned": SlowedModel(tuned), "merged": SlowedModel(merged_model)}, prompts,
                      tunegate)
    assert not any(v.passed for v in slowed.values()), [v.message for v in slowed.values()]
    assert "tokens/s" in slowed["latency.throughput_ratio"].message
    assert "ms" in slowed["latency.ttft_ratio"].message


def test_latency_settings_are_validated():
    with pytest.raises(ValueError, match=r"LatencySettings.rounds must be >= 1"):
        latency.LatencySettings(rounds=0)
