"""bench/prompt_following.py: its lessons invent identities the data never use and are learned by copying, its
defaults write exactly the shipped lessons, and a base built with them keeps the tokenizer the plain corpus gives
(the lessons stay out of the tokenizer's data)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

from harness.training import builtin
from tests.builtin_model import TINY
from tests.conftest import ROOT


def bench_module():
    spec = importlib.util.spec_from_file_location("prompt_following", ROOT / "bench/prompt_following.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lessons_copy_an_invented_identity_and_keep_the_base_answers():
    bench = bench_module()
    lessons = bench.lessons(200, 50, {"en"}, denials=False)
    assert lessons == bench.lessons(200, 50, {"en"}, denials=False)  # one fixed stream: a candidate is rebuilt
    copied, asked = lessons[:200], lessons[200:]
    for ex in copied:
        system = ex.messages[0][1]
        name = system.removeprefix("You are ").removeprefix("Your name is ").split(",")[0].split(".")[0]
        assert name in ex.answer and ex.answer.isascii() and not ex.answer.startswith("No."), ex
        assert not {"Aurora", "Kestrel", "Atlas", "Northwind", "Claude"} & {w.strip(".,") for w in system.split()}
    base = {ex.messages: ex.answer for ex in builtin.load_builtin_corpus(ROOT / "fixtures").examples}
    assert all(base[ex.messages[1:]] == ex.answer for ex in asked)
    assert len({ex.messages[0][1] for ex in lessons}) > 240  # a new identity in (almost) every lesson


def test_the_bench_defaults_write_exactly_the_shipped_lessons(tmp_path):
    bench = bench_module()
    written = tmp_path / "lessons.json"
    bench.write_lessons(bench.lessons(3000, 1500, {"en"}, denials=False, distractors=0.5), written)
    assert written.read_bytes() == (ROOT / "fixtures/builtin/prompt_lessons.json").read_bytes()
    shipped = builtin.load_builtin_corpus(ROOT / "fixtures").system_prompted
    assert len(shipped) == 4500 and all(ex.messages[0][0] == "system" for ex in shipped)


def test_lessons_stay_out_of_the_tokenizer_and_change_the_weights(tmp_path):
    corpus = builtin.load_builtin_corpus(ROOT / "fixtures")
    builtin._build_into(tmp_path / "taught", corpus, TINY)
    builtin._build_into(tmp_path / "plain", replace(corpus, system_prompted=[]), TINY)
    assert (tmp_path / "plain/tokenizer.json").read_bytes() == (tmp_path / "taught/tokenizer.json").read_bytes()
    assert (tmp_path / "plain/model.safetensors").read_bytes() != (tmp_path / "taught/model.safetensors").read_bytes()
