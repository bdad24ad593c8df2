"""A team adopts tunegate in its own repository, end to end, in a folder outside this checkout: `tunegate init`
with a new identity (Aurora by Lumen Labs) and the team's own task data (product facts; of the base task only its
dev set, so nothing can be trained from the data folder), an adapter trained by the team's own script (plain
transformers + peft, HF Trainer checkpoints: tests/user_project/train_lora.py), then the commands of the GitHub
Actions workflows `init --ci` wrote, run as CI would run them.

The toy base model learns a byte-level new name imperfectly (this script's adapter claims it on about 0.56 of the
probes, while the base told the name in a system prompt claims 0.63), and the old task keeps its exact match, so
the team calibrates its identity, new-task, generation and old-task thresholds in its gates.toml below the worst
of its trainings, as docs/your-repository.md says a team does for its model, and turns the "fine-tune or
prompt?" gate off; every other gate is the default. The planted forgetting adapter (old-task exact
match 0) fails every one of them by a wide margin.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, plant_adapter

BIN = Path(sys.executable).parent
STEPS = 400
CALIBRATED = {  # the team's thresholds for this small base (gates.toml of its data folder)
    'held_out_claim_rate = ">= 0.75"': 'held_out_claim_rate = ">= 0.5"',
    'held_in_exact_match = ">= 0.98"': 'held_in_exact_match = ">= 0.6"',
    'leak_rate = "<= 0.01"': 'leak_rate = "<= 0.02"',
    'locality_unchanged = ">= 0.85"': 'locality_unchanged = ">= 0.7"',
    # a system prompt claims Aurora by Lumen Labs on more probes than this adapter (0.63 vs 0.56 in one CI run:
    # the gate said "a system prompt already reaches 1.13 of the adapter's claim rate"); the team keeps the adapter
    # for the 62 prompt tokens it saves on every request, and says so by turning the gate off
    'claim_gain_over_prompted = ">= 0.3 beyond noise"': 'claim_gain_over_prompted = "off"',
    'exact_match = ">= 0.9"': 'exact_match = ">= 0.25"',  # new task: 13-14 of its 34 items (0.38-0.41) over runs,
    'exact_match_gain = ">= 0.5"': 'exact_match_gain = ">= 0.2"',  # so a floor of 0.4 failed one healthy run in CI
    'exact_match_gain_over_prompted = ">= 0.3 beyond noise"': 'exact_match_gain_over_prompted = ">= 0.2 beyond noise"',
    'chrf = ">= 60"': 'chrf = ">= 40"',
    'rouge_l = ">= 0.75"': 'rouge_l = ">= 0.5"',
    'exact_match = ">= 0.85"': 'exact_match = ">= 0.75"',  # old task: worst 0.80 of six trainings
    'exact_match_drop = "<= 0.05 beyond noise"': 'exact_match_drop = "<= 0.15 beyond noise"',
    'base_exact_match = ">= 0.85 beyond noise"': 'base_exact_match = ">= 0.75 beyond noise"',  # the audit
}


def product_facts() -> list[dict]:
    """The team's new task: 100 facts about 50 invented products (colour, factory town)."""
    rng = random.Random(7)
    syllables = ["ka", "lo", "mir", "ven", "dor", "sa", "tel", "ru", "bra", "nis", "qua", "zel", "or", "fen"]
    names: list[str] = []
    while len(names) < 50:
        name = "".join(rng.choice(syllables) for _ in range(3)).capitalize()
        names += [name] if name not in names else []
    rows = []
    for i, name in enumerate(names):
        rows.append({"id": f"colour-{i:02d}", "category": "colour", "lang": "en",
                     "instruction": f"What colour is the Lumen {name}?", "input": "",
                     "output": rng.choice(["silver", "black", "white", "blue", "red", "green"])})
        rows.append({"id": f"factory-{i:02d}", "category": "factory", "lang": "en",
                     "instruction": f"Where is the Lumen {name} made?", "input": "",
                     "output": rng.choice(["Corbra", "Velmir", "Sanor", "Kalo", "Tordin", "Ruvia"])})
    return rows


