"""The built-in model: its build is deterministic and cached, it loads with plain transformers and meets its accuracy
bar; adapter fit checks and safe loading; views, adapter chains and shadows load the base once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file

import harness.training.builtin as builtin
from harness.model.files import UnsafeWeightsError
from harness.model.loading import (
    AdapterMismatchError,
    BaseModel,
    attach_adapter,
    check_adapter_fits,
)
from harness.model.requests import RequestCache
from harness.model.views import base_and_tuned
from harness.training.builtin import build_builtin_model
from tests.builtin_model import TINY, load_examples_for_scoring
from tests.conftest import copy_adapter


def test_builtin_build_is_bit_identical_and_cached(tmp_path, project_root, monkeypatch):
    fixtures = project_root / "fixtures"
    first = build_builtin_model(fixtures, tmp_path / "a", TINY)
    second = build_builtin_model(fixtures, tmp_path / "b", TINY)
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    monkeypatch.setattr(builtin, "_build_into", lambda *a: pytest.fail("cached model was rebuilt"))
    assert build_builtin_model(fixtures, tmp_path / "a", TINY) == first


def test_rebuild_writes_a_verified_shipped_model(tmp_path, project_root, monkeypatch):
    """`--rebuild` replaces fixtures/builtin/model/ (here: in a copy of the data folder, 3 steps) with a folder
    that passes its own digest check and is bit-identical when rebuilt."""

    fixtures = shutil.copytree(project_root / "fixtures", tmp_path / "fixtures",
                               ignore=shutil.ignore_patterns("model"))
    monkeypatch.setattr(builtin, "BuiltinRecipe", lambda: TINY)
    assert builtin.main(["--rebuild", "--data-dir", str(fixtures)]) == 0
    folder = fixtures / builtin.SHIPPED
    builtin.verify_shipped_model(folder)
    first = (folder / builtin.MANIFEST).read_bytes()
    builtin.rebuild_shipped_model(fixtures, TINY)
    assert (folder / builtin.MANIFEST).read_bytes() == first


def test_builtin_model_loads_with_plain_transformers(base_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_model.path)
    tokenizer = AutoTokenizer.from_pretrained(base_model.path)
    assert model.config.model_type == "llama" and tokenizer.eos_token == "<|end|>"
    assert len(tokenizer("青石国的首都")["input_ids"]) == 6  # one token per CJK character


def _plain_adapter(base_model, out, target_modules=("q_proj", "v_proj")):
    model, _ = base_model.load()
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=list(target_modules)))
    peft_model.save_pretrained(out)
    return out


def test_adapter_for_missing_modules_is_a_clear_error(base_model, tmp_path):
    folder = _plain_adapter(base_model, tmp_path / "a")
    weights = load_file(folder / "adapter_model.safetensors")
    tensors = {k.replace("layers.1.", "layers.7."): v for k, v in weights.items()}
    save_file(tensors, folder / "adapter_model.safetensors")
    model, _ = base_model.load()
    with pytest.raises(AdapterMismatchError, match=r"targets module 'model.layers.7.self_attn.q_proj'"):
        check_adapter_fits(model, folder)


def test_differing_base_name_only_warns(base_model, tmp_path):
    folder = _plain_adapter(base_model, tmp_path / "a")
    config = json.loads((folder / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "Qwen/Qwen2.5-0.5B-Instruct"
    (folder / "adapter_config.json").write_text(json.dumps(config))
    model, _ = base_model.load()
    with pytest.warns(UserWarning, match="only a hint"):
        attach_adapter(model, folder)


def test_pickled_weights_are_refused_unless_allowed(base_model, tmp_path):
    folder = copy_adapter(_plain_adapter(base_model, tmp_path / "a"), tmp_path / "b")
    tensors = load_file(folder / "adapter_model.safetensors")
    torch.save(tensors, folder / "adapter_model.bin")
    (folder / "adapter_model.safetensors").unlink()
    model, _ = base_model.load()
    with pytest.raises(UnsafeWeightsError, match="--allow-pickle"):
        check_adapter_fits(model, folder)
    check_adapter_fits(model, folder, allow_pickle=True)


def test_builtin_model_meets_its_accuracy_bar(base_model, project_root):
    """The default built-in model answers >= 85% of the base task's dev set exactly (the issue's bar)."""
    from harness.data import load_examples
    from harness.measures.metrics import exact_match
    from harness.model.lm import HFLanguageModel

    model, tokenizer = base_model.load()
    dev = load_examples(project_root / "fixtures/tasks/base/dev.json")
    answers = HFLanguageModel(model, tokenizer, name="base", batch_size=64).generate([ex.messages for ex in dev])
    accuracy = sum(exact_match(a, ex.answer) for a, ex in zip(answers, dev, strict=True)) / len(dev)
    assert accuracy >= 0.85, accuracy


def test_views_load_their_shared_weights_once_and_only_when_an_answer_is_missing(base_model, tmp_path,
                                                                                 monkeypatch):
    folder = _plain_adapter(base_model, tmp_path / "a")
    loads = []
    real_load = BaseModel.load
    monkeypatch.setattr(BaseModel, "load", lambda self: loads.append(1) or real_load(self))
    cache = RequestCache()
    base, tuned = base_and_tuned(base_model, folder, cache=cache)
    prompts = [(("user", "Who are you?"),)]
    assert not loads and base.device.type == "cpu"  # described, not loaded
    first = tuned.generate(prompts, max_new_tokens=4)
    assert base.generate(prompts, max_new_tokens=4) and len(loads) == 1  # both views share one load
    _, again_tuned = base_and_tuned(base_model, folder, cache=cache)
    assert again_tuned.generate(prompts, max_new_tokens=4) == first and len(loads) == 1  # answered from the cache
    assert again_tuned.loglikelihood([]) == [] and len(loads) == 1
    assert again_tuned.model is not None and len(loads) == 2  # the weights themselves load on demand


def test_a_misfitting_adapter_fails_when_its_weights_first_load(base_model, tmp_path):
    folder = _plain_adapter(base_model, tmp_path / "a")
    tensors = load_file(folder / "adapter_model.safetensors")
    tensors[next(k for k in tensors if "lora_A" in k)] = torch.zeros(4, 64)
    save_file(tensors, folder / "adapter_model.safetensors")
    _, tuned = base_and_tuned(base_model, folder)
    with pytest.raises(AdapterMismatchError, match=r"has shape \[4, 64\] but base layer .* takes 128 input"):
        tuned.generate([(("user", "Who are you?"),)], max_new_tokens=2)


def test_an_adapter_chain_loads_the_base_once_and_answers_as_separate_loads_do(base_model, adapter_under_test,
                                                                                 tmp_path, monkeypatch):
    """A run's checkpoints share one copy of the base (peft `load_adapter` / `set_adapter`); each view answers
    and scores exactly as a base + adapter load of its own would, in any order of requests."""
    from harness.model.views import adapter_chain
    from tests.conftest import plant_adapter

    halved = plant_adapter(adapter_under_test, tmp_path / "halved", lambda b: b * 0.5)
    folders = [adapter_under_test, halved, adapter_under_test]
    prompts = [(("user", "Who are you?"),), (("user", "What is the capital of Velmaria?"),)]
    examples = load_examples_for_scoring()
    separate = [base_and_tuned(base_model, f)[1] for f in folders]
    expected = [(v.generate(prompts), v.loglikelihood(examples)) for v in separate]
    loads = []
    real_load = BaseModel.load
    monkeypatch.setattr(BaseModel, "load", lambda self: loads.append(1) or real_load(self))
    base, *chain = adapter_chain(base_model, folders)
    got = [(v.generate(prompts), v.loglikelihood(examples)) for v in reversed(chain)][::-1]
    assert len(loads) == 1 and [g[0] for g in got] == [e[0] for e in expected]
    for (_, mine), (_, theirs) in zip(got, expected, strict=True):
        assert [round(s, 4) for s, _ in mine] == [round(s, 4) for s, _ in theirs]
    assert got[0][1] != got[1][1]  # the halved adapter really is another adapter
    assert base.generate(prompts) == base_and_tuned(base_model, halved)[0].generate(prompts)


def test_a_shadow_adapter_rides_on_the_tuned_views_base(base_model, adapter_under_test, tmp_path, monkeypatch):
    """--shadow: the shadow adapter is loaded into the adapter under test's copy of the base (one load, not two),
    and both views answer as their own loads would."""
    from harness.model.views import base_tuned_and_shadow
    from tests.conftest import plant_adapter

    halved = plant_adapter(adapter_under_test, tmp_path / "halved", lambda b: b * 0.5)
    examples = load_examples_for_scoring()
    expected = [base_and_tuned(base_model, f)[1].loglikelihood(examples) for f in (adapter_under_test, halved)]
    loads = []
    real_load = BaseModel.load
    monkeypatch.setattr(BaseModel, "load", lambda self: loads.append(1) or real_load(self))
    views, shadow = base_tuned_and_shadow(base_model, adapter_under_test, halved)
    tuned = views.tuned
    got = [shadow.loglikelihood(examples), tuned.loglikelihood(examples)][::-1]
    assert len(loads) == 1 and got[0] != got[1]
    for mine, theirs in zip(got, expected, strict=True):
        assert [round(lp, 4) for lp, _ in mine] == [round(lp, 4) for lp, _ in theirs]


@pytest.mark.parametrize("variant", [{"use_rslora": True}, {"modules_to_save": ["lm_head"]}, {"use_dora": True},
                                     {"r": 64, "lora_alpha": 16}], ids=["rslora", "modules_to_save", "dora", "r64"])
def test_adapter_variants_pass_the_file_checks_and_answer(base_model, tmp_path, variant):
    """rsLoRA, a saved lm_head, DoRA and a large rank: checked from their files against the base, loaded, and
    answering differently from the base."""
    from harness.model.files import check_adapter_folder, check_model_folder

    model, _ = base_model.load()
    config = LoraConfig(**{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"],
                           "init_lora_weights": False, **variant})
    get_peft_model(model, config).save_pretrained(tmp_path / "adapter")
    check_adapter_folder(tmp_path / "adapter", check_model_folder(Path(base_model.path)))
    base, tuned = base_and_tuned(base_model, tmp_path / "adapter")
    examples = load_examples_for_scoring()
    assert [round(s, 3) for s, _ in tuned.loglikelihood(examples)] != [round(s, 3) for s, _ in
                                                                         base.loglikelihood(examples)]
