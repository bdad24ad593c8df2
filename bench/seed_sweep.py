"""Margins over seeds: rerun the whole default gate with every training seed set to 0..N-1.

    .venv/bin/python bench/seed_sweep.py [--seeds 5] [-m EXPR] [--data-dir fixtures] [--base-model FOLDER]
        [--out FILE.json] [PATH ...]

Each seed runs `pytest suites/ [PATH ...] --train-seed K` (PATH: more suites, e.g. examples/answer_language)
with its own empty cache (every adapter is trained afresh), and
the table gives, per gate: the worst / median / best value over seeds, the threshold and rule, the worst seed's
margin (distance of the figure the rule decides on to the threshold, on the passing side; negative = that seed
fails), the spread over seeds (standard deviation: the run-to-run noise a machine change or a reseed brings)
and a verdict: `ok` when the worst margin exceeds one spread, `ok (exact)` for a zero-tolerance gate that every
seed meets exactly (no NaN, no leak, every held-in probe: the value cannot be better), `THIN` when it passes by
less, `FAILS` when some seed fails. Float summation order differs between CPUs and training amplifies it, so a
gate that holds on one seed proves little; this is the check. `--from FILE` reprints an `--out` file's table
(bench/results/seed_sweep.json holds the one in bench/results/margins.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_seed(seed: int, workdir: Path, extra: list[str], paths: list[str] = ()) -> dict:
    """One `pytest suites/` run with every recipe's seed set to `seed`; its results.json plus wall time."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CI": "true"}
    reports = workdir / f"reports-{seed}"
    started = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "pytest", "suites/", *paths, "-q", "-p", "no:cacheprovider",
                           "--train-seed", str(seed), "--cache-dir", str(workdir / f"cache-{seed}"),
                           "--report-dir", str(reports), "--history", str(workdir / f"history-{seed}.csv"), *extra],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    results = json.loads((reports / "latest" / "results.json").read_text())
    return {"seed": seed, "exit": code, "seconds": round(time.perf_counter() - started, 1), "gates": results["gates"]}


def margin(gate: dict) -> float:
    """How far the deciding figure is on the passing side of the threshold (negative: on the failing side). The
    deciding figure is the point estimate, or for `beyond noise` the CI's favourable end and for `confident` its
    unfavourable end (what the gate's rule compares)."""
    value, threshold, rule = gate["value"], gate["threshold"], gate.get("rule", "point")
    if value is None or threshold is None:
        return float("-inf")
    higher = gate["op"] in (">=", ">")
    low, high = gate.get("ci_low"), gate.get("ci_high")
    if rule != "point" and low is not None and high is not None:
        favourable, unfavourable = (high, low) if higher else (low, high)
        value = favourable if rule == "beyond noise" else unfavourable
    return value - threshold if higher else threshold - value


ITEM_RATES = ("identity", "old_task", "new_task", "answer_language")  # capabilities whose rates count items


def within_one_item(gate: dict) -> bool | None:
    """Whether one more failing item would fail the gate: a count moves by 1, an item rate of these capabilities
    (decided on its point estimate) by 1/n; None for a gate without items to count (ratios, CIs, scores)."""
    value, threshold, n = gate["value"], gate["threshold"], gate.get("n")
    if value is None or threshold is None or gate.get("rule", "point") != "point":
        return None
    if isinstance(value, int):
        step = 1.0
    elif gate["capability"] in ITEM_RATES and n and not gate["metric"].endswith(("_gain", "_drop", "_prompted")):
        step = 1.0 / n
    else:
        return None
    worse = value + step if gate["op"] in ("<=", "<") else value - step
    return not {"<=": worse <= threshold, "<": worse < threshold, ">=": worse >= threshold,
                ">": worse > threshold}[gate["op"]]


