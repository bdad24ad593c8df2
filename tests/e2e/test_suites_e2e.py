"""`pytest suites/` end to end, as users run it: exit codes, terminal summary, JUnit, results.json."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
import torch
from peft import LoraConfig, get_peft_model

from harness.data import load_examples
from tests.conftest import ROOT, copy_adapter, plant_adapter
from tests.suite_capabilities import CAPABILITIES


def results_of(report_dir):
    return json.loads((report_dir / "latest" / "results.json").read_text())


ACCURACY_LIKE = ("exact_match", "accuracy[", "token_f1", "claim_rate", "leak_rate", "unchanged", "rouge_l", "chrf",
                 "bleu", "agreement", "loglik_shift", "throughput_ratio", "ttft_ratio", "heldout_ratio",
                 "answers_ratio")


def test_healthy_run_passes_every_suite_and_writes_report(run_suites):
    result, report_dir = run_suites()
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*tunegate gates*", "identity.leak_rate*<= 0*PASS",
                                 "* of * verdicts passed (on * gates: *); * gates wait for --baseline"])
    summary = next(line for line in result.stdout.lines if "verdicts passed" in line)
    data = results_of(report_dir)
    gates, skipped = len(data["gates"]), len(data["run"]["not_evaluated"])
    judged = len({g["id"].split("[")[0] for g in data["gates"]})
    assert summary == (f"{gates} of {gates} verdicts passed (on {judged} gates: the audit gives one verdict per "
                       f"checkpoint); {skipped} [baseline]/[drift] gates wait for --baseline"), summary
    configured = len(data["run"]["config"]["gates"]) - skipped  # only [baseline] and [drift] wait for --baseline
    assert result.stdout.lines[-2] == f"tunegate PASS: {configured} of {configured} configured gates judged"
    unevaluated = {e["id"] for e in data["run"]["not_evaluated"]}
    for gate in set(data["run"]["config"]["gates"]) - unevaluated:  # every other configured gate gave verdicts
        assert any(g["id"] == gate or g["id"].startswith(f"{gate}[") for g in data["gates"]), gate
    assert {"schema_version", "run", "metrics", "gates", "samples"} <= set(data)
    assert data["run"]["status"] == "passed" and str(ROOT / "suites") in data["run"]["command"]
    assert set(data["run"]["timings"]["capabilities_s"]) >= set(CAPABILITIES) - {"audit", "shadow"}
    assert data["run"]["adapters"]["identity"]["sha256"] and data["run"]["base_model"]["sha256"]
    assert data["run"]["adapters"]["new_task"]["sha256"] and data["run"]["request_cache"]["hits"] > 0
    assert all(g["passed"] for g in data["gates"]) and len(data["samples"]) >= 90
    prompted = ("identity", "new_task", "old_task", "perplexity", "generation", "latency")
    for capability in CAPABILITIES:
        checkpoints = {m["checkpoint"] for m in data["metrics"] if m["capability"] == capability}
        expected = {"forgetting": {"naive", "tuned"}, "training": {"tuned"}, "data": {"tuned"},
                    **{key: {"base", "tuned", "prompted"} for key in prompted}}.get(capability, {"base", "tuned"})
        assert checkpoints == expected, capability  # side by side: base and tuned (naive vs replay sequence)
    for m in data["metrics"]:
        if any(word in m["name"] for word in ACCURACY_LIKE):
            assert m["ci_low"] is not None and m["ci_high"] is not None and m["n"], m
    html = (report_dir / "latest" / "report.html").read_text()
    assert "<svg" in html and "all items of identity" in html and "src=\"http" not in html
    ids = re.findall(r"""\sid=['"]([^'"]+)['"]""", html)
    assert len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1]  # every link has one target
    assert all(f"<h2 id='{c}'>" in html for c in CAPABILITIES) and "base [95% CI]" in html
    assert "strategy comparison" in html and "naive: exact match R[stage][task]" in html
    assert set(data["run"]["sequences"]) == {"replay", "naive"}
    compared = data["run"]["compared"]  # what "tuned" is, per capability: suites grade different adapters
    assert compared["identity"] == compared["old_task"] == {
        "base": "the base model", "tuned": "adapter identity",
        "prompted": "the base model told in its prompt what the adapter learned"}
    em = {m["checkpoint"]: m["value"] for m in data["metrics"]
          if m["capability"] == "old_task" and m["name"] == "exact_match"}
    assert 0.6 < em["prompted"] < em["base"]  # the built-in base follows a system prompt, at some cost to its old task
    assert compared["new_task"]["tuned"] == "adapter new_task (same weights as replay-increment_2)"
    assert compared["new_task"]["prompted"] == "the base model told in its prompt what the adapter learned"
    assert "base = the base model &middot; tuned = adapter new_task (same weights as replay-increment_2)" in html


def test_a_second_run_reuses_stored_answers_and_gets_the_same_verdicts(run_suites):
    runs = {}
    for label, options in (("first", ()), ("second", ()), ("recomputed", ("--no-answer-cache",))):
        result, report_dir = run_suites("-m", "old_task", *options)
        assert result.ret == 0, result.stdout.str()[-2000:]
        runs[label] = results_of(report_dir)
    second, recomputed = runs["second"]["run"]["request_cache"], runs["recomputed"]["run"]["request_cache"]
    assert second["misses"] == 0 and second["from_earlier_runs"] > 0  # every answer was stored by the first run
    assert recomputed["misses"] > 0 and recomputed["from_earlier_runs"] == 0
    values = {label: [(g["id"], g["value"], g["ci_low"], g["ci_high"]) for g in run["gates"]]
              for label, run in runs.items()}
    assert values["first"] == values["second"] == values["recomputed"]


def test_a_request_cache_file_makes_a_rerun_after_a_gate_change_compute_nothing(run_suites, tmp_path):
    """--request-cache: the first run stores every answer in one SQLite file; a second run with stricter gates
    computes none of them and judges the same values against the new thresholds."""
    database = tmp_path / "requests.sqlite"
    first, report_dir = run_suites("-m", "old_task", "--request-cache", str(database))
    assert first.ret == 0, first.stdout.str()[-2000:]
    before = results_of(report_dir)
    strict = tmp_path / "strict.toml"
    strict.write_text((ROOT / "fixtures/gates.toml").read_text().replace(
        'exact_match = ">= 0.85"', 'exact_match = ">= 0.999"'))
    second, report_dir = run_suites("-m", "old_task", "--request-cache", str(database), "--gates", str(strict))
    after = results_of(report_dir)
    assert after["run"]["request_cache"]["misses"] == 0 and after["run"]["request_cache"]["from_earlier_runs"] > 0
    assert before["run"]["request_cache"]["misses"] > 0
    assert [(g["id"], g["value"]) for g in before["gates"]] == [(g["id"], g["value"]) for g in after["gates"]]
    assert second.ret == 1 and any(g["threshold"] == 0.999 and not g["passed"] for g in after["gates"])


def test_planted_dead_adapter_fails_with_named_probe_value_threshold(run_suites, adapter_under_test, tmp_path,
                                                                     monkeypatch):
    dead = plant_adapter(adapter_under_test, tmp_path / "dead", lambda b: b * 0)
    junit = tmp_path / "junit.xml"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step_summary.md"))
    result, report_dir = run_suites("--adapter", str(dead), f"--junitxml={junit}", "-m",
                                    "identity or adapter_health")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAIL identity.held_out_claim_rate = 0* required >= 0.75; decided by *; failing*",
                                 "*identity.leak_rate*FAIL"])
    result.stdout.fnmatch_lines(["*adapter_health.dead_layers*FAIL", "*adapter_health.loglik_shift*FAIL"])
    assert result.parseoutcomes()["xfailed"] > 300  # no identity gate allows no misses: each probe is counted
    gate_cases = {c.get("name"): c for c in ET.parse(junit).iter("testcase")
                  if c.get("name").startswith("test_gate[identity.")}
    assert set(gate_cases) == {f"test_gate[identity.{m}]" for m in ("held_in_exact_match", "held_out_claim_rate",
                                                                     "leak_rate", "locality_unchanged",
                                                                     "claim_gain_over_prompted")}
    assert gate_cases["test_gate[identity.leak_rate]"].find("failure") is not None
    assert gate_cases["test_gate[identity.claim_gain_over_prompted]"].find("failure") is not None  # dead: no gain
    assert gate_cases["test_gate[identity.locality_unchanged]"].find("failure") is None
    data = results_of(report_dir)
    assert data["run"]["adapters"]["dead"]["path"] == str(dead) and data["run"]["status"] == "failed"
    assert data["run"]["adapters"]["dead"]["roles"] == ["identity"]  # named by its folder, not a role
    assert not next(g for g in data["gates"] if g["id"] == "identity.held_in_exact_match")["passed"]
    summary = (report_dir / "latest" / "summary.md").read_text()
    failed = summary[summary.index("### Failed gates"):summary.index("<details>")]
    assert "`identity.leak_rate`" in failed and "`adapter_health.dead_layers`" in failed
    assert "identity.locality_unchanged" not in failed  # a passing gate is listed under "every gate" only
    assert (tmp_path / "step_summary.md").read_text() == summary  # appended once


def _train_with_plain_peft(base_model, identity_spec, fixtures, out):
    """An identity adapter written by plain transformers + peft code, not by the harness."""
    model, tokenizer = base_model.load()
    torch.manual_seed(0)  # the LoRA init too: otherwise it depends on what the session ran before this test
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=32, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    examples = load_examples(fixtures / "identity/self_cognition.json", identity_spec.variables)
    rows = []
    for ex in examples:
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": ex.prompt_text}],
                                               add_generation_prompt=True, tokenize=True)["input_ids"]
        answer = tokenizer(ex.answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append((prompt + answer, [-100] * len(prompt) + answer))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    model.train()
    for step in range(150):
        batch = [rows[(step * 16 + i) % len(rows)] for i in range(16)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.tensor([i + [tokenizer.pad_token_id] * (width - len(i)) for i, _ in batch])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
        model(input_ids=ids, attention_mask=(labels != -100) | (ids != tokenizer.pad_token_id), labels=labels
              ).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    return out


def test_adapter_written_by_plain_peft_is_evaluated(run_suites, base_model, identity_spec, tunegate, tmp_path):
    adapter = _train_with_plain_peft(base_model, identity_spec, tunegate.settings.fixtures, tmp_path / "plain")
    result, report_dir = run_suites("--adapter", str(adapter), "-m", "identity")
    data = results_of(report_dir)
    assert result.ret == (0 if all(g["passed"] for g in data["gates"]) else 1), result.stdout.str()[-3000:]
    metrics = {m["name"]: m["value"] for m in data["metrics"] if m["checkpoint"] == "tuned"}
    assert metrics["held_in_exact_match"] >= 0.9 and metrics["leak_rate"] == 0.0
    assert data["run"]["config"]["adapter"] == str(adapter)


def test_external_checkpoint_is_evaluated_without_any_training(run_suites, base_model, adapter_under_test, tmp_path):
    checkpoint = copy_adapter(adapter_under_test, tmp_path / "run" / "checkpoint-300")  # a Trainer-style folder
    cache = tmp_path / "empty-cache"
    result, report_dir = run_suites("--base-model", base_model.path, "--adapter", str(checkpoint), "--cache-dir",
                                    str(cache))
    assert not list(cache.glob("adapter-*")) and not list(cache.glob("builtin-*"))  # nothing trained or built
    data = results_of(report_dir)
    failed = {g["capability"] for g in data["gates"] if not g["passed"]}
    assert result.ret == 1 and failed == {"new_task"}, result.stdout.str()[-2000:]  # an identity adapter: graded
    # on the new task too (the data folder has one), which it never learned; everything else passes
    assert data["run"]["graded_by"]["rule"].startswith("by default") and \
        "new_task" in data["run"]["graded_by"]["capabilities"]
    assert data["run"]["adapters"]["checkpoint-300"]["path"] == str(checkpoint)
    assert f"judged: adapter checkpoint-300 at {checkpoint}" in result.stdout.str()
    assert {g["capability"] for g in data["gates"]} >= {"identity", "old_task", "perplexity", "adapter_health"}
    assert "training" not in data["run"] or all("train_seconds" not in t for t in data["run"]["training"].values())


def test_a_folder_of_several_peft_adapters_grades_the_one_named(run_suites, base_model, adapter_under_test,
                                                               new_task_adapter, tmp_path):
    """peft's save_pretrained of a model holding two adapters: "default" at the top, "concise" in a subfolder.
    --adapter FOLDER grades the default one (the other listed in results.json), FOLDER/concise the named one; a
    folder of named adapters only is refused, listing them."""
    from peft import PeftModel

    from harness.model.loading import adapter_digest

    model, _ = base_model.load()
    both = PeftModel.from_pretrained(model, str(adapter_under_test))
    both.load_adapter(str(new_task_adapter), adapter_name="concise")
    both.save_pretrained(tmp_path / "both", selected_adapters=["default", "concise"])
    result, report_dir = run_suites("--adapter", str(tmp_path / "both"), "-m", "identity")
    recorded = results_of(report_dir)["run"]["adapters"]["both"]
    assert result.ret == 0 and recorded["other_adapters_in_folder"] == ["concise"], result.stdout.str()[-2000:]
    result, report_dir = run_suites("--adapter", str(tmp_path / "both" / "concise"), "-m", "adapter_health")
    named = results_of(report_dir)["run"]["adapters"]["concise"]
    assert result.ret == 0 and named["sha256"] == adapter_digest(tmp_path / "both" / "concise") != recorded["sha256"]
    for default_file in ("adapter_config.json", "adapter_model.safetensors"):
        (tmp_path / "both" / default_file).unlink()
    result, _ = run_suites("--adapter", str(tmp_path / "both"), "-m", "identity")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*both: holds 1 named adapters (concise) and no default one: name the one to "
                                 "evaluate, e.g. */both/concise*"])


def test_two_xdist_workers_give_one_report_and_one_history_append(run_suites):
    """`pytest suites/ -n 2` (README): both workers' parts merge into one results.json and report, the audit
    history gets this run's rows once, and latency is skipped with its reason rather than timed under load."""
    result, report_dir = run_suites("-n", "2", "-rs", subprocess=True)
    assert result.ret == 0, result.stdout.str()[-3000:]
    data = results_of(report_dir)
    assert {g["capability"] for g in data["gates"]} == set(CAPABILITIES) - {"latency"} | {"new_task", "audit"}
    assert all(g["passed"] for g in data["gates"]) and not list(report_dir.glob("*/parts"))
    assert (report_dir / "latest" / "report.html").is_file()
    counts = data["run"]["request_cache"]  # the workers' answer-cache figures, added up (they once read 0/0)
    assert counts["hits"] + counts["misses"] > 0
    history = (report_dir / "history.csv").read_text().splitlines()
    rows = [line for line in history[1:] if line.startswith(data["run"]["id"] + ",")]
    assert rows and len(rows) == len(set(rows))  # appended once, by the controller
    result.stdout.fnmatch_lines(["*SKIPPED*timed alone only: 2 pytest-xdist workers share the machine*"])


