"""The report's run-level panels: the continual-learning strategy comparison, the nightly audit of a run's
checkpoints, and the training curves, each with its charts (`harness.report.charts`) and the figures beside them."""

from __future__ import annotations

import math
from html import escape

from harness.gating.results import RunRecord
from harness.report.charts import Panel, Threshold, heatmap, line_chart, small_multiples
from harness.report.figures import figure
from harness.report.markup import anchor, cell, plural, relative, run_root, table


def gate_line(record: RunRecord, capability: str, metric: str) -> Threshold | None:
    """The first gate on `capability.metric` as a chart's threshold line ('gate >= 0.85'; points that miss it red)."""
    gate = next((g for g in record.gates if g.capability == capability and g.metric == metric), None)
    return None if gate is None else Threshold(gate.threshold, f"gate {gate.op} {gate.threshold:g}", gate.op)


def strategy_section(record: RunRecord) -> str:
    """Continual-learning sequences side by side: accuracy-matrix heatmaps, ACC / BWT / FWT / forgetting and
    the before/after loss check of each strategy."""
    sequences = record.run.sections.get("sequences") or {}
    if not sequences:
        return ""
    panels = []
    for strategy, seq in sequences.items():
        tasks = seq["tasks"]
        stages = ["base model", *(f"after {t}" for t in tasks[1:])]
        summary = (f"ACC {figure(seq['acc'], 3)} &middot; BWT {figure(seq['bwt'], 3)} &middot; FWT "
                   f"{figure(seq['fwt'], 3)} &middot; forgetting "
                   + ", ".join(f"{escape(t)} {figure(f, 3)}" for t, f in zip(tasks, seq["forgetting"], strict=True)
                               if f is not None and f == f))
        losses = table(["stage", "base loss before", "after", "base + increment before", "after"],
                       [f"<tr>{cell(row['task'])}{cell(figure(row['base_before']), 'num')}"
                        f"{cell(figure(row['base_after']), 'num')}{cell(figure(row['mixed_before']), 'num')}"
                        f"{cell(figure(row['mixed_after']), 'num')}</tr>" for row in seq["losses"]])
        chart = heatmap(stages, tasks, seq["matrix"], f"{strategy}: exact match R[stage][task]", "exact match")
        panels.append(f"<div class='panel'><h3>{escape(strategy)}</h3>{chart}<p class='mono'>{summary}</p>"
                      f"{losses}</div>")
    gated = next(iter(sequences))
    return ("<h2 id='panel-forgetting'>Continual learning: strategy comparison</h2>"
            f"<p>The gated strategy is <b>{escape(gated)}</b> (forgetting's &ldquo;tuned&rdquo;); the others are "
            "trained on the same increments for comparison and never fail the run.</p>"
            "<div class='panels'>" + "".join(panels) + "</div>")


def base_task_line(record: RunRecord, base_score: float | None) -> Threshold | None:
    """The audit's stricter line over the base task: its floor, or the base model's own score less the drop the
    audit allows (`base_exact_match_drop`), whichever is higher."""
    floor, drop = gate_line(record, "audit", "base_exact_match"), gate_line(record, "audit", "base_exact_match_drop")
    if drop is None or base_score is None or not math.isfinite(base_score):
        return floor
    line = base_score - drop.value
    if floor is not None and floor.value >= line:
        return floor
    op = {"<": ">"}.get(drop.op, ">=")
    return Threshold(line, f"gate drop {drop.op} {drop.value:g} ({op} {line:.3g})", op)


def _below_gates(record: RunRecord, matrix: list[list[float]]) -> set[tuple[int, int]]:
    """Checkpoint cells under the audit's exact-match lines: the base task's (column 0) and every task's."""
    base = base_task_line(record, matrix[0][0] if matrix and matrix[0] else None)
    lowest = gate_line(record, "audit", "min_exact_match")
    return {(i, j) for i, row in enumerate(matrix) if i > 0 for j, value in enumerate(row)
            if value is not None and ((j == 0 and base and value < base.value) or (lowest and value < lowest.value))}


