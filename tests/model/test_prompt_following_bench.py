"""bench/prompt_following.py: its lessons invent identities the data never use and are learned by copying, and a
candidate base built with them keeps the shipped tokenizer (the lessons stay out of the tokenizer's data)."""

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


def test_lessons_stay_out_of_the_tokenizer_and_no_lessons_build_the_shipped_corpus_unchanged(tmp_path):
    bench = bench_module()
    corpus = builtin.load_builtin_corpus(ROOT / "fixtures")
    builtin._build_into(tmp_path / "plain", corpus, TINY)
    bench_corpus = replace(corpus, system_prompted=bench.lessons(40, 10, {"en"}, denials=False))
    builtin._build_into(tmp_path / "taught", bench_corpus, TINY)
    assert (tmp_path / "plain/tokenizer.json").read_bytes() == (tmp_path / "taught/tokenizer.json").read_bytes()
    assert (tmp_path / "plain/model.safetensors").read_bytes() != (tmp_path / "taught/model.safetensors").read_bytes()
    builtin._build_into(tmp_path / "none", replace(corpus, system_prompted=[]), TINY)
    assert (tmp_path / "plain/model.safetensors").read_bytes() == (tmp_path / "none/model.safetensors").read_bytes()