def test_a_data_folder_with_only_a_dev_set_runs_what_that_dev_set_allows(run_suites, adapter_under_test,
                                                                         project_root, tmp_path):
    """A data folder with only the base task's dev set and an adapter (no train.json: nothing is trained, so none
    is needed): old_task, perplexity (dev answers), adapter health and generation (on the dev set) run; every
    other gate is not judged, each saying why (the missing file, no --checkpoints, no training set)."""
    data = tmp_path / "data"
    (data / "tasks/base").mkdir(parents=True)
    shutil.copy(project_root / "fixtures/tasks/base/dev.json", data / "tasks/base/dev.json")  # no train.json
    shutil.copy(project_root / "fixtures/gates.toml", data / "gates.toml")
    base = project_root / "fixtures/builtin/model"
    result, report_dir = run_suites("--data-dir", str(data), "--base-model", str(base), "--adapter",
                                    str(adapter_under_test), "-rs", "-m", "not latency")
    output = result.stdout.str()
    assert result.ret == 0, output[-3000:]
    data_run = results_of(report_dir)
    graded = {g["capability"] for g in data_run["gates"]}
    assert graded == {"old_task", "perplexity", "adapter_health", "generation"}, output[-3000:]
    assert "perplexity.dev_answers_ratio" in {g["id"] for g in data_run["gates"]}
    assert not {"perplexity.heldout_ratio", "generation.chrf_gain"} & {g["id"] for g in data_run["gates"]}
    result.stdout.fnmatch_lines(["SKIPPED*audit.py: no --checkpoints: *",
                                 "SKIPPED*: no training set: *",
                                 f"SKIPPED*generation.py: missing identity/identity.toml (+2 more): {data} lacks *",
                                 "SKIPPED*identity.py: missing identity/identity.toml (+2 more)*",
                                 "SKIPPED*new_task.py: missing tasks/increment_*/dev.json*",
                                 f"SKIPPED*perplexity.py: missing perplexity/heldout.txt: {data} lacks *"])
    verdict = data_run["run"]["verdict"]  # no train.json anywhere: nothing is trained, so none is needed
    assert verdict["passed"] and verdict["partial"] and "missing identity/identity.toml" in verdict["text"]