def audit_section(record: RunRecord) -> str:
    """The audited run: checkpoint x task heatmap (cells under a gate outlined), exact match and forgetting by
    step with the gate lines, the last checkpoint run after run, and links to each checkpoint's lost items."""
    run = record.run.sections.get("audit")
    if not run:
        return ""
    steps = [c["step"] for c in run["checkpoints"]]
    names = ["base model", *(c["name"] for c in run["checkpoints"])]
    base_line = base_task_line(record, run["matrix"][0][0])
    every_floor = gate_line(record, "audit", "min_exact_match")
    by_task = [Panel(f"{task}: exact match", {"exact match": list(zip(steps, [row[j] for row in run["matrix"][1:]],
                                                                     strict=True))},
                     (base_line if j == 0 else None) or every_floor, "exact match")  # a gate line where it judges
               for j, task in enumerate(run["tasks"])]
    forgetting = Panel("max forgetting", {"max forgetting": list(zip(steps, run["forgetting_trend"], strict=True))},
                       gate_line(record, "audit", "max_forgetting"), "forgetting")
    by_step = small_multiples([*by_task, forgetting], "checkpoint step", "value", "by checkpoint step",
                              x_ticks={s: str(s) for s in steps} if len(steps) <= 12 else None)
    broke = run.get("broke_at")
    verdict = (f"<b>{escape(run.get('answer', ''))}</b>"
               + (f" (<a href='#{_broken_gate_evidence(record, broke)}'>items {escape(broke)} lost</a>)" if broke
                  else ""))
    if source := record.run.sections.get("checkpoints", {}).get("source"):
        verdict += f"<br><span class='mono'>{escape(relative(source, run_root(record)))}</span>"
    return (f"<h2 id='panel-audit'>Audit: {len(steps)} checkpoints</h2><p>{verdict}</p>"
            + heatmap(names, run["tasks"], run["matrix"], "exact match R[checkpoint][task]", "exact match",
                      _below_gates(record, run["matrix"]), "below an audit gate's threshold")
            + by_step + _nights(run)
            + f"<p class='mono'>history: {escape(relative(run['history'], run_root(record)))}</p>")


def _broken_gate_evidence(record: RunRecord, checkpoint: str) -> str:
    """The evidence anchor of the first audit gate that failed at `checkpoint` (its items: what it lost)."""
    gates = sorted((g for g in record.gates if g.capability == "audit" and g.part == checkpoint),
                   key=lambda g: g.passed)
    return anchor("evidence", gates[0].id) if gates else ""


def _nights(run: dict) -> str:
    """The last checkpoint's exact match per task, run after run, the x axis labelled with the run ids."""
    nights = run.get("nights", {})
    runs = list(dict.fromkeys(run_id for values in nights.values() for run_id, _ in values))
    if len(runs) < 2:
        return ""
    position = {run_id: i for i, run_id in enumerate(runs)}
    series = {task: [(position[r], v) for r, v in values] for task, values in nights.items()}
    return line_chart(series, "last checkpoint's exact match, run after run", "audit run", "exact match",
                      x_ticks={i: r for r, i in position.items()})


def training_section(record: RunRecord) -> str:
    """Every trained adapter's train and eval loss per step as small multiples, and its figures in a table; folded
    to a line (the page's path to a failure does not run through it)."""
    training = record.run.training
    if not training:
        return "<h2 id='panel-training'>Training</h2><p>No adapter was trained in this run.</p>"
    panels = [Panel(name, {"train loss": [(r["step"], r["loss"]) for r in t.get("log", []) if "loss" in r],
                           "eval loss": [(r["step"], r["eval_loss"]) for r in t.get("log", []) if "eval_loss" in r]})
              for name, t in training.items()]
    keys = ("steps", "examples", "train_seconds", "final_loss")
    shown = [k for k in keys if any(k in t for t in training.values())]
    rows = [f"<tr>{cell(name)}" + "".join(cell(figure(t[k]) if isinstance(t.get(k), float) else t.get(k, ""), "num")
                                          for k in shown) + f"{cell(_stopped(t.get('stop') or {}))}</tr>"
            for name, t in training.items()]
    return (f"<details class='section'><summary><h2 id='panel-training'>Training</h2> &middot; "
            f"{plural(len(training), 'adapter')} trained: loss curves and how each run ended</summary>"
            + small_multiples(panels, "step", "loss", "training and eval loss per adapter")
            + table(["adapter", *(k.replace("_", " ") for k in shown), "how it ended"], rows) + "</details>")


def _stopped(stop: dict) -> str:
    """'early stopping at step 40; best eval loss 0.52 at step 20, its weights restored' and the like."""
    if not stop:
        return ""
    text = (f"ran all {stop.get('at_step', '?')} steps" if stop["reason"] == "steps"
            else f"{stop['reason']} at step {stop.get('at_step', '?')}")
    text += f" ({stop['detail']})" if stop.get("detail") else ""
    if stop.get("best_step") is not None:
        text += (f"; best eval loss {figure(stop['best_eval_loss'])} at step {stop['best_step']}"
                 + (", its weights restored" if stop.get("restored_best") else ""))
    return text
