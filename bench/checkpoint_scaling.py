"""How the audit's bookkeeping scales with the number of checkpoints, measured in one run.

    .venv/bin/python bench/checkpoint_scaling.py [--small 100] [--large 1000]

For a run folder of N checkpoints (links to one small LoRA adapter of the shipped built-in model), times what
tunegate does per checkpoint before and after the models answer: finding the checkpoints, checking every
adapter from its files against the base (`harness.plugin.preflight.check_adapters`), grouping per-checkpoint verdicts
and writing history rows (synthetic verdicts and metrics, three tasks). Prints the times at `--small` and
`--large` and their ratio: linear work gives a ratio near large/small (10), quadratic work near its square (100).
Model answering itself is linear by construction (one pass per checkpoint) and is not timed here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TASKS = ("base", "increment_1", "increment_2")


def small_adapter(folder: Path) -> Path:
    """A LoRA adapter (r=4 on q_proj, v_proj) of the shipped built-in model, saved to `folder`."""
    from peft import LoraConfig, get_peft_model

    from harness.model.loading import BaseModel

    model, _ = BaseModel.at(ROOT / "fixtures/builtin/model").load()
    get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])).save_pretrained(folder)
    return folder


def run_folder(root: Path, adapter: Path, count: int) -> Path:
    """A run folder of `count` checkpoints: one copy of the adapter, links for the rest."""
    run = root / f"run-{count}"
    shutil.copytree(adapter, run / "checkpoint-1")
    for step in range(2, count + 1):
        os.symlink("checkpoint-1", run / f"checkpoint-{step}")
    return run


def bookkeeping_seconds(run: Path, settings) -> float:
    """Wall time of the per-checkpoint bookkeeping for one run folder."""
    from harness.evaluators import audit
    from harness.evaluators.checkpoints import find_checkpoints
    from harness.foundation.records import GateResult, MetricValue
    from harness.plugin.preflight import base_model_facts, check_adapters

    started = time.perf_counter()
    checkpoints = find_checkpoints(run)
    check_adapters(replace(settings, checkpoints=run), base_model_facts(settings))
    metrics = [MetricValue("audit", f"exact_match[{task}]", 0.9, checkpoint=c.name) for c in checkpoints
               for task in TASKS]
    verdicts = {f"audit.{name}[{c.name}]": GateResult(f"audit.{name}[{c.name}]", "audit", name, ">=", 0.5, 0.9,
                                                      True, "ok")
                for c in checkpoints for name in ("base_exact_match", "min_exact_match", "max_forgetting")}
    grouped = audit.verdicts_by_checkpoint(verdicts)
    passed = audit.AuditResult(list(TASKS), checkpoints, []).passed(verdicts)
    rows = audit.history_rows("run", "now", checkpoints, metrics)
    assert len(grouped) == len(passed) == len(checkpoints) and len(rows) == len(metrics)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Measure both sizes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1000)
    args = parser.parse_args(argv)
    from harness.plugin.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        adapter = small_adapter(root / "adapter")
        settings = Settings(rootdir=ROOT, fixtures=ROOT / "fixtures", base_model="builtin", adapter=None,
                            gates_file=None, report_dir=root / "reports", cache_dir=root / "cache", device="cpu",
                            dtype="float32", allow_pickle=False)
        runs = {n: run_folder(root, adapter, n) for n in (args.small, args.large)}
        bookkeeping_seconds(runs[args.small], settings)  # warm the imports and the file cache
        times = {n: min(bookkeeping_seconds(run, settings) for _ in range(3)) for n, run in runs.items()}
    ratio = times[args.large] / times[args.small]
    print(f"{'checkpoints':>12} {'seconds':>9} {'ms / checkpoint':>16}")
    for n, seconds in times.items():
        print(f"{n:>12} {seconds:>9.3f} {1000 * seconds / n:>16.2f}")
    print(f"ratio {args.large}/{args.small}: {ratio:.1f} (linear: {args.large / args.small:.0f}, quadratic: "
          f"{(args.large / args.small) ** 2:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