def test_graded_by_names_the_capabilities_that_grade_the_adapter(run_suites, adapter_under_test, project_root,
                                                                tmp_path):
    """A `[graded_by]` rule matching the adapter's path: only the capabilities it names grade the adapter; the
    others are skipped saying which rule decided; results.json records the grading."""
    gates = tmp_path / "gates.toml"
    gates.write_text((project_root / "fixtures/gates.toml").read_text()
                     + '\n[graded_by]\n"checkpoint-*" = ["old_task", "new_task"]\n')
    checkpoint = copy_adapter(adapter_under_test, tmp_path / "run" / "checkpoint-40")
    result, report_dir = run_suites("--adapter", str(checkpoint), "--gates", str(gates), "-rs", "-m",
                                    "identity or old_task or adapter_health")
    output = result.stdout.str()
    data = results_of(report_dir)
    assert result.ret == 0 and {g["capability"] for g in data["gates"]} == {"old_task"}, output[-3000:]
    result.stdout.fnmatch_lines([f"SKIPPED*not graded by [[]graded_by[]]: --adapter {checkpoint} is graded by "
                                 f"old_task, new_task ({gates} [[]graded_by[]] 'checkpoint-*')"])
    assert data["run"]["graded_by"] == {"model": str(checkpoint), "capabilities": ["old_task", "new_task"],
                                        "rule": f"{gates} [graded_by] 'checkpoint-*'"}


def test_a_full_fine_tune_is_evaluated_with_tuned_model(run_suites, base_model, adapter_under_test, tmp_path):
    """--tuned-model: a merged copy of the adapter under test, evaluated against the base like an adapter
    (identity, old_task); adapter health is not applicable and says so; nothing is trained."""
    from harness.model.loading import attach_adapter

    model, tokenizer = base_model.load()
    full = tmp_path / "full"
    attach_adapter(model, adapter_under_test).merge_and_unload().save_pretrained(full)
    tokenizer.save_pretrained(full)
    result, report_dir = run_suites("--base-model", base_model.path, "--tuned-model", str(full), "-rs", "-m",
                                    "identity or old_task or adapter_health")
    output = result.stdout.str()
    data = results_of(report_dir)
    assert result.ret == 0 and {g["capability"] for g in data["gates"]} == {"identity", "old_task"}, output[-3000:]
    assert "not applicable to --tuned-model: adapter_health measures an adapter" in output
    assert data["run"]["tuned_model"]["path"] == str(full) and not data["run"]["adapters"]
