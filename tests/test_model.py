"""Built-in model determinism and caching, recipe validation, adapter fit checks and safe loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file

import harness.training.builtin as builtin
from harness.foundation.errors import ModelFolderError
from harness.model.files import UnsafeWeightsError
from harness.model.loading import (
    AdapterMismatchError,
    BaseModel,
    attach_adapter,
    check_adapter_fits,
    model_digest,
)
from harness.model.prompts import prompt_ids
from harness.model.requests import RequestCache
from harness.model.views import base_and_tuned
from harness.training.builtin import BuiltinRecipe, build_builtin_model
from harness.training.recipe import LoraRecipe
from tests.conftest import ROOT, copy_adapter

TINY = BuiltinRecipe(steps=3, batch_size=8)


def test_builtin_build_is_bit_identical_and_cached(tmp_path, project_root, monkeypatch):
    fixtures = project_root / "fixtures"
    first = build_builtin_model(fixtures, tmp_path / "a", TINY)
    second = build_builtin_model(fixtures, tmp_path / "b", TINY)
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert (first / "tokenizer.json").read_bytes() == (second / "tokenizer.json").read_bytes()
    monkeypatch.setattr(builtin, "_build_into", lambda *a: pytest.fail("cached model was rebuilt"))
    assert build_builtin_model(fixtures, tmp_path / "a", TINY) == first


def test_shipped_model_matches_its_digests_and_its_data(project_root, tmp_path):
    """fixtures/builtin/model/ is what every machine evaluates: it loads, every file matches SHA256SUMS, it was
    built from today's data and recipe (else: python -m harness.training.builtin --rebuild), and a modified file
    is refused with the file named."""
    import shutil

    from transformers import AutoModelForCausalLM

    fixtures = project_root / "fixtures"
    shipped = fixtures / builtin.SHIPPED
    builtin.verify_shipped_model(shipped)
    assert builtin.builtin_model_folder(fixtures, tmp_path / "cache") == shipped and not (tmp_path / "cache").exists()
    listed = {line.split("  ")[1] for line in (shipped / builtin.MANIFEST).read_text().splitlines()}
    assert {"model.safetensors", "tokenizer.json", "config.json", "build_info.json"} <= listed
    info = json.loads((shipped / builtin.BUILD_INFO).read_text())
    assert {"recipe": info["recipe"], "data": info["data"]} == builtin.shipped_build_key(fixtures), \
        "the shipped model is stale: run python -m harness.training.builtin --rebuild"
    assert AutoModelForCausalLM.from_pretrained(shipped).num_parameters() == info["parameters"]
    tampered = shutil.copytree(shipped, tmp_path / "tampered")
    (tampered / "config.json").write_text((tampered / "config.json").read_text() + " ")
    with pytest.raises(builtin.ShippedModelError, match=r"tampered/config\.json: SHA-256 differs"):
        builtin.verify_shipped_model(tampered)


def test_the_built_in_model_is_keyed_on_the_identity_names_it_was_trained_with_not_the_whole_config(tmp_path,
                                                                                                  project_root):
    """Editing the identity's prompt baseline (or its other vendors) leaves the shipped model current; renaming the
    base identity it was pretrained to claim makes it stale."""
    import shutil

    shutil.copytree(project_root / "fixtures/identity", tmp_path / "identity")
    for name in builtin.BUILT_FROM[:-1]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(project_root / "fixtures" / name, tmp_path / name)
    config = tmp_path / builtin.IDENTITY_CONFIG
    shipped_key = builtin.shipped_build_key(project_root / "fixtures")
    assert builtin.shipped_build_key(tmp_path) == shipped_key
    config.write_text(config.read_text().replace("\n[base]", '\nprompt_shots = 2\nsystem_prompt = "Be {{NAME}}."'
                                                 '\n[base]', 1).replace('names = [', 'names = ["Zephyr", ', 1))
    assert builtin.shipped_build_key(tmp_path) == shipped_key
    config.write_text(config.read_text().replace('name = "Atlas"', 'name = "Apex"', 1))
    assert builtin.shipped_build_key(tmp_path) != shipped_key


def test_rebuild_writes_a_verified_shipped_model(tmp_path, project_root, monkeypatch):
    """`--rebuild` replaces fixtures/builtin/model/ (here: in a copy of the data folder, 3 steps) with a folder
    that passes its own digest check and is bit-identical when rebuilt."""
    import shutil

    fixtures = shutil.copytree(project_root / "fixtures", tmp_path / "fixtures",
                               ignore=shutil.ignore_patterns("model"))
    monkeypatch.setattr(builtin, "BuiltinRecipe", lambda: TINY)
    assert builtin.main(["--rebuild", "--data-dir", str(fixtures)]) == 0
    folder = fixtures / builtin.SHIPPED
    builtin.verify_shipped_model(folder)
    first = (folder / builtin.MANIFEST).read_bytes()
    builtin.rebuild_shipped_model(fixtures, TINY)
    assert (folder / builtin.MANIFEST).read_bytes() == first


def test_builtin_cache_key_tracks_recipe_and_data(project_root):
    fixtures = project_root / "fixtures"
    assert builtin.builtin_cache_key(fixtures, TINY) != builtin.builtin_cache_key(fixtures, BuiltinRecipe(steps=4))
    assert builtin.builtin_cache_key(fixtures, TINY) == builtin.builtin_cache_key(fixtures, BuiltinRecipe(steps=3,
                                                                                                       batch_size=8))


def test_builtin_model_loads_with_plain_transformers(base_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base_model.path)
    tokenizer = AutoTokenizer.from_pretrained(base_model.path)
    assert model.config.model_type == "llama" and tokenizer.eos_token == "<|end|>"
    assert len(tokenizer("青石国的首都")["input_ids"]) == 6  # one token per CJK character


@pytest.mark.parametrize(("values", "fragment"), [
    ({"r": 0}, "LoraRecipe.r must be >= 1"),
    ({"dropout": 1.5}, "LoraRecipe.dropout must be in"),
    ({"replay_ratio": 1.0}, "LoraRecipe.replay_ratio"),
    ({"early_stopping_patience": 2}, "needs eval_every"),
    ({"rank": 8}, "unknown LoraRecipe key(s) ['rank']"),
])
def test_recipe_validation_names_the_key(values, fragment):
    with pytest.raises(ValueError) as err:
        LoraRecipe.from_mapping(values, where="recipes.toml [x]")
    assert fragment in str(err.value)


def test_recipe_defaults_follow_common_practice():
    recipe = LoraRecipe()
    assert (recipe.r, recipe.alpha, recipe.target_modules) == (8, 32, "all-linear")


def _plain_adapter(base_model, out, target_modules=("q_proj", "v_proj")):
    model, _ = base_model.load()
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=list(target_modules)))
    peft_model.save_pretrained(out)
    return out


def test_adapter_with_wrong_shapes_is_a_clear_error(base_model, tmp_path):
    folder = _plain_adapter(base_model, tmp_path / "a")
    tensors = load_file(folder / "adapter_model.safetensors")
    key = next(k for k in tensors if "lora_A" in k)
    tensors[key] = torch.zeros(4, 64)
    save_file(tensors, folder / "adapter_model.safetensors")
    model, _ = base_model.load()
    with pytest.raises(AdapterMismatchError, match=r"has shape \[4, 64\] but base layer .* takes 128 input"):
        check_adapter_fits(model, folder)


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


def test_base_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFolderError, match="not a model folder"):
        BaseModel.at(tmp_path)


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


def test_external_trainer_state_log_is_read(tmp_path):
    from harness.evaluators.checkpoints import external_training_log

    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": [
        {"step": 10, "loss": 1.5, "learning_rate": 1e-4}, {"step": 20, "eval_loss": 1.2}, {"train_runtime": 3}]}))
    assert external_training_log(tmp_path / "checkpoint-20") == {
        "log": [{"step": 10, "loss": 1.5}, {"step": 20, "eval_loss": 1.2}],
        "source": str(tmp_path / "trainer_state.json")}


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
    with pytest.raises(AdapterMismatchError, match=r"has shape \[4, 64\]"):
        tuned.generate([(("user", "Who are you?"),)], max_new_tokens=2)


def _template_less_copy(tmp_path) -> Path:
    """The shipped built-in model without its chat template (as a GPT-2 style base ships)."""
    folder = tmp_path / "plain-model"
    shutil.copytree(ROOT / "fixtures/builtin/model", folder)
    (folder / "chat_template.jinja").unlink()
    return folder


def test_a_base_without_a_chat_template_is_prompted_in_the_plain_format(tmp_path):
    base = BaseModel.at(_template_less_copy(tmp_path))
    tokenizer = base.load_tokenizer()
    text = tokenizer.decode(prompt_ids(tokenizer, [("system", "Be brief."), ("user", "Capital of Velmaria?")]))
    assert text == "Be brief.\n\nQuestion: Capital of Velmaria?\nAnswer:"
    with pytest.raises(ModelFolderError, match="--prompt-format chat: the tokenizer has no chat template"):
        BaseModel.at(base.path, prompt_format="chat").load_tokenizer()


def test_the_prompt_format_is_part_of_the_model_digest(tmp_path):
    folder = ROOT / "fixtures/builtin/model"
    template = tmp_path / "mine.jinja"
    template.write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    digests = {BaseModel.at(folder, prompt_format=f).digest for f in ("auto", "plain", str(template))}
    assert len(digests) == 3  # each format answers differently
    assert BaseModel.at(folder, prompt_format="chat").digest == BaseModel.at(folder).digest  # the folder's own


def test_the_model_digest_covers_what_answers_depend_on_and_nothing_else(tmp_path):
    """Build metadata does not change the digest (the same bits built twice are one model); the chat template,
    the tokenizer and the config do."""
    folder = tmp_path / "model"
    shutil.copytree(ROOT / "fixtures/builtin/model", folder)
    digest = model_digest(folder)
    (folder / "build_info.json").write_text('{"built": "another time"}')
    (folder / "SHA256SUMS").write_text("changed\n")
    assert model_digest(folder) == digest
    for name in ("chat_template.jinja", "tokenizer.json", "config.json"):
        (folder / name).write_text((folder / name).read_text() + " ")
        assert model_digest(folder) != digest, name
        digest = model_digest(folder)


def test_generation_stops_at_the_chat_templates_end_of_turn_token():
    """A Qwen-style template ends turns with <|im_end|>: generation stops there as well as at eos."""
    from harness.model.prompts import stop_token_ids

    tokenizer = BaseModel.at(ROOT / "fixtures/builtin/model").load_tokenizer()
    assert stop_token_ids(tokenizer) == [tokenizer.eos_token_id]  # the built-in template ends turns with eos
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_end|>"]})
    tokenizer.chat_template = "{% for m in messages %}<|im_start|>{{ m['content'] }}<|im_end|>{% endfor %}"
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert stop_token_ids(tokenizer) == sorted({tokenizer.eos_token_id, im_end})
    assert stop_token_ids(tokenizer, type("Config", (), {"eos_token_id": [7, 9]})()) == sorted(
        {tokenizer.eos_token_id, im_end, 7, 9})


def test_the_views_answer_in_the_runs_batch_size_and_answer_length():
    """--batch-size and --max-new-tokens reach every view of a base (through `BaseModel`)."""
    from harness.model.views import plain_base

    view = plain_base(BaseModel.at(ROOT / "fixtures/builtin/model", batch_size=3, max_new_tokens=2))
    assert (view.batch_size, view.max_new_tokens) == (3, 2)
    answers = view.generate([[("user", f"What is the capital of Velmaria? ({i})")] for i in range(5)])
    assert len(answers) == 5 and all(len(view.tokenizer(a, add_special_tokens=False)["input_ids"]) <= 2
                                     for a in answers)


def test_batch_size_auto_starts_where_the_device_allows_and_a_number_is_kept():
    from harness.model.loading import resolve_batch_size

    assert (resolve_batch_size("auto", "cpu"), resolve_batch_size("auto", "cuda")) == (64, 256)
    assert resolve_batch_size(8, "cuda") == 8


def test_a_device_map_spreads_the_model_and_it_answers_as_one_device_does():
    """--device-map auto (accelerate's dispatch; here, without GPUs, everything stays in CPU memory): the same
    greedy answers and scores as a plain load."""
    from harness.model.views import plain_base

    prompts = [[("user", "What is the capital of Velmaria?")], [("user", "Who are you?")]]
    plain = plain_base(BaseModel.at(ROOT / "fixtures/builtin/model"))
    mapped = plain_base(BaseModel.at(ROOT / "fixtures/builtin/model", device_map="auto"))
    assert {p.device.type for p in mapped.model.parameters()} == {"cpu"}
    assert mapped.generate(prompts) == plain.generate(prompts)
    examples = load_examples_for_scoring()
    mapped_scores, plain_scores = mapped.loglikelihood(examples), plain.loglikelihood(examples)
    assert [n for _, n in mapped_scores] == [n for _, n in plain_scores]
    assert [lp for lp, _ in mapped_scores] == pytest.approx([lp for lp, _ in plain_scores], rel=1e-6)


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
    _, tuned, shadow = base_tuned_and_shadow(base_model, adapter_under_test, halved)
    got = [shadow.loglikelihood(examples), tuned.loglikelihood(examples)][::-1]
    assert len(loads) == 1 and got[0] != got[1]
    for mine, theirs in zip(got, expected, strict=True):
        assert [round(lp, 4) for lp, _ in mine] == [round(lp, 4) for lp, _ in theirs]


def load_examples_for_scoring():
    from harness.data import load_examples

    return load_examples(ROOT / "fixtures/tasks/base/dev.json")[:6]


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


def test_a_gpt2_adapter_on_conv1d_layers_passes_the_file_checks_and_a_wrong_size_is_still_named(tmp_path):
    """GPT-2's Conv1D stores its weight (in, out): adapters peft wrote for it (the first marked fan_in_fan_out, one
    added with add_adapter not) fit their base, one written for a wider GPT-2 is refused naming the layer."""
    from transformers import AutoModelForCausalLM

    from harness.model.files import ModelFolderError, check_adapter_folder, check_model_folder
    from tests.families import build_family

    base = build_family("gpt2", tmp_path / "gpt2")
    config = LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    both = get_peft_model(AutoModelForCausalLM.from_pretrained(base), config)
    both.add_adapter("second", LoraConfig(r=4, target_modules="all-linear"))  # saved without fan_in_fan_out
    both.save_pretrained(tmp_path / "adapter", selected_adapters=["default", "second"])
    for folder in (tmp_path / "adapter", tmp_path / "adapter" / "second"):
        check_adapter_folder(folder, check_model_folder(base))
    narrow = AutoModelForCausalLM.from_pretrained(base).config
    wide = AutoModelForCausalLM.from_config(type(narrow)(n_embd=128, n_layer=2, n_head=4, n_positions=256,
                                                         vocab_size=narrow.vocab_size))
    get_peft_model(wide, LoraConfig(r=4, target_modules="all-linear")).save_pretrained(tmp_path / "wide")
    with pytest.raises(ModelFolderError, match=r"base layer 'transformer\.h\.0\.attn\.c_attn' takes 64 input"):
        check_adapter_folder(tmp_path / "wide", check_model_folder(base))


def test_a_batch_that_runs_out_of_memory_is_halved_and_retried(monkeypatch):
    """An out-of-memory batch (injected: any batch over 2 sequences) is halved until it fits; the answers and
    scores are those of an unconstrained run, and the smaller size is kept."""
    from harness.model.views import plain_base

    base = BaseModel.at(ROOT / "fixtures/builtin/model", batch_size=8, max_new_tokens=6)
    prompts = [[("user", f"What is the capital of Velmaria? ({i})")] for i in range(7)]
    examples = load_examples_for_scoring()
    free = plain_base(base).inner  # the backend itself: the cache around it would answer the second run
    expected = (free.generate(prompts), free.loglikelihood(examples), free.text_loglikelihood(["Velmar is a city."]))
    tight = plain_base(base).inner
    for name in ("_generate_batch", "_scored_logprobs"):
        real = getattr(tight, name)

        def fits(batch, *args, real=real):
            if len(batch) > 2:
                raise torch.OutOfMemoryError("injected")
            return real(batch, *args)
        monkeypatch.setattr(tight, name, fits)
    got = (tight.generate(prompts), tight.loglikelihood(examples), tight.text_loglikelihood(["Velmar is a city."]))
    assert got[0] == expected[0] and tight.fitting_batch_size == 2 and tight.batch_size == 8
    assert [round(s, 4) for s, _ in got[1]] == [round(s, 4) for s, _ in expected[1]]
    assert round(got[2][0][0], 4) == round(expected[2][0][0], 4)
