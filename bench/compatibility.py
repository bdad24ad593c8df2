"""The compatibility matrix: every model family x adapter variant x run layout, run through `pytest suites/`.

    .venv/bin/python bench/compatibility.py [--families llama,gpt2] [--jobs 2] [--json OUT]

For each family of tests/families.py (a tiny model built from its config, random weights, the built-in
tokenizer; GPT-2 without a chat template) it writes adapters the way users' tools do and runs the suites on each,
as a user would, in a fresh `python -m pytest suites/` process:

- adapter variants, each a peft folder given as `--adapter` (marker `identity or perplexity or adapter_health`):
  LoRA on every linear layer, rsLoRA, DoRA, `modules_to_save=["lm_head"]`, r=64, weights saved in bfloat16;
- run layouts for `--checkpoints` (marker `audit`): an HF Trainer / LLaMA-Factory run (`checkpoint-N/` and
  `trainer_state.json`), an ms-swift output folder (`v0-<date>-<time>/checkpoint-N/`), and a folder peft saved
  with two adapters (`--adapter FOLDER/second`);
- a full fine-tune: the LoRA merged into the base, given as `--tuned-model` (old_task, perplexity; the adapter
  checks "not applicable").

A cell reads `works` (the run ended with verdicts and no error; the random models fail quality gates, which is not
what is measured), `refused: <message>` (exit 4 with the message a user sees) or `error: <first error line>`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.families import FAMILIES, build_family  # noqa: E402

LORA = {"r": 8, "lora_alpha": 16, "target_modules": "all-linear", "init_lora_weights": False}
VARIANTS = {"lora": {}, "rslora": {"use_rslora": True}, "dora": {"use_dora": True},
            "modules_to_save": {"modules_to_save": ["lm_head"]}, "r64": {"r": 64}, "bf16 weights": {}}
ADAPTER_MARKERS = "identity or perplexity or adapter_health"


def write_adapter(base: Path, folder: Path, seed: int = 0, **variant) -> Path:
    """A LoRA adapter of `base` saved by peft in `folder` (random non-zero weights, seed `seed`)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    get_peft_model(model, LoraConfig(**{**LORA, **variant})).save_pretrained(folder)
    return folder


def to_bfloat16(folder: Path) -> Path:
    """The adapter's weights rewritten in bfloat16 (as a bf16 training run saves them)."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = folder / "adapter_model.safetensors"
    save_file({k: v.to(torch.bfloat16) for k, v in load_file(weights).items()}, weights)
    return folder


def trainer_run(base: Path, folder: Path, launch: str = "") -> Path:
    """Two checkpoints as HF Trainer / LLaMA-Factory write them (under `launch/` for ms-swift), with the
    trainer_state.json loss history; returns the folder to give as --checkpoints."""
    for step in (10, 20):
        checkpoint = write_adapter(base, folder / launch / f"checkpoint-{step}", seed=step)
        (checkpoint / "trainer_state.json").write_text(json.dumps(
            {"log_history": [{"step": s, "loss": 3.0 - s / 10} for s in range(5, step + 1, 5)]}))
    return folder


def two_adapter_folder(base: Path, folder: Path) -> Path:
    """peft's save_pretrained of a model holding "default" and "second"; returns the named one's subfolder."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(**LORA))
    model.add_adapter("second", LoraConfig(**LORA))
    model.save_pretrained(folder, selected_adapters=["default", "second"])
    return folder / "second"


def merged_model(base: Path, adapter: Path, folder: Path) -> Path:
    """The adapter merged into its base and saved as a full model (with the base's tokenizer files)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter).merge_and_unload()
    merged.save_pretrained(folder)
    for file in base.iterdir():
        if file.name.startswith("tokenizer") or file.suffix == ".jinja":
            shutil.copy(file, folder / file.name)
    return folder


def cases(family: str, work: Path) -> list[tuple[str, list[str]]]:
    """(column, pytest options) of every run on this family's base."""
    base = build_family(family, work / "base")
    runs = []
    for name, variant in VARIANTS.items():
        adapter = write_adapter(base, work / name.replace(" ", "_"), **variant)
        if name == "bf16 weights":
            to_bfloat16(adapter)
        runs.append((name, ["--adapter", str(adapter), "-m", ADAPTER_MARKERS]))
    runs.append(("Trainer / LLaMA-Factory run", ["--checkpoints", str(trainer_run(base, work / "trainer")), "-m",
                                                 "audit"]))
    runs.append(("ms-swift output", ["--checkpoints", str(trainer_run(base, work / "output", "v0-20261123-101010")),
                                     "-m", "audit"]))
    runs.append(("two adapters, one folder", ["--adapter", str(two_adapter_folder(base, work / "both")), "-m",
                                              ADAPTER_MARKERS]))
    runs.append(("full fine-tune", ["--tuned-model", str(merged_model(base, work / "lora", work / "merged")),
                                    "-m", "old_task or perplexity or adapter_health"]))
    return [(column, ["--base-model", str(base), *options]) for column, options in runs]


def run_case(options: list[str], work: Path, threads: int) -> dict:
    """One `pytest suites/` process: its exit code and what it says (verdicts, refusal or first error)."""
    reports = Path(tempfile.mkdtemp(dir=work))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "suites"), "-p", "no:cacheprovider", "-q",
                           "--report-dir", str(reports), "--cache-dir", str(work / "cache"), *options],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return {"exit": done.returncode, "cell": cell(done, reports), "failed_gates": failed_gates(reports)}


def cell(done: subprocess.CompletedProcess, reports: Path) -> str:
    """`works (...)`, `refused: ...` or `error: ...` for one finished run."""
    lines = (done.stdout + done.stderr).splitlines()
    if done.returncode == 4:
        return "refused: " + next((line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR")),
                                  lines[-1] if lines else "")
    results = reports / "latest" / "results.json"
    if done.returncode in (0, 1) and results.is_file():
        data = json.loads(results.read_text())
        if not data["run"].get("errors"):
            gates = data["gates"]
            return f"works ({sum(g['passed'] for g in gates)}/{len(gates)} gates pass)"
    first = next((line for line in lines if line.startswith("E ") or "Error" in line), lines[-1] if lines else "")
    return f"error (exit {done.returncode}): {first.strip()[:160]}"


def failed_gates(reports: Path) -> list[str]:
    """The ids of the gates that failed in a run that wrote results.json (quality gates on random weights)."""
    results = reports / "latest" / "results.json"
    return [g["id"] for g in json.loads(results.read_text())["gates"] if not g["passed"]] if results.is_file() else []


def main() -> None:
    """Build every family's adapters and runs, run them `--jobs` at a time, print the matrix."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tunegate-compat-"))
    planned = [(family, column, options) for family in args.families.split(",")
               for column, options in cases(family, work / family)]
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(lambda p: run_case(p[2], work, max(1, (os.cpu_count() or 2) // args.jobs)),
                                 planned))
    matrix, failed = {family: {} for family in args.families.split(",")}, {}
    for (family, column, _), outcome in zip(planned, outcomes, strict=True):
        matrix[family][column] = outcome["cell"]
        for gate in outcome["failed_gates"]:
            failed.setdefault(gate, []).append(f"{family}/{column}")
    columns = list(next(iter(matrix.values())))
    print("| family | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for family, row in matrix.items():
        print(f"| {family} | " + " | ".join(row[c] for c in columns) + " |")
    print("\ngates that failed (runs):", ", ".join(f"{gate} ({len(runs)})" for gate, runs in sorted(failed.items())))
    if args.json:
        args.json.write_text(json.dumps({"matrix": matrix, "failed_gates": failed}, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