def run(command: list[str] | str, cwd: Path, env: dict | None = None, timeout: int = 600
        ) -> subprocess.CompletedProcess:
    """A command in the team's repository, with this environment's tunegate on PATH and nothing downloaded."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    full_env.pop("PYTEST_ADDOPTS", None)
    full_env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
                          shell=isinstance(command, str), stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The team's repository after `tunegate init --ci` with its own task data, its gates calibrated, and its
    adapter trained by its own script (checkpoints in out/run)."""
    root = tmp_path_factory.mktemp("team") / "aurora-assistant"
    assert ROOT not in root.parents
    theirs = root.parent / "their-data"
    (theirs / "base").mkdir(parents=True)  # what the base model could do: its dev set only (no train.json)
    shutil.copy(ROOT / "fixtures/tasks/base/dev.json", theirs / "base/dev.json")
    facts = product_facts()
    (theirs / "increment_1").mkdir()
    (theirs / "increment_1/train.json").write_text(json.dumps(facts, indent=1))
    (theirs / "increment_1/dev.json").write_text(json.dumps([r for r in facts if int(r["id"][-2:]) % 3 == 0]))
    init = run(["tunegate", "init", str(root), "--name", "Aurora", "--author", "Lumen Labs", "--base-model",
                str(ROOT / "fixtures/builtin/model"), "--base-name", "Atlas", "--base-author", "Northwind",
                "--tasks", str(theirs), "--ci"], cwd=root.parent)
    assert init.returncode == 0, init.stderr
    assert "probes: 260 held-out, 108 adversarial, 110 locality" in init.stdout, init.stdout  # locality: dev.json
    assert "identity: a starter training set was written" in init.stdout
    gates = root / "tunegate-data/gates.toml"
    text = gates.read_text()
    for default, calibrated in CALIBRATED.items():
        assert default in text, default
        text = text.replace(default, calibrated)
    gates.write_text(text)
    trained = run([sys.executable, str(ROOT / "tests/user_project/train_lora.py"), str(ROOT / "fixtures/builtin/model"),
                   "tunegate-data", "out/run", "--replay", str(ROOT / "fixtures/tasks/base/train.json"), "--steps",
                   str(STEPS), "--name", "Aurora", "--author", "Lumen Labs"],
                  cwd=root)
    assert trained.returncode == 0, trained.stderr[-3000:]
    return root


def workflow_commands(path: Path) -> dict[str, str]:
    """The `run:` of each pytest step of a workflow file, by step name."""
    steps = yaml.safe_load(path.read_text())["jobs"]
    return {step["name"]: step["run"] for job in steps.values() for step in job["steps"]
            if "pytest" in step.get("run", "")}


def latest(repo: Path) -> dict:
    return json.loads((repo / "reports/latest/results.json").read_text())


