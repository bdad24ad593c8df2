"""The prompt-only baseline without a model: where the prompt goes, its config, and the identity's worked examples."""

from __future__ import annotations

import pytest

from harness.data import DataError, Example, PromptBaseline, load_prompt_baseline
from harness.model.prompted import PromptedModel


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


def test_the_identity_baseline_takes_k_worked_examples_that_are_no_probe(tmp_path):
    import shutil

    from harness.data import load_examples, load_identity_spec
    from harness.model.prompted import identity_prompted
    from tests.conftest import ROOT

    class Named:
        name, model_id, device = "named", "named-1", "cpu"

    shutil.copytree(ROOT / "fixtures/identity", tmp_path / "identity")
    config = tmp_path / "identity/identity.toml"
    assert identity_prompted(Named(), tmp_path).prefix == (("system", load_identity_spec(config).prompt),)
    config.write_text(config.read_text().replace("\n[base]", "\nprompt_shots = 3\n[base]", 1))
    spec = load_identity_spec(config)
    prefix = identity_prompted(Named(), tmp_path).prefix
    assert len(prefix) == 1 + 2 * 3 and prefix == identity_prompted(Named(), tmp_path).prefix  # seeded: same draw
    probe_prompts = {ex.prompt_text.strip().lower() for ex in load_examples(tmp_path / "identity/probes.json",
                                                                             spec.variables)}
    shots = [text for role, text in prefix[1:] if role == "user"]
    assert len(shots) == 3 and not {s.strip().lower() for s in shots} & probe_prompts
    assert "{{NAME}}" not in str(prefix) and spec.name in str(prefix)  # the identity filled in
    config.write_text(config.read_text().replace("prompt_shots = 3", "prompt_shots = -2"))
    with pytest.raises(DataError, match=r"identity.toml: key 'prompt_shots' must be a whole number >= 0, got -2"):
        identity_prompted(Named(), tmp_path)
    assert identity_prompted(Named(), tmp_path / "elsewhere") is None  # no identity in that data folder
