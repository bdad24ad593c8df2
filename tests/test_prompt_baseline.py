"""Fine-tune or prompt? The identity adapter against the base model told the identity in a system prompt: the
"adapter needed" gate PASSES on the built-in base (it cannot follow a system prompt) and FAILS when the prompt-only
model matches the adapter; the prompted model goes through the wrapped model's batched, cached interface."""

from __future__ import annotations

import pytest

from harness.data import DataError, Example, PromptBaseline, load_prompt_baseline
from harness.evaluators import identity
from harness.model.prompted import PromptedModel, few_shot_prompt
from harness.model.views import base_and_tuned
from tests.conftest import verdicts_of

GATE = "identity.claim_gain_over_prompted"
PROMPT_GATE = "new_task.exact_match_gain_over_prompted"


def prompted_verdicts(tunegate, base, tuned, prompted, spec):
    probes = identity.load_probes(tunegate.settings.fixtures, spec)
    result, verdicts = tunegate.evaluate("identity", (base, tuned, prompted), (probes, spec))
    return verdicts, result


def test_the_adapter_is_needed_when_a_prompt_does_not_reach_it(base_model, adapter_under_test, identity_spec,
                                                               tunegate):
    base, tuned = base_and_tuned(base_model, adapter_under_test)
    verdicts, result = prompted_verdicts(tunegate, base, tuned, PromptedModel(base, identity_spec.prompt),
                                         identity_spec)
    assert verdicts[GATE].passed and verdicts[GATE].value > 0.6, verdicts[GATE].message
    assert "the adapter is needed: prompting reaches" in verdicts[GATE].message
    assert {m.checkpoint for m in result.metrics if m.name == "held_out_claim_rate"} == {"base", "tuned", "prompted"}
    added = next(m.value for m in result.metrics if m.name == "prompt_tokens_added")
    assert added > 20 and f"the prompt adds {added:.0f} tokens to every request" in verdicts[GATE].message


def test_a_prompt_only_model_that_matches_the_adapter_fails_the_adapter_needed_gate(base_model, adapter_under_test,
                                                                                    identity_spec, tunegate):
    base, tuned = base_and_tuned(base_model, adapter_under_test)
    matching = PromptedModel(tuned, "")  # a prompt-only model as good as the adapter (the adapter's own answers)
    verdicts, _ = prompted_verdicts(tunegate, base, tuned, matching, identity_spec)
    assert not verdicts[GATE].passed, verdicts[GATE].message
    assert "a system prompt already reaches" in verdicts[GATE].message and "at zero training cost" in \
        verdicts[GATE].message


def test_the_prompt_goes_before_every_conversation_and_joins_its_system_turn():
    class Echo:
        name, model_id, device = "echo", "echo-1", "cpu"

        def generate(self, conversations, max_new_tokens=None):
            return [" | ".join(f"{role}:{text}" for role, text in c) for c in conversations]

    shot = Example("s1", (("user", "2+2?"),), "4")
    prompted = PromptedModel(Echo(), "Be brief.", [shot])
    assert prompted.generate([(("user", "3+3?"),)]) == ["system:Be brief. | user:2+2? | assistant:4 | user:3+3?"]
    assert prompted.generate([(("system", "Use digits."), ("user", "1+1?"))]) == [
        "system:Be brief.\nUse digits. | user:2+2? | assistant:4 | user:1+1?"]
    assert prompted.model_id.startswith("echo-1+prompt:") and prompted.name == "echo + prompt"
    assert prompted.added_tokens([(("user", "3+3?"),)]) is None  # a model that cannot count tokens

    class Counting(Echo):
        def prompt_tokens(self, conversations):
            return [sum(len(text.split()) for _, text in c) for c in conversations]

    assert PromptedModel(Counting(), "Be very brief.", [shot]).added_tokens([(("user", "3+3?"),)]) == 5.0


def new_task_prompt_verdicts(tunegate, base, tuned, prompted):
    from harness.data import load_examples
    from harness.training.sequence import sequence_tasks

    fixtures = tunegate.settings.fixtures
    dev = load_examples(fixtures / f"tasks/{sequence_tasks(fixtures)[-1]}/dev.json")
    return verdicts_of(tunegate, "new_task", (base, tuned, prompted), dev)


def test_the_new_task_adapter_beats_the_few_shot_prompted_base(new_task_models, tunegate):
    from harness.data import load_examples
    from harness.training.sequence import sequence_tasks

    base, tuned = new_task_models
    fixtures = tunegate.settings.fixtures
    task = sequence_tasks(fixtures)[-1]
    dev = load_examples(fixtures / f"tasks/{task}/dev.json")
    system, shots = few_shot_prompt(fixtures, task, dev)
    assert len(shots) == 4 and not {s.id for s in shots} & {d.id for d in dev}  # no dev item is a worked example
    verdict = new_task_prompt_verdicts(tunegate, base, tuned, PromptedModel(base, system, shots))[PROMPT_GATE]
    assert verdict.passed and "the adapter is needed" in verdict.message, verdict.message
    matching = new_task_prompt_verdicts(tunegate, base, tuned, PromptedModel(tuned, ""))[PROMPT_GATE]
    assert not matching.passed and "already reaches 1.00 of the adapter's exact match" in matching.message


def test_the_prompt_baseline_config_is_validated(tmp_path):
    config = tmp_path / "prompted.toml"
    assert load_prompt_baseline(config, "new_task") == PromptBaseline()  # absent: defaults
    config.write_text('[new_task]\nshots = 2\nsystem = "Be brief."\n')
    assert load_prompt_baseline(config, "new_task") == PromptBaseline("Be brief.", 2, 0)
    config.write_text('[new_task]\nshot = 2\n')
    with pytest.raises(DataError, match=r"prompted.toml \[new_task\]: unknown key\(s\) \['shot'\]"):
        load_prompt_baseline(config, "new_task")
    config.write_text('[new_task]\nshots = -1\n')
    with pytest.raises(DataError, match="key 'shots' must be a whole number >= 0"):
        load_prompt_baseline(config, "new_task")
