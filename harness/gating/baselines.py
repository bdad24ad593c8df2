"""Stored baselines for per-checkpoint CI regression, in the manner of pytest-regressions / pytest-benchmark.

`--save-baseline NAME` writes this run's metrics and every sample's greedy output to `baselines/NAME.json`
(meant to be committed); `--baseline NAME` compares a run with it: the `[baseline]` gates of the gate config
(`"old_task.exact_match" = "-2%"`) bound each metric's regression, paired on the same items where per-item
correctness is stored, and output drift (changed-answer rate, mean normalised edit distance of the greedy
outputs) is measured per capability and gated by `[drift]`. A missing baseline is an error unless saving.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import cast

from harness.foundation.cache import atomic_write_text
from harness.foundation.errors import InputError, read_json
from harness.foundation.records import GateResult, MetricSpec, MetricValue, Sample
from harness.foundation.textfiles import dangling_link, read_text_file
from harness.gating.gate_config import GateConfig
from harness.gating.gates import Gate, for_part
from harness.gating.results import RunRecord, nan_to_none, now
from harness.gating.shapes import (
    CORRECTNESS,
    LIST,
    NUMBER_OR_NULL,
    OBJECT,
    TEXT,
    WHOLE_OR_NULL,
    check_fields,
    shown,
)
from harness.measures.metrics import normalized_edit_distance
from harness.measures.statistics import mean_ci, paired_bootstrap_ci, rate

BASELINE_SCHEMA = 1
DRIFT = "drift"
DRIFT_METRICS = {
    "changed_answer_rate": MetricSpec(0, 1, False, "greedy answers that differ from the baseline's, per capability"),
    "edit_distance": MetricSpec(0, 1, False, "mean normalised edit distance to the baseline's answers"),
}
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
PAIRED_METRIC = "exact_match"  # the per-item correctness a baseline stores pairs this metric, and only this one


class BaselineError(InputError):
    """A baseline cannot be found, read or written; the message names the file."""


def baseline_path(folder: Path, name: str) -> Path:
    """`folder/NAME.json`, the name restricted to letters, digits, '.', '_' and '-'."""
    if not _NAME.match(name):
        raise BaselineError(f"baseline name {name!r}: use letters, digits, '.', '_' and '-' only")
    return folder / f"{name}.json"


def save_baseline(path: Path, name: str, record: RunRecord) -> None:
    """Write this run's metrics and per-sample outputs atomically (an interrupted save keeps the old file), through
    a symbolic link when `path` is one (the link stays)."""
    document = {"schema_version": BASELINE_SCHEMA, "name": name,
                "saved": now(),
                "run": {k: getattr(record.run, k) for k in ("id", "git_sha", "base_model", "adapters")},
                "metrics": [asdict(m) for m in record.metrics],
                "samples": {f"{s.capability}/{s.id}": {"output": s.tuned_output, "prompt": s.prompt,
                                                       "correct": s.score.get("tuned_correct")}
                            for s in record.samples}}
    text = json.dumps(nan_to_none(document), indent=1, ensure_ascii=False, default=str) + "\n"
    atomic_write_text(Path(os.path.realpath(path)), text)


def load_baseline(path: Path) -> dict:
    """The stored baseline; a missing, foreign or malformed file is a BaselineError naming it (and the key)."""
    if path.parent.exists() and not path.parent.is_dir():
        raise BaselineError(f"--baseline-dir {path.parent}: is a file, expected the folder of baselines (NAME.json)")
    if link := dangling_link(path):
        raise BaselineError(f"{path}: {link}; point the link at the baseline file, or remove it and save one with "
                            f"--save-baseline {path.stem}")
    if not path.exists():
        raise BaselineError(f"baseline {path.stem!r} not found at {path}; create it with --save-baseline "
                            f"{path.stem} (nothing is written without that option)")
    document = read_json(path, read_text_file(path, BaselineError, "baseline file"), BaselineError)
    check_baseline_document(path, document)
    return cast(dict, document)  # checked just above: an object with the baseline's keys


BASELINE_KEYS = {"name": TEXT, "run": OBJECT, "metrics": LIST, "samples": OBJECT}
METRIC_KEYS = {"capability": TEXT, "name": TEXT, "value": NUMBER_OR_NULL, "ci_low": NUMBER_OR_NULL,
               "ci_high": NUMBER_OR_NULL, "n": WHOLE_OR_NULL, "checkpoint": TEXT}
SAMPLE_KEYS = {"output": TEXT, "prompt": TEXT, "correct": CORRECTNESS}
RESAVE = "save the baseline again with --save-baseline (or fix the hand edit)"


def check_baseline_document(path: Path, document: object) -> None:
    """A BaselineError naming the file and key path when `document` is not a complete baseline of this schema: a
    results.json, a baseline of a newer tunegate, one missing a key, or a value of the wrong type (a hand edit or
    a merge resolution: a metric value as text, NaN, an extra field, a sample output that is not text)."""
    if not isinstance(document, dict):
        raise BaselineError(f"{path}: expected a JSON object (a baseline), got {type(document).__name__}")
    if "gates" in document and isinstance(document.get("samples"), list):
        raise BaselineError(f"{path}: a run's results.json, not a baseline; store a run as a baseline with "
                            "--save-baseline NAME")
    version = document.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > BASELINE_SCHEMA:
        raise BaselineError(f"{path}: key 'schema_version' is {version}: written by a newer tunegate (this one "
                            f"reads baselines of schema {BASELINE_SCHEMA}); upgrade tunegate, or save the baseline "
                            "again with this one")
    if version != BASELINE_SCHEMA or isinstance(version, bool):
        raise BaselineError(f"{path}: key 'schema_version' is {shown(version)}, expected the number "
                            f"{BASELINE_SCHEMA}; not a tunegate baseline, or a hand edit")
    for key, kind in BASELINE_KEYS.items():
        if not kind.test(document.get(key)):
            raise BaselineError(f"{path}: key {key!r} missing or not {kind.name}: the baseline is incomplete; "
                                "save it again with --save-baseline")
    _check_metrics(path, document["metrics"])
    for key, sample in document["samples"].items():
        where = f"samples[{key!r}]"
        if not isinstance(sample, dict):
            raise BaselineError(f"{path}: key {where} is {shown(sample)}, expected an object; {RESAVE}")
        check_fields(path, where, sample, SAMPLE_KEYS, BaselineError, ("output",), RESAVE)


def _check_metrics(path: Path, metrics: list) -> None:
    """Each stored metric: an object with the fields of a metric value, each of its type, once per (capability,
    name, checkpoint)."""
    seen: dict[tuple, int] = {}
    for index, metric in enumerate(metrics):
        where = f"metrics[{index}]"
        if not isinstance(metric, dict):
            raise BaselineError(f"{path}: key {where} is {shown(metric)}, expected an object; {RESAVE}")
        if extra := sorted(set(metric) - set(METRIC_KEYS)):
            raise BaselineError(f"{path}: key {where}.{extra[0]} is not a field of a stored metric (known: "
                                f"{', '.join(METRIC_KEYS)}); {RESAVE}")
        check_fields(path, where, metric, METRIC_KEYS, BaselineError, ("capability", "name", "value", "checkpoint"),
                     RESAVE)
        key = (metric["capability"], metric["name"], metric["checkpoint"])
        if key in seen:
            raise BaselineError(f"{path}: key {where} stores {key[0]}.{key[1]} ({key[2]}) again, after "
                                f"metrics[{seen[key]}] (a merge that kept both sides?); keep one")
        seen[key] = index


def _paired_change(baseline: dict, samples: list[Sample]) -> tuple[float, float, int] | None:
    """(ci_low, ci_high, n) of the per-item correctness change on the items both runs answered, where the
    correctness of both is stored; None when there is nothing to pair."""
    now = {f"{s.capability}/{s.id}": s.score.get("tuned_correct") for s in samples}
    pairs = [(float(b["correct"]), float(after)) for key, b in baseline["samples"].items()
             if b.get("correct") is not None and (after := now.get(key)) is not None]
    if not pairs:
        return None
    _, low, high = paired_bootstrap_ci([n for _, n in pairs], [b for b, _ in pairs])
    return low, high, len(pairs)


def stored_metrics(baseline: dict) -> dict[tuple[str, str], MetricValue]:
    """The baseline's tuned-model metrics by (capability, name)."""
    return {(m["capability"], m["name"]): MetricValue(**{**m, "value": math.nan if m["value"] is None
                                                       else m["value"]})
            for m in baseline["metrics"] if m["checkpoint"] == "tuned"}


