"""New-task gates FAIL on an untrained adapter and PASS on the adapter trained on the newest increment."""

from __future__ import annotations

from peft import LoraConfig, get_peft_model

from harness.data import load_examples
from harness.model.sets import ModelSet
from harness.training.sequence import sequence_tasks
from tests.conftest import verdicts_of


def new_task_verdicts(base, tuned, tunegate):
    fixtures = tunegate.settings.fixtures
    dev = load_examples(fixtures / f"tasks/{sequence_tasks(fixtures)[-1]}/dev.json")
    return verdicts_of(tunegate, "new_task", ModelSet(base, tuned), dev)


def test_trained_adapter_passes_new_task_gates(new_task_models, tunegate):
    verdicts = new_task_verdicts(*new_task_models, tunegate)
    assert set(verdicts) == {"new_task.exact_match", "new_task.exact_match_gain"}
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]
    assert "beyond noise" in verdicts["new_task.exact_match_gain"].message


def test_untrained_adapter_fails_new_task_gates(base_model, tunegate, tmp_path):
    """An adapter saved straight after peft's initialisation (B = 0): it has learnt nothing."""
    from harness.model.views import base_and_tuned

    model, _ = base_model.load()
    get_peft_model(model, LoraConfig(r=8, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
                   ).save_pretrained(tmp_path / "untrained")
    verdicts = new_task_verdicts(*base_and_tuned(base_model, tmp_path / "untrained"), tunegate)
    floor, gain = verdicts["new_task.exact_match"], verdicts["new_task.exact_match_gain"]
    assert not floor.passed and floor.value < 0.9 and "required >= 0.9" in floor.message
    assert not gain.passed and gain.value == 0.0 and "within noise" in gain.message