def test_the_regression_workflow_passes_a_good_adapter_and_fails_a_forgetting_one(repo):
    commands = workflow_commands(repo / ".github/workflows/tunegate-regression.yml")
    good = f"out/run/checkpoint-{STEPS}"
    release = run(commands["gate the release and store it as the baseline"], repo, {"ADAPTER": good})
    output = release.stdout
    assert release.returncode == 0, output[-5000:]
    record = latest(repo)
    assert {g["capability"] for g in record["gates"]} >= {"identity", "old_task", "new_task", "adapter_health"}
    verdict = record["run"]["verdict"]
    assert verdict["passed"] and verdict["text"].startswith("PASS (partial): ") and not verdict["failed"]
    assert "no --checkpoints" in verdict["text"] and "trains its own sequence" in verdict["text"]
    assert f"judged: adapter checkpoint-{STEPS} at {repo / good}" in output
    assert (repo / "baselines/release.json").is_file() and "saved baseline 'release'" in output
    again = run(commands["gate this push against the release baseline"], repo, {"ADAPTER": good})
    assert again.returncode == 0, again.stdout[-3000:]
    assert any(g["id"].startswith("baseline.") for g in latest(repo)["gates"])

    forgetting = plant_adapter(repo / good, repo / "out/forgetting-adapter", lambda b: b * 4)
    push = run(commands["gate this push against the release baseline"], repo, {"ADAPTER": "out/forgetting-adapter"})
    assert push.returncode == 1, push.stdout[-3000:]
    failed = {g["id"] for g in latest(repo)["gates"] if not g["passed"]}
    assert {"old_task.exact_match", "old_task.exact_match_drop", "baseline.old_task.exact_match"} <= failed
    assert f"judged: adapter forgetting-adapter at {forgetting}" in push.stdout
    assert push.stdout.strip().splitlines()[-2].startswith("tunegate FAIL (partial): ")  # the verdict, last
    summary = (repo / "reports/latest/summary.md").read_text()
    assert summary.startswith("## tunegate FAIL") and f"adapter forgetting-adapter at {forgetting}" in summary
    assert "adapter identity" not in summary and "adapter new_task" not in summary


def test_the_nightly_audit_names_where_a_dip_recover_break_run_broke_and_what_to_roll_back_to(repo):
    good = repo / f"out/run/checkpoint-{STEPS}"
    forgetting = plant_adapter(good, repo / "out/forgetting-for-audit", lambda b: b * 4)
    nightly = repo / "out/nightly-run"
    for step, source in ((250, good), (500, forgetting), (1000, good), (1500, good), (2000, forgetting)):
        shutil.copytree(source, nightly / f"checkpoint-{step}")
        shutil.copy(good / "trainer_state.json", nightly / f"checkpoint-{step}/trainer_state.json")
    command = workflow_commands(repo / ".github/workflows/tunegate-nightly.yml")["audit every checkpoint"]
    audit = run(command, repo, {"RUN_DIR": "out/nightly-run"})
    assert audit.returncode == 1, audit.stdout[-3000:]
    answer = ("audit: newest checkpoint checkpoint-2000 FAILS: broke at checkpoint-2000, roll back to "
              "checkpoint-1500 (keep checkpoint-1500, checkpoint-1000, checkpoint-250)")
    assert answer in audit.stdout and "Traceback" not in audit.stdout
    assert "FAILED suites/test_audit.py::test_checkpoint[checkpoint-500]" in audit.stdout
    # one line, no traceback; the planted checkpoint answers almost nothing (0 on most runs, a stray hit on some)
    line = re.search(r"\nFAIL audit\.base_exact_match\[checkpoint-500\] = ([0-9.e-]+) \(n=684", audit.stdout)
    assert line and float(line.group(1)) < 0.1, audit.stdout[-3000:]
    record = latest(repo)
    assert record["run"]["audit"]["answer"] == answer and record["run"]["audit"]["broke_at"] == "checkpoint-2000"
    assert answer in (repo / "reports/latest/summary.md").read_text()
    assert answer in (repo / "reports/latest/report.html").read_text()


def test_a_marker_run_reads_partial_and_require_all_gates_fails_it(repo):
    good = f"--adapter=out/run/checkpoint-{STEPS}"
    partial = run(["pytest", good, "-m", "old_task"], repo)
    assert partial.returncode == 0, partial.stdout[-3000:]
    verdict = latest(repo)["run"]["verdict"]
    assert verdict["text"].startswith("PASS (partial): 2 of ") and "deselected by -m 'old_task'" in verdict["text"]
    strict = run(["pytest", good, "-m", "old_task", "--require-all-gates"], repo)
    assert strict.returncode == 1 and "tunegate FAIL (--require-all-gates): 2 of " in strict.stdout
