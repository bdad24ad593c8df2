"""The shipped built-in model from its files (no model fixture, no training): digests and build key, recipe
validation, prompt formats and the model digest, batch sizes, a device map, out-of-memory halving, and GPT-2 adapter
file checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

import harness.training.builtin as builtin
from harness.foundation.errors import ModelFolderError
from harness.model.loading import (
    BaseModel,
    model_digest,
)
from harness.model.prompts import prompt_ids
from harness.training.builtin import BuiltinRecipe
from harness.training.recipe import LoraRecipe
from tests.builtin_model import TINY, load_examples_for_scoring
from tests.conftest import ROOT


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
    base identity it was pretrained to claim, or dropping its optional prompt lessons, makes it stale."""
    import shutil

    shutil.copytree(project_root / "fixtures/identity", tmp_path / "identity")
    for name in builtin.BUILT_FROM[:-1] + builtin.OPTIONAL_BUILT_FROM:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(project_root / "fixtures" / name, tmp_path / name)
    config = tmp_path / builtin.IDENTITY_CONFIG
    shipped_key = builtin.shipped_build_key(project_root / "fixtures")
    assert builtin.shipped_build_key(tmp_path) == shipped_key
    config.write_text(config.read_text().replace("\n[base]", '\nprompt_shots = 2\nsystem_prompt = "Be {{NAME}}."'
                                                 '\n[base]', 1).replace('names = [', 'names = ["Zephyr", ', 1))
    assert builtin.shipped_build_key(tmp_path) == shipped_key
    (tmp_path / builtin.OPTIONAL_BUILT_FROM[0]).unlink()
    assert builtin.shipped_build_key(tmp_path) != shipped_key
    assert builtin.load_builtin_corpus(tmp_path).prompt_lessons == []  # a folder without lessons builds without
    shutil.copy(project_root / "fixtures" / builtin.OPTIONAL_BUILT_FROM[0], tmp_path / builtin.OPTIONAL_BUILT_FROM[0])
    assert builtin.shipped_build_key(tmp_path) == shipped_key
    config.write_text(config.read_text().replace('name = "Atlas"', 'name = "Apex"', 1))
    assert builtin.shipped_build_key(tmp_path) != shipped_key


def test_builtin_cache_key_tracks_recipe_and_data(project_root):
    fixtures = project_root / "fixtures"
    assert builtin.builtin_cache_key(fixtures, TINY) != builtin.builtin_cache_key(fixtures, BuiltinRecipe(steps=4))
    assert builtin.builtin_cache_key(fixtures, TINY) == builtin.builtin_cache_key(fixtures, BuiltinRecipe(steps=3,
                                                                                                       batch_size=8))


@pytest.mark.parametrize(("values", "fragment"), [
    ({"r": 0}, "recipes.toml [x]: key 'r' must be a whole number >= 1, got 0"),
    ({"dropout": 1.5}, "recipes.toml [x]: key 'dropout' must be a number in [0, 1)"),
    ({"replay_ratio": 1.0}, "recipes.toml [x]: key 'replay_ratio'"),
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


def test_base_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFolderError, match="not a model folder"):
        BaseModel.at(tmp_path)


def test_external_trainer_state_log_is_read(tmp_path):
    from harness.evaluators.checkpoints import external_training_log

    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": [
        {"step": 10, "loss": 1.5, "learning_rate": 1e-4}, {"step": 20, "eval_loss": 1.2}, {"train_runtime": 3}]}))
    assert external_training_log(tmp_path / "checkpoint-20") == {
        "log": [{"step": 10, "loss": 1.5}, {"step": 20, "eval_loss": 1.2}],
        "source": str(tmp_path / "trainer_state.json")}


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
