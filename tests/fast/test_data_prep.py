"""Data preparation: conversion between alpaca, chat and completion records (JSON and JSONL) loses nothing, the
validation report finds blank fields, duplicates, leaks, cut and outlying examples, the split is deterministic and
stratified with a manifest that reproduces it, and the data gate FAILS on a leaked dev item and PASSES on the
built-in data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from harness.data import DataError, Example, load_examples
from harness.data.prep import dataset_report, record_of, stratified_split, write_records, write_split
from tests.conftest import ROOT, verdicts_of


def ex(id_, prompt, answer, **meta):
    return Example(id_, (("user", prompt),), answer, meta)


def test_records_convert_between_every_format_and_back(tmp_path):
    source = load_examples(ROOT / "fixtures/tasks/increment_1/dev.json")
    path = tmp_path / "a.json"
    write_records(path, [record_of(e, "alpaca") for e in source])
    for fmt, suffix in (("chat", ".jsonl"), ("completion", ".json"), ("alpaca", ".jsonl")):
        target = tmp_path / f"{fmt}{suffix}"
        write_records(target, [record_of(e, fmt) for e in load_examples(path)])
        path = target
    back = load_examples(path)
    assert [(e.id, e.messages, e.answer, e.meta) for e in back] == [(e.id, e.messages, e.answer, e.meta)
                                                                    for e in source]
    assert "prompt" in json.loads((tmp_path / "completion.json").read_text())[0]
    chat = Example("c1", (("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello"), ("user", "Who?")), "Me",
                   source="chat.json:3")
    assert record_of(chat, "alpaca")["history"] == [["Hi", "Hello"]] and record_of(chat, "alpaca")["system"]
    with pytest.raises(DataError, match=r"chat.json:3: a completion record holds one prompt; this record has 3 "
                                        r"turns and a system prompt"):
        record_of(chat, "completion")


def test_a_blank_completion_is_refused_naming_the_line(tmp_path):
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"prompt": "q", "completion": "a"}\n{"prompt": "q2", "completion": "  "}\n')
    with pytest.raises(DataError, match=r"c.jsonl:2: key 'completion' must be a non-empty string"):
        load_examples(bad)


def test_the_report_finds_duplicates_leaks_cut_and_outlying_examples():
    train = [ex("t1", "Who are you?", "Aurora"), ex("t2", "who are you", "aurora!"), ex("t3", "Capital?", "Rusa"),
             ex("t4", "Long", "x" * 400), *(ex(f"f{i}", f"q{i}", "ab") for i in range(8))]
    dev = [ex("d1", "WHO are you?", "Aurora"), ex("d2", "Unseen?", "no")]
    report = dataset_report("toy", train, dev, lengths=[5] * 11 + [200], max_length=100)
    assert report.exact_duplicates == [] and report.normalised_duplicates == [("t2", "t1")]
    assert report.leaks == [("d1", "t1")] and not report.recall_set
    assert report.over_max_length == ["f7"] and report.answer_outliers == ["t4"]
    recall = dataset_report("recall", train, [ex("t3", "Capital?", "Rusa")])
    assert recall.recall_set and recall.leaks == []  # a dev set drawn wholly from train measures recall


def test_the_split_is_stratified_deterministic_and_recorded(tmp_path):
    source = tmp_path / "all.json"
    records = [{"id": f"{cat}-{lang}-{i}", "instruction": f"q {lang} {i}", "output": "a", "category": cat, "lang": lang}
               for lang in ("en", "zh") for cat in ("facts", "math") for i in range(20)]
    source.write_text(json.dumps(records))
    first = write_split(source, tmp_path / "one", 0.25, seed=3)
    again = write_split(source, tmp_path / "two", 0.25, seed=3)
    assert first["dev"]["ids"] == again["dev"]["ids"] and first["train"]["sha256"] == again["train"]["sha256"]
    assert first["strata"] == {f"{c}/{lang}": {"train": 15, "dev": 5} for c in ("facts", "math")
                               for lang in ("en", "zh")}
    assert write_split(source, tmp_path / "three", 0.25, seed=4)["dev"]["ids"] != first["dev"]["ids"]
    assert first["source_sha256"] and len(load_examples(tmp_path / "one/dev.json")) == 20
    train, dev = stratified_split(load_examples(source), 0.25, 3)
    assert not {e.id for e in train} & {e.id for e in dev} and len(train) + len(dev) == 80


def test_the_command_converts_reports_and_splits(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "harness.data", *map(str, args)], capture_output=True, text=True,
                              cwd=ROOT, timeout=300)

    converted = run("convert", "fixtures/tasks/increment_1/train.json", tmp_path / "t.jsonl", "--to", "chat")
    assert converted.returncode == 0 and "120 chat records" in converted.stdout
    report = run("report", "fixtures/tasks/increment_1/train.json", "--dev", "fixtures/tasks/increment_1/dev.json",
                 "--base-model", "fixtures/builtin/model", "--max-length", "96")
    assert report.returncode == 0 and "recall sample" in report.stdout and "over max_length: 0" in report.stdout
    leaky = tmp_path / "dev.json"
    leaky.write_text(json.dumps([{"id": "new", "instruction": "Unseen?", "output": "x"},
                                 {"id": "moon-orbit-001", "instruction": "Which planet?", "output": "y"}]))
    failed = run("report", "fixtures/tasks/increment_1/train.json", "--dev", leaky)
    assert failed.returncode == 1 and "leaked from train (dev id, train id): 1 (moon-orbit-001=moon-orbit-001)" \
        in failed.stdout
    split = run("split", "fixtures/tasks/base/train.json", tmp_path / "split", "--dev-fraction", "0.1")
    assert split.returncode == 0 and (tmp_path / "split/split_manifest.json").is_file()
    assert run("report", tmp_path / "missing.json").returncode == 2


def test_the_data_gate_fails_on_a_leaked_dev_item_and_passes_on_clean_data(tunegate):
    train = [ex(f"t{i}", f"question {i}", "a") for i in range(40)]
    clean = dataset_report("clean", train, [ex("d1", "held out", "a")])
    verdicts = verdicts_of(tunegate, "data", None, [clean])
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]
    leaked = dataset_report("leaky", train, [ex("d1", "held out", "a"), ex("d2", "Question 7?", "a")])
    verdicts = verdicts_of(tunegate, "data", None, [clean, leaked])
    assert not verdicts["data.dev_leaks"].passed and "leaky: dev d2 = train t7" in verdicts["data.dev_leaks"].message
    duplicated = dataset_report("dups", [*train, *(ex(f"x{i}", f"question {i}", "A") for i in range(5))])
    assert not verdicts_of(tunegate, "data", None, [duplicated])["data.duplicate_rate"].passed  # 5 / 45 > 0.05
    cut = dataset_report("cut", train, lengths=[10] * 36 + [200] * 4, max_length=96)  # 4 / 40 over max_length
    verdict = verdicts_of(tunegate, "data", None, [clean, cut])["data.over_max_length"]
    assert not verdict.passed and verdict.value == 0.1 and "cut: t36" in verdict.message
    recall = dataset_report("increment_1", train, [ex("d1", "Question 3?", "a")])  # every dev prompt is trained
    verdict = verdicts_of(tunegate, "data", None, [clean, recall])["data.dev_leaks"]
    assert verdict.passed and verdict.note.startswith("increment_1: every dev prompt is also a training prompt")
    assert verdicts_of(tunegate, "data", None, [clean])["data.dev_leaks"].note is None
