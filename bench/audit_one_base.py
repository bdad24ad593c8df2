"""Audit wall time with one base load for every checkpoint vs a base load per checkpoint, measured in one run.

    .venv/bin/python bench/audit_one_base.py [--checkpoints 10] [--base-model PATH]

Makes N distinct LoRA adapters (r=8 on every linear layer, random non-zero initialisation, seeds 0..N-1) of the
base (default: the shipped built-in model), then audits them on every task's dev set of `fixtures/` twice, each
time with an empty answer cache: once with a separate base + adapter load per checkpoint (`base_and_tuned`, what
the audit did before issue 11) and once over one base copy with every adapter loaded into it (`adapter_chain`).
Prints both wall times, the ratio and each run's peak resident memory growth.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_adapters(base, count: int, folder: Path) -> list[Path]:
    """`count` distinct random LoRA adapters of `base`."""
    import torch
    from peft import LoraConfig, get_peft_model

    out = []
    for seed in range(count):
        torch.manual_seed(seed)
        model, _ = base.load()
        config = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", init_lora_weights=False)
        get_peft_model(model, config).save_pretrained(folder / f"checkpoint-{seed + 1}")
        out.append(folder / f"checkpoint-{seed + 1}")
    return out


def audit_seconds(base, adapters: list[Path], shared: bool) -> float:
    """Wall time of the audit's evaluation over `adapters` (fresh answer cache)."""
    from harness.data import load_examples
    from harness.evaluators import audit
    from harness.evaluators.checkpoints import Checkpoint
    from harness.model.requests import RequestCache
    from harness.model.views import adapter_chain, base_and_tuned
    from harness.training.sequence import sequence_tasks

    fixtures = ROOT / "fixtures"
    devs = {task: load_examples(fixtures / f"tasks/{task}/dev.json") for task in sequence_tasks(fixtures)}
    checkpoints = [Checkpoint(a.name, i, a) for i, a in enumerate(adapters, start=1)]
    started = time.perf_counter()
    cache = RequestCache()
    if shared:
        base_view, *views = adapter_chain(base, adapters, cache=cache)
    else:
        pairs = [base_and_tuned(base, a, cache=cache) for a in adapters]
        base_view, views = pairs[0][0], [tuned for _, tuned in pairs]
    audit.evaluate((base_view, views), (checkpoints, devs))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Make the adapters, time both ways, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--base-model", default=str(ROOT / "fixtures/builtin/model"))
    args = parser.parse_args(argv)
    from harness.model.loading import BaseModel

    base = BaseModel.at(args.base_model)
    with tempfile.TemporaryDirectory() as tmp:
        adapters = make_adapters(base, args.checkpoints, Path(tmp))
        rows = []
        for label, shared in (("a base load per checkpoint", False), ("one base load (adapter_chain)", True)):
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            seconds = audit_seconds(base, adapters, shared)
            rows.append((label, seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024))
    print(f"{args.checkpoints} checkpoints of {args.base_model}")
    for label, seconds, grown in rows:
        print(f"{label:<34} {seconds:8.2f} s   peak RSS +{grown:.0f} MB")
    print(f"speed-up: {rows[0][1] / rows[1][1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
