"""Cold vs warm wall time of the release gate, measured in one run.

    .venv/bin/python bench/gate_cold_warm.py [--runs-warm 2]

Runs the README's gate command, `python3 dev.py gate`, once against an empty cache (trains every adapter on the
shipped built-in model, the independent chains side by side), then again against the filled cache (adapters and
model answers reused), and prints the wall times, their ratio, what each run trained and how many model answers
it computed or reused, each adapter's training time, the interpreter start-up (importing the plugin) and the
shipped model's digest check. Bars on a 2-core machine: cold at most 75 s (issue 8), warm at most 10 s (issue
25: report charts drawn as plain SVG and the report written once); exit status 1 when a bar is missed.

The runs use Python's default bytecode caching (a user's second run finds `__pycache__` written by the first):
PYTHONDONTWRITEBYTECODE is dropped from their environment unless `--no-bytecode-cache` is given, and the table
says which way it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLD_BAR_S, WARM_BAR_S = 75, 10


def gate_environment(bytecode_cache: bool) -> dict[str, str]:
    """The environment of the timed runs: offline, CI, and Python's bytecode cache on or off."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CI": "true"}
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def timed_gate(cache: Path, reports: Path, env: dict[str, str]) -> tuple[float, int, dict]:
    """Wall seconds, exit code and results.json `run` record of one `pytest suites/` run with the given cache and
    report folders."""
    started = time.perf_counter()
    code = subprocess.run([sys.executable, str(ROOT / "dev.py"), "gate", "-q", "-p", "no:cacheprovider",
                           "--cache-dir", str(cache), "--report-dir", str(reports)], cwd=ROOT, env=env,
                          stdout=subprocess.DEVNULL).returncode
    seconds = time.perf_counter() - started
    return seconds, code, json.loads((reports / "latest" / "results.json").read_text())["run"]


def artifact_times(cache: Path) -> dict[str, float]:
    """Training time of each adapter, the plugin's import time and the shipped model's digest check."""
    from harness.training.builtin import SHIPPED, verify_shipped_model

    times = {}
    for info in sorted(cache.glob("adapter-*/training_info.json")):
        summary = json.loads(info.read_text())
        times[f"{summary['name']} adapter training s"] = summary["train_seconds"]
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import harness.plugin, harness.plugin.fixtures"], cwd=ROOT, check=True)
    times["python start + plugin import s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    verify_shipped_model(ROOT / "fixtures" / SHIPPED)
    times["shipped model digest check s"] = round(time.perf_counter() - started, 3)
    return times


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-warm", type=int, default=2)
    parser.add_argument("--no-bytecode-cache", action="store_true", help="run with PYTHONDONTWRITEBYTECODE=1")
    args = parser.parse_args()
    env = gate_environment(not args.no_bytecode_cache)
    with tempfile.TemporaryDirectory() as tmp:
        cache, reports = Path(tmp) / "cache", Path(tmp) / "reports"
        runs = [("cold", *timed_gate(cache, reports, env))]
        runs += [("warm", *timed_gate(cache, reports, env)) for _ in range(args.runs_warm)]
        artifacts = artifact_times(Path(tmp) / "cache")
    print(f"{'run':<6} {'wall s':>8}  exit  trained side by side       model answers computed / reused")
    for kind, seconds, code, run in runs:
        side = run.get("trained_side_by_side") or {}
        trained = f"{', '.join(side.get('chains', [])) or '-'} ({side.get('processes', 0)} proc)"
        answers = run.get("request_cache") or {}
        print(f"{kind:<6} {seconds:>8.1f}  {code:>4}  {trained:<25} {answers.get('misses')} / "
              f"{answers.get('from_earlier_runs')}")
    cold, best_warm = runs[0][1], min(seconds for kind, seconds, *_ in runs if kind == "warm")
    print(f"cold / warm = {cold / best_warm:.1f}x (bars: cold <= {COLD_BAR_S} s, warm <= {WARM_BAR_S} s); Python "
          f"bytecode cache {'off' if 'PYTHONDONTWRITEBYTECODE' in env else 'on'}")
    for name, value in artifacts.items():
        print(f"{name}: {value}")
    missed = [f"{kind} {seconds:.1f} s > {bar} s" for kind, seconds, bar in (("cold", cold, COLD_BAR_S),
                                                                             ("warm", best_warm, WARM_BAR_S))
              if seconds > bar]
    if missed:
        print("bar missed: " + "; ".join(missed))
    return 0 if all(code == 0 for _, _, code, _ in runs) and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