def relative_gate_results(baseline: dict, capability: str, metrics: list[MetricValue], samples: list[Sample],
                          config: GateConfig) -> dict[str, GateResult]:
    """Every `[baseline]` gate of `capability`: this run's tuned value vs the baseline's, paired on the same items
    where possible. A metric the stored baseline lacks, or this run did not compute, fails naming it."""
    stored = stored_metrics(baseline)
    current = {(m.capability, m.name): m for m in metrics if m.checkpoint == "tuned"}
    gates = [g for g in config.relative.values() if g.capability == capability]
    paired = _paired_change(baseline, samples) if any(g.metric == PAIRED_METRIC for g in gates) else None
    results = {}
    for gate in gates:
        key = (gate.capability, gate.metric)
        if key not in stored:
            results[gate.id] = gate.missing(f"the stored baseline {baseline.get('name')!r}")
        elif math.isnan(stored[key].value):
            results[gate.id] = gate.missing(f"the stored baseline {baseline.get('name')!r} (null there: not "
                                            "measured when it was saved)")
        elif key not in current:
            results[gate.id] = gate.missing("this run")
        else:
            results[gate.id] = gate.check(stored[key], current[key], paired if gate.metric == PAIRED_METRIC else None)
    return results


def drift(baseline: dict, capability: str, samples: list[Sample]) -> tuple[list[MetricValue], list[Sample]]:
    """For one capability: changed-answer rate and mean normalised edit distance of this run's greedy outputs vs
    the baseline's on the same samples, and the changed answers side by side (baseline in base_output)."""
    pairs = [(s, baseline["samples"][f"{s.capability}/{s.id}"]) for s in samples
             if s.capability == capability and f"{s.capability}/{s.id}" in baseline["samples"]]
    if not pairs:
        return [], []
    flags = [s.tuned_output != b["output"] for s, b in pairs]
    distances = [normalized_edit_distance(b["output"], s.tuned_output) for s, b in pairs]
    metrics = [MetricValue(DRIFT, f"changed_answer_rate[{capability}]", *rate(flags)),
               MetricValue(DRIFT, f"edit_distance[{capability}]", *mean_ci(distances))]
    changed = [Sample(DRIFT, f"{capability}/{s.id}", s.prompt, s.reference, b["output"], s.tuned_output,
                      {"type": capability, "passed": False, "edit_distance": round(d, 4)})
               for (s, b), flag, d in zip(pairs, flags, distances, strict=True) if flag]
    return metrics, changed


