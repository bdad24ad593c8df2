"""The worked example's gates (examples/answer_language) fail on a planted regression and pass on a healthy model
(fake models)."""

from __future__ import annotations

from harness.data import Example
from harness.gating.gate_config import gate_config_from_mapping
from tests.example_capability import example_registry
from tests.fakes import FakeModel


def test_the_example_gates_fail_when_the_tuned_model_answers_chinese_questions_in_english():
    registry = example_registry()
    capability = registry["answer_language"]
    config = gate_config_from_mapping({}, registry.metric_specs(), "example", registry.default_gates())
    data = [Example(f"zh-{i}", (("user", f"问题{i}"),), f"答案{i}") for i in range(30)] + \
        [Example(f"en-{i}", (("user", f"question {i}"),), f"answer {i}") for i in range(30)]
    right = {ex.prompt_text: ex.answer for ex in data}
    english = {**right, **{ex.prompt_text: "I do not know" for ex in data if ex.id.startswith("zh-")}}
    healthy = capability.run(config.for_capability("answer_language"),
                             (FakeModel("base", right), FakeModel("tuned", right)), data, None)[1]
    planted = capability.run(config.for_capability("answer_language"),
                             (FakeModel("base", right), FakeModel("tuned", english)), data, None)[1]
    assert all(v.passed for v in healthy.values()) and set(healthy) == set(planted)
    assert not any(v.passed for v in planted.values())
    assert "30 answers in the wrong language: zh-0" in planted["answer_language.match_rate_zh"].message
