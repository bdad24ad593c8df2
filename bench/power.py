"""Detection power on the built-in data: the smallest planted regression each gate catches on >= 80% of seeds.

    .venv/bin/python bench/power.py [--seeds 10] [--out FILE.json] [--cache-dir DIR]
    .venv/bin/python bench/power.py --from bench/results/power.json     # reprint a saved table

For each training seed the identity adapter of the shipped recipe is trained (cached under --cache-dir), and on
top of it regressions of known size are planted (tests/plants.py) and graded by the shipped gates
(fixtures/gates.toml) through the capabilities' own evaluate functions:

- forgetting: the tuned model's exact match on the base task's dev set set `size` below the base's, by giving
  items both answered right another item's answer (old_task and the audit, the planted model as checkpoint-1);
- identity loss: a share `size` of the identity probes (held-in, held-out, adversarial) answered as the base
  model answers them (its own name), as a half-applied adapter does;
- perplexity rise: the tuned model's per-token perplexity times 1 + `size` on every text and answer;
- slowdown: `size` ms of extra CPU work before every forward pass of the tuned view (measured, not assumed;
  latency gates re-measure a failure, as the suite does).

Size 0 is the healthy adapter: a failure there is a false alarm. The table gives, per gate, the share of seeds
whose gate fails at each size, the smallest size caught on >= 80% of seeds, and the MDE the gate reports on the
healthy adapter (median over seeds). The seed changes which items a plant hits as well as the adapter.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.capabilities import builtin_capabilities  # noqa: E402
from harness.data import load_examples, load_text_lines  # noqa: E402
from harness.data.folder import DataFolder  # noqa: E402
from harness.evaluators.audit import AuditData  # noqa: E402
from harness.evaluators.checkpoints import Checkpoint  # noqa: E402
from harness.evaluators.identity import IdentityData, load_probes  # noqa: E402
from harness.evaluators.perplexity import PerplexityData  # noqa: E402
from harness.gating.gate_config import load_gate_config  # noqa: E402
from harness.model.loading import BaseModel  # noqa: E402
from harness.model.prompted import identity_prompted  # noqa: E402
from harness.model.sets import CheckpointModels, LatencyViews, ModelSet  # noqa: E402
from harness.model.views import base_and_tuned, plain_base  # noqa: E402
from harness.training.builtin import builtin_model_folder  # noqa: E402
from harness.training.jobs import train_identity  # noqa: E402
from harness.training.recipe import load_recipe  # noqa: E402
from tests.plants import Perplexed, ReplacedAnswers, SlowedModel, forgotten, reverted_identity  # noqa: E402

FIXTURES = ROOT / "fixtures"
SIZES = {  # plant: (what its size means, the sizes planted)
    "forgetting": ("points of base-task exact match below the base", [0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15]),
    "identity loss": ("share of identity answers reverted to the base's",
                      [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6]),
    "perplexity rise": ("perplexity x (1 + size)", [0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5]),
    "slowdown": ("ms of extra compute per forward pass", [0, 1, 2, 5, 10, 20]),
}
UNTOUCHED = {"identity.locality_unchanged"}  # a gate no plant here moves (identity loss leaves ordinary questions)
CAUGHT = 0.8  # the detection probability the table's "caught at" column asks for


class Bench:
    """The built-in base, its data, the shipped gates and one healthy adapter per seed."""

    def __init__(self, cache: Path) -> None:
        self.cache, self.registry = cache, builtin_capabilities()
        self.base_model = BaseModel.at(builtin_model_folder(FIXTURES, cache))
        self.folder = DataFolder(FIXTURES)
        self.gates = load_gate_config(None, ROOT, FIXTURES, self.registry.metric_specs())
        self.dev = load_examples(self.folder.base_dev)
        self.spec = self.folder.identity_spec()
        self.probes = load_probes(FIXTURES, self.spec)

    def healthy(self, seed: int) -> tuple[ModelSet, Path]:
        """Base and tuned views of the identity adapter trained with `seed`, and the adapter's folder."""
        recipe = replace(load_recipe(FIXTURES / "recipes.toml", "identity"), seed=seed)  # as --train-seed does
        adapter = train_identity(self.base_model, FIXTURES, recipe, self.cache).path
        return base_and_tuned(self.base_model, adapter), adapter

    def verdicts(self, capability: str, models: object, data: object, skip: str = "") -> dict[str, dict]:
        """The shipped gates of `capability` (those whose metric does not contain `skip`, when given) on `models`:
        {gate id: {passed, value, mde}}."""
        settings = type("Settings", (), {"ppl_window": 256, "ppl_stride": 192})()
        gates = [g for g in self.gates.for_capability(capability) if not skip or skip not in g.metric]
        _, verdicts = self.registry[capability].run(gates, models, data, settings)
        return {gid: {"passed": v.passed, "value": v.value, "mde": v.mde} for gid, v in verdicts.items()
                if v.value is not None}


