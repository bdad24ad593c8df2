"""What a run judged: every configured gate with a verdict or the specific reason it has none, and the run's
headline ("PASS (partial): 4 of 48 configured gates judged; 44 not judged (deselected by -m audit)").

A gate is judged when it gave at least one verdict (the audit gives one per checkpoint). The reasons come from
what the plugin saw happen to each suite's tests (`run.sections["unjudged"]`: deselected by -m/-k, skipped with
a reason, never collected), keyed by gate id or capability. `[baseline]` and `[drift]` gates count as configured
only under --baseline: they compare with a stored baseline by definition. Nothing judged is never a pass.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from harness.gating.baselines import DRIFT
from harness.gating.gate_config import GateConfig
from harness.gating.results import RunRecord

UNJUDGED = "unjudged"  # run section: gate id or capability -> why its tests gave no verdict
GATED_TESTS = "gated_tests"  # run section: how many selected tests belong to suites with configured gates
NOT_COLLECTED = ("suite not collected: no test of its suite was in this run (its suite file is not under the paths "
                 "given)")
NO_BASELINE = "no --baseline given"


def short_reason(reason: str) -> str:
    """The reason's label, the part before its first ': ' (reasons are written "label: detail").

    >>> short_reason("no --checkpoints: --adapter evaluates one model")
    'no --checkpoints'
    """
    label = reason.split(": ", 1)[0]
    return label if len(label) <= 80 else label[:79] + "…"


def unevaluated_gates(config: GateConfig, record: RunRecord, has_baseline: bool) -> list[dict[str, str]]:
    """Every configured gate with no verdict in this run, with its specific reason: never hidden, only listed."""
    judged = {g.configured_id for g in record.gates}
    reasons = record.run.sections.get(UNJUDGED) or {}
    out = []
    for gate_id, capability in [(g.id, g.capability) for g in config.absolute.values()] + \
            [(g.id, "baseline") for g in config.relative.values()]:
        if gate_id in judged:
            continue
        if capability in (DRIFT, "baseline") and not has_baseline:
            reason = NO_BASELINE
        else:
            owner = gate_id.removeprefix("baseline.").split(".", 1)[0]
            reason = reasons.get(gate_id) or reasons.get(owner) or NOT_COLLECTED
        out.append({"id": gate_id, "reason": reason})
    return out


@dataclass(frozen=True)
class RunVerdict:
    """The run's headline: PASS or FAIL, how many configured gates were judged, and why the others were not."""

    word: str  # "PASS", "FAIL", or "NOT JUDGED" (only suites without gates ran, e.g. -m shadow)
    partial: bool
    configured: int
    judged: int
    failed: int
    not_judged: dict[str, int]  # short reason -> gates
    require_all: bool

    @property
    def passed(self) -> bool:
        """Whether the run passes (exit 0): no gate failed, and something was judged unless nothing gated was
        selected; under --require-all-gates, every configured gate was judged."""
        return self.word != "FAIL"

    @property
    def text(self) -> str:
        """One line: 'PASS (partial): 4 of 48 configured gates judged; 44 not judged (deselected by -m audit)'."""
        qualifier = " (--require-all-gates)" if self.require_all and self.partial and not self.failed else \
            " (partial)" if self.partial and self.word != "NOT JUDGED" else ""
        line = f"{self.word}{qualifier}: {self.judged} of {self.configured} configured gates judged"
        if self.failed:
            line += f", {self.failed} failed"
        if self.not_judged:
            total = sum(self.not_judged.values())
            why = ", ".join(f"{n} {reason}" if len(self.not_judged) > 1 else reason
                            for reason, n in sorted(self.not_judged.items(), key=lambda kv: -kv[1]))
            line += f"; {total} not judged ({why})"
        return line

    def to_dict(self) -> dict:
        """results.json's `run.verdict`."""
        return {**asdict(self), "passed": self.passed, "text": self.text}


def run_verdict(record: RunRecord, configured_ids: list[str], require_all: bool) -> RunVerdict:
    """The verdict of a finished run: FAIL when a gate failed, when the suites selected with gates judged nothing,
    or (`require_all`) when a configured gate was not judged; NOT JUDGED when only suites without gates ran;
    PASS otherwise, "partial" when some configured gate was not judged."""
    judged = {g.configured_id for g in record.gates}
    failed = {g.configured_id for g in record.gates if not g.passed}
    missing = [e for e in record.run.not_evaluated if e["reason"] != NO_BASELINE]
    partial = bool(missing)
    gated = bool(record.run.sections.get(GATED_TESTS))
    word = "FAIL" if failed or (not judged and gated) or (require_all and partial) else \
        "PASS" if judged else "NOT JUDGED"
    counts = Counter(short_reason(e["reason"]) for e in missing)
    return RunVerdict(word, partial, len(configured_ids), len(judged & set(configured_ids)), len(failed),
                      dict(counts), require_all)


def configured_gate_ids(config: GateConfig, has_baseline: bool) -> list[str]:
    """The gates a run is expected to judge: every absolute gate, and the `[baseline]` / `[drift]` ones only
    under --baseline."""
    return [g.id for g in config.absolute.values() if has_baseline or g.capability != DRIFT] + \
        ([g.id for g in config.relative.values()] if has_baseline else [])