def gate_table(runs: list[dict]) -> list[dict]:
    """Per gate id: worst / median / best value (by margin), threshold, worst margin, spread, verdict."""
    by_id: dict[str, list[dict]] = {}
    for run in runs:
        for gate in run["gates"]:
            by_id.setdefault(gate["id"], []).append(gate)
    rows = []
    for gate_id, gates in by_id.items():
        ordered = sorted(gates, key=margin)
        values = [g["value"] for g in ordered if g["value"] is not None]
        spread = statistics.pstdev(values) if len(values) > 1 else 0.0
        worst = margin(ordered[0])
        verdict = ("FAILS" if worst < 0 or not all(g["passed"] for g in gates)
                   else "ok" if worst > spread
                   else "ok (exact)" if worst == 0 and spread == 0 else "THIN")
        near = [within_one_item(g) for g in gates]
        rows.append({"gate": gate_id, "near_misses": None if None in near else sum(near),
                     "worst": ordered[0]["value"], "median": ordered[len(ordered) // 2]["value"],
                     "best": ordered[-1]["value"],
                     "threshold": f"{ordered[0]['op']} {ordered[0]['threshold']:.4g}"
                                  + ("" if ordered[0].get("rule", "point") == "point" else f" {ordered[0]['rule']}"),
                     "worst_margin": worst, "spread": spread, "seeds": len(gates), "verdict": verdict})
    return rows


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def print_table(rows: list[dict], runs: list[dict]) -> None:
    """The margins table (markdown, bench/results/margins.md)."""
    print("| gate | worst | median | best | threshold | worst-seed margin | spread (sd) | seeds within one item "
          "of failing | verdict |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        near = "—" if r.get("near_misses") is None else f"{r['near_misses']} of {r['seeds']}"
        print(f"| {r['gate']} | {_fmt(r['worst'])} | {_fmt(r['median'])} | {_fmt(r['best'])} | {r['threshold']} | "
              f"{_fmt(r['worst_margin'])} | {_fmt(r['spread'])} | {near} | {r['verdict']} |")
    print()
    print("seeds: " + ", ".join(f"{r['seed']} (exit {r['exit']}, {r['seconds']} s)" for r in runs))
    failed = sum(r["exit"] != 0 for r in runs)
    print(f"false alarms: {failed} of {len(runs)} healthy runs failed the gate")
    bad = [r["gate"] for r in rows if not r["verdict"].startswith("ok")]
    print(f"{len(rows) - len(bad)} of {len(rows)} gates hold on every seed with a margin above the spread (or exactly)"
          + (f"; not: {', '.join(bad)}" if bad else ""))


def main() -> int:
    """Run the sweep and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="more suites to run beside suites/ (e.g. an example's folder)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("-m", dest="marker", default=None, help="only these suites (pytest -m expression)")
    parser.add_argument("--data-dir", default=None, help="data folder (default: fixtures)")
    parser.add_argument("--base-model", default=None, help="base model folder (default: the built-in model)")
    parser.add_argument("--out", type=Path, default=None, help="also write the runs and table as JSON")
    parser.add_argument("--from", dest="saved", type=Path, default=None, help="reprint the table of an --out file")
    args = parser.parse_args()
    if args.saved:
        runs = json.loads(args.saved.read_text())["runs"]
        print_table(gate_table(runs), runs)
        return 0
    folders = {"--data-dir": args.data_dir, "--base-model": args.base_model}  # pytest runs in the repository root
    options = {"-m": args.marker, **{key: value if value in (None, "builtin") else str(Path(value).resolve())
                                     for key, value in folders.items()}}
    extra = [part for option, value in options.items() if value for part in (option, value)]
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs.append(run_seed(seed, Path(tmp), extra, args.paths))
            print(f"seed {seed}: exit {runs[-1]['exit']} in {runs[-1]['seconds']} s", file=sys.stderr, flush=True)
    rows = gate_table(runs)
    print_table(rows, runs)
    if args.out:
        args.out.write_text(json.dumps({"runs": runs, "table": rows}, indent=1))
    return 0 if all(r["verdict"] != "FAILS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
