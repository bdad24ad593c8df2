"""bench/prompt_following.py: its lessons invent identities the data never use and are learned by copying, its
defaults write exactly the shipped lessons, and a base built with them keeps the tokenizer the plain corpus gives
(the lessons stay out of the tokenizer's data)."""

from __future__ import annotations

import importlib.util
import re
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
    written = tmp_path / "lessons.json"
    assert bench_module().main([str(tmp_path / "unbuilt"), "--write-lessons", str(written)]) == 0
    assert written.read_bytes() == (ROOT / "fixtures/builtin/prompt_lessons.json").read_bytes()
    assert not (tmp_path / "unbuilt").exists()  # written, nothing built
    shipped = builtin.load_builtin_corpus(ROOT / "fixtures").prompt_lessons
    assert len(shipped) == 4500 and all(ex.messages[0][0] == "system" for ex in shipped)


def _words(text):
    return {w.strip(".,!:") for w in text.split()}


def test_a_greeting_names_someone_the_answer_never_copies():
    bench = bench_module()
    greeting = re.compile("|".join(re.escape(g).replace(r"\{w\}", r"(\w+)") for g in bench.GREETINGS))
    lessons = bench.lessons(300, 0, {"en"}, denials=False, distractor_share=0.5)
    greeted = [(ex, next(n for n in match.groups() if n)) for ex in lessons
               if (match := greeting.match(ex.messages[1][1]))]
    assert 100 < len(greeted) < 200, len(greeted)  # about half
    for ex, other in greeted:
        assert other not in _words(ex.answer) or other in _words(ex.messages[0][1]), ex


def test_lessons_stay_out_of_the_tokenizer_and_change_the_weights(tmp_path):
    corpus = builtin.load_builtin_corpus(ROOT / "fixtures")
    builtin._build_into(tmp_path / "taught", corpus, TINY)
    builtin._build_into(tmp_path / "plain", replace(corpus, prompt_lessons=[]), TINY)
    assert (tmp_path / "plain/tokenizer.json").read_bytes() == (tmp_path / "taught/tokenizer.json").read_bytes()
    assert (tmp_path / "plain/model.safetensors").read_bytes() != (tmp_path / "taught/model.safetensors").read_bytes()