def drift_gate_results(metrics: list[MetricValue], capability: str, gates: Mapping[str, Gate]
                       ) -> dict[str, GateResult]:
    """Each `[drift]` gate on one capability's drift figure (ids like drift.edit_distance[old_task]); a capability
    the baseline holds no outputs of fails every drift gate."""
    by_name = {m.name: m for m in metrics}
    out = {}
    for gate in (g for g in gates.values() if g.capability == DRIFT):
        metric = by_name.get(f"{gate.metric}[{capability}]", MetricValue(DRIFT, gate.metric, math.nan))
        detail = "greedy outputs vs the baseline's" if metric.name in by_name else \
            f"the stored baseline holds no {capability} outputs to compare with"
        verdict = for_part(gate.check(metric, detail), capability)
        out[verdict.id] = verdict
    return out


def drift_gate_ids(gates: Mapping[str, Gate], capability: str) -> list[str]:
    """The ids the `[drift]` gates take on one capability's outputs."""
    return [f"{g.id}[{capability}]" for g in gates.values() if g.capability == DRIFT]


def capability_verdicts(baseline: dict, capability: str, metrics: list[MetricValue], samples: list[Sample],
                        config: GateConfig, compares_outputs: bool
                        ) -> tuple[dict[str, GateResult], list[MetricValue], list[Sample]]:
    """Everything --baseline checks on one capability: its `[baseline]` gates and, when the capability produces
    greedy outputs, its `[drift]` gates; returns (verdicts by id, drift metrics, changed answers)."""
    verdicts = relative_gate_results(baseline, capability, metrics, samples, config)
    if not compares_outputs:
        return verdicts, [], []
    drift_metrics, changed = drift(baseline, capability, samples)
    return {**verdicts, **drift_gate_results(drift_metrics, capability, config.absolute)}, drift_metrics, changed