def planted_runs(bench: Bench, seed: int) -> dict[str, dict[str, dict]]:
    """{plant: {size: {gate id: verdict}}} for one seed."""
    models, adapter = bench.healthy(seed)
    base, tuned = models.base, models.tuned
    prompted = identity_prompted(base, FIXTURES)
    identity_prompts = [p.example.messages for p in bench.probes if p.kind != "locality"]
    checkpoint = [Checkpoint("checkpoint-1", 1, adapter)]
    heldout = load_text_lines(bench.folder.heldout)

    def forgetting(size: float) -> dict[str, dict]:
        planted = forgotten(base, tuned, bench.dev, size, seed) if size else tuned  # 0: the healthy adapter itself
        audit = AuditData(checkpoint, {"base": bench.dev})
        return {**bench.verdicts("old_task", ModelSet(base, planted), bench.dev),
                **bench.verdicts("audit", CheckpointModels(base, [planted]), audit)}

    def identity_loss(size: float) -> dict[str, dict]:
        planted = ReplacedAnswers(tuned, reverted_identity(base, identity_prompts, size, seed), f"lost {size:.0%}")
        return bench.verdicts("identity", ModelSet(base, planted, prompted), IdentityData(bench.probes, bench.spec))

    def perplexity_rise(size: float) -> dict[str, dict]:
        return bench.verdicts("perplexity", ModelSet(base, Perplexed(tuned, size)), PerplexityData(heldout, bench.dev))

    def slowdown(size: float) -> dict[str, dict]:
        plain = plain_base(bench.base_model)
        return bench.verdicts("latency", LatencyViews(plain, SlowedModel(tuned, size / 1e3)),
                              [ex.messages for ex in bench.dev], skip="merged")  # the merged copy is not planted

    plants: dict[str, Callable[[float], dict[str, dict]]] = {
        "forgetting": forgetting, "identity loss": identity_loss, "perplexity rise": perplexity_rise,
        "slowdown": slowdown}
    return {plant: {str(size): run(size) for size in SIZES[plant][1]} for plant, run in plants.items()}


def power_table(runs: list[dict]) -> list[dict]:
    """Per plant and gate: the failing share of seeds at each size, the smallest size caught on >= 80% of them,
    the false-alarm share (size 0) and the gate's reported MDE on the healthy adapter (median over seeds)."""
    rows = []
    for plant, (meaning, sizes) in SIZES.items():
        gate_ids = [gid for gid in runs[0]["plants"][plant][str(sizes[0])] if gid not in UNTOUCHED]
        for gid in gate_ids:
            fails = {size: [not run["plants"][plant][str(size)][gid]["passed"] for run in runs] for size in sizes}
            share = {size: sum(f) / len(f) for size, f in fails.items()}
            caught = next((s for s in sizes[1:] if all(share[t] >= CAUGHT for t in sizes if t >= s)), None)
            mdes = [run["plants"][plant][str(sizes[0])][gid]["mde"] for run in runs]
            mdes = [m for m in mdes if m is not None]
            rows.append({"plant": plant, "meaning": meaning, "gate": gid, "false_alarms": share[sizes[0]],
                         "caught_at": caught, "mde": statistics.median(mdes) if mdes else None,
                         "fail_share": {str(s): share[s] for s in sizes}})
    return rows


def print_table(rows: list[dict], runs: list[dict]) -> None:
    """The power table as markdown: one row per gate, the failing share per planted size."""
    for plant, (meaning, sizes) in SIZES.items():
        print(f"\n**{plant}** (size: {meaning}), share of {len(runs)} seeds whose gate fails:\n")
        print("| gate | " + " | ".join(f"{s:g}" for s in sizes) + " | caught (>= 80%) at | gate's MDE |")
        print("|---|" + "---|" * (len(sizes) + 2))
        for r in (r for r in rows if r["plant"] == plant):
            shares = " | ".join(f"{r['fail_share'][str(s)]:.0%}" for s in sizes)
            caught = "not within the sizes planted" if r["caught_at"] is None else f"{r['caught_at']:g}"
            mde = "—" if r["mde"] is None else f"{r['mde']:.3g}"
            print(f"| {r['gate']} | {shares} | {caught} | {mde} |")
    alarms = [r["gate"] for r in rows if r["false_alarms"] > 0]
    print(f"\nfalse alarms on the healthy adapters (size 0): {', '.join(alarms) if alarms else 'none'}")
    print("seeds: " + ", ".join(str(run["seed"]) for run in runs))


def main() -> int:
    """Run the plants over seeds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=None, help="adapters trained per seed (default: temporary)")
    parser.add_argument("--out", type=Path, default=None, help="also write the runs and table as JSON")
    parser.add_argument("--from", dest="saved", type=Path, default=None, help="reprint the table of an --out file")
    args = parser.parse_args()
    if args.saved:
        runs = json.loads(args.saved.read_text())["runs"]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            bench = Bench((args.cache_dir or Path(tmp)).resolve())
            runs = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                runs.append({"seed": seed, "plants": planted_runs(bench, seed)})
                print(f"seed {seed} done", file=sys.stderr, flush=True)
    rows = power_table(runs)
    print_table(rows, runs)
    if args.out and not args.saved:
        args.out.write_text(json.dumps({"runs": runs, "table": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
