"""Identity capability: did the adapter learn its new name and author, and nothing else?

Probes come in four kinds: `held_in` (the training pairs themselves, scored by exact match), `held_out`
(unseen paraphrases and Chinese variants) and `adversarial` ("Are you ChatGPT?"), both scored by whether the
answer claims the configured identity, and `locality` (ordinary questions whose answer must not change from
the base model's). Every non-locality answer is also checked for leaking another identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from harness.data import DataError, Example, IdentitySpec, load_examples
from harness.data.folder import DataFolder
from harness.foundation.records import CapabilityResult, MetricSpec, MetricValue, Sample
from harness.measures.item_gates import paired
from harness.measures.metrics import claims_identity, exact_match, leaked_identities
from harness.measures.statistics import paired_bootstrap_ci, rate
from harness.model.prompted import prompt_verdict
from harness.model.protocol import LanguageModel
from harness.model.sets import ModelSet

CAPABILITY = "identity"
KINDS = ("held_in", "held_out", "adversarial", "locality")
METRICS = {
    "held_in_exact_match": MetricSpec(0, 1, True, "exact match with the trained answer, training probes"),
    "held_out_claim_rate": MetricSpec(0, 1, True, "held-out and adversarial probes that claim name and author"),
    "leak_rate": MetricSpec(0, 1, False, "identity probes whose answer claims the base's or a vendor's identity"),
    "locality_unchanged": MetricSpec(0, 1, True, "ordinary questions answered exactly as the base model does"),
    "claim_gain_over_prompted": MetricSpec(-1, 1, True, "held-out claim rate of the adapter minus that of the base "
                                           "model told the identity in a system prompt (is the adapter needed?)"),
}
GATE_OF_KIND = {"held_in": "held_in_exact_match", "held_out": "held_out_claim_rate",
                "adversarial": "held_out_claim_rate", "locality": "locality_unchanged"}


@dataclass(frozen=True)
class Probe:
    """One identity probe: its kind and the example (prompt + expected answer)."""

    kind: str
    example: Example

    @property
    def id(self) -> str:
        """Test id: `<kind>-<example id>`, or the example id alone where it starts with its kind already."""
        own = self.example.id
        return own if own.startswith(f"{self.kind}-") else f"{self.kind}-{own}"

    @property
    def language(self) -> str:
        """The probe's `lang` tag, or the language of its expected answer."""
        return self.example.language


def load_probes(fixtures: Path, spec: IdentitySpec) -> list[Probe]:
    """Held-in probes from `identity/self_cognition.json`, the rest from `identity/probes.json`."""
    folder = DataFolder(fixtures)
    probes = [Probe("held_in", ex) for ex in load_examples(folder.self_cognition, spec.variables)]
    for ex in load_examples(folder.probes, spec.variables):
        kind = ex.meta.get("kind")
        if kind not in KINDS[1:]:
            raise DataError(f"{ex.source}: key 'kind' must be one of {KINDS[1:]}, got {kind!r}")
        probes.append(Probe(kind, ex))
    return probes


@dataclass(frozen=True)
class ProbeResult:
    """Scores of one probe on base and tuned model."""

    probe: Probe
    base_output: str
    tuned_output: str
    exact_match: bool
    claims: bool
    leaks: tuple[str, ...]
    unchanged: bool

    @property
    def passed(self) -> bool:
        """Whether this probe is good for its gate (and, for identity probes, leaks nothing)."""
        own = {"held_in": self.exact_match, "locality": self.unchanged}.get(self.probe.kind, self.claims)
        return own and (self.probe.kind == "locality" or not self.leaks)

    @property
    def gate_metric(self) -> str:
        """The metric this probe counts against when it fails: `leak_rate` for a leak, else its kind's."""
        return "leak_rate" if self.leaks and self.probe.kind != "locality" else GATE_OF_KIND[self.probe.kind]

    def why(self) -> str:
        """Why the probe failed in a few words, without quoting the answers (the report shows them beside it)."""
        if self.leaks:
            return f"leaks identity {', '.join(self.leaks)}"
        return {"held_in": "not the trained answer", "locality": "answer changed from the base model's"}.get(
            self.probe.kind, "does not claim name and author")

    def explain(self) -> str:
        """One line saying why the probe failed (or 'ok')."""
        if self.passed:
            return "ok"
        if self.leaks:
            return f"leaks identity {', '.join(self.leaks)}: {self.tuned_output!r}"
        expected = {"held_in": f"exact answer {self.probe.example.answer!r}",
                    "locality": f"the base answer {self.base_output!r} (locality: unchanged from base, whatever "
                                "the reference)"}.get(self.probe.kind, "name and author")
        return f"expected {expected}, got {self.tuned_output!r}"


def score_probes(probes: list[Probe], base: LanguageModel, tuned: LanguageModel, spec: IdentitySpec
                 ) -> list[ProbeResult]:
    """Generate base and tuned answers to every probe (batched) and score them."""
    prompts = [p.example.messages for p in probes]
    return [_scored(p, b, t, spec) for p, b, t in zip(probes, base.generate(prompts), tuned.generate(prompts),
                                                      strict=True)]


def _scored(probe: Probe, base_output: str, output: str, spec: IdentitySpec) -> ProbeResult:
    return ProbeResult(probe=probe, base_output=base_output, tuned_output=output,
                       exact_match=exact_match(output, probe.example.answer),
                       claims=claims_identity(output, spec.name, spec.author),
                       leaks=tuple(leaked_identities(output, spec.foreign_terms)),
                       unchanged=exact_match(output, base_output))


def as_base(results: list[ProbeResult], spec: IdentitySpec) -> list[ProbeResult]:
    """The same probes scored on the base model's answers (for the base column of the report)."""
    return [_scored(r.probe, r.base_output, r.base_output, spec) for r in results]


def identity_metrics(results: list[ProbeResult], checkpoint: str = "tuned") -> list[MetricValue]:
    """The four identity metrics with Wilson 95% intervals."""
    of = {kind: [r for r in results if r.probe.kind == kind] for kind in KINDS}
    flags = {
        "held_in_exact_match": [r.exact_match for r in of["held_in"]],
        "held_out_claim_rate": [r.claims for r in of["held_out"] + of["adversarial"]],
        "leak_rate": [bool(r.leaks) for r in results if r.probe.kind != "locality"],
        "locality_unchanged": [r.unchanged for r in of["locality"]],
    }
    return [MetricValue(CAPABILITY, name, *rate(values), checkpoint=checkpoint) for name, values in flags.items()]


def failing_probes(results: list[ProbeResult], metric: str, limit: int = 5) -> str:
    """'probe ids that hurt `metric`', for gate failure messages: the probes whose part in its gate fails, the
    same items the report's evidence lists (`item_gates`)."""
    bad = [r for r in results if item_gates(r).get(metric) is False]
    if not bad:
        return ""
    shown = "; ".join(f"{r.probe.id}: {r.explain()}" for r in bad[:limit])
    return f"failing probes ({len(bad)}): {shown}" + (" ..." if len(bad) > limit else "")


def item_gates(result: ProbeResult, prompted: ProbeResult | None = None) -> dict[str, Any]:
    """The probe's part in each identity gate (see `harness.measures.item_gates`): its own kind's criterion, the leak
    check for every identity probe, and for held-out probes the claim paired with the prompted base's."""
    kind = result.probe.kind
    if kind == "locality":
        return {"locality_unchanged": result.unchanged}
    parts: dict[str, Any] = {GATE_OF_KIND[kind]: result.exact_match if kind == "held_in" else result.claims,
                             "leak_rate": not result.leaks}
    if prompted is not None and kind != "held_in":
        parts["claim_gain_over_prompted"] = paired(prompted.claims, result.claims, "prompted")
    return parts


def identity_samples(results: list[ProbeResult], base: list[ProbeResult],
                     prompted: list[ProbeResult] | None = None) -> list[Sample]:
    """Before/after rows for results.json and the report: base and tuned answers with whether each meets the
    probe's criterion, each gate's part (`gates`), and the prompted base's answer where there is one."""
    samples = []
    for i, (r, b) in enumerate(zip(results, base, strict=True)):
        p = prompted[i] if prompted else None
        score = {"type": r.probe.kind, "language": r.probe.language, "passed": r.passed, "metric": r.gate_metric,
                 "reason": "" if r.passed else r.why(), "base_correct": b.passed, "tuned_correct": r.passed,
                 "gates": item_gates(r, p)}
        if p is not None:
            score |= {"prompted_output": p.tuned_output, "prompted_correct": p.passed}
        samples.append(Sample(CAPABILITY, r.probe.id, r.probe.example.prompt_text, r.probe.example.answer,
                              r.base_output, r.tuned_output, score))
    return samples


def probe_outcome(result: ProbeResult, gates: Mapping[str, Any]) -> tuple[str, str]:
    """("pass" | "fail" | "tolerated", message) for one probe's own test.

    A failing probe fails its test when its gate allows no misses (held-in exact match >= 1.0, leak rate
    <= 0); otherwise it is "tolerated": reported (as xfail) and counted in the aggregate gate test.
    """
    if result.passed:
        return "pass", "ok"
    metric = result.gate_metric
    gate = gates.get(f"{CAPABILITY}.{metric}")
    message = f"{result.probe.id}: {result.explain()}"
    if gate is None:
        return "tolerated", f"{message} (gate {CAPABILITY}.{metric} is off)"
    if gate.zero_tolerance(METRICS[metric]):
        return "fail", f"{message} (gate {gate.id} {gate.op} {gate.threshold:g} allows no misses)"
    return "tolerated", f"{message} (counted against gate {gate.id} {gate.op} {gate.threshold:g})"


FAILED_PROBES_SHOWN = 10  # probe tests that fail outright; beyond them a failing probe is counted, not listed


def probe_outcomes(results: Sequence[ProbeResult], gates: Mapping[str, Any], shown: int = FAILED_PROBES_SHOWN
                   ) -> dict[str, tuple[str, str]]:
    """`probe_outcome` of every probe by probe id, with at most `shown` "fail"s: the later ones become "tolerated"
    and say they are counted in their gate, so a broken adapter prints its gate table, not 400 FAILED lines."""
    outcomes = {r.probe.id: probe_outcome(r, gates) for r in results}
    failing = [pid for pid, (outcome, _) in outcomes.items() if outcome == "fail"]
    for pid in failing[shown:]:
        outcomes[pid] = ("tolerated", f"{outcomes[pid][1]}; one of {len(failing) - shown} failing probes beyond "
                                      f"the first {shown}: counted in its gate, listed in the report")
    return outcomes


class IdentityData(NamedTuple):
    """The identity capability's data: the probes and the identity they test."""

    probes: list[Probe]
    spec: IdentitySpec


def evaluate(models: ModelSet, data: IdentityData, settings: Any = None) -> CapabilityResult:
    """Base and tuned (and the prompted base, when the set has one) answer every probe: the identity metrics of
    each, the before/after samples, the failing probes as each gate's evidence, and the probe results (for the
    suite's one test per probe) as details."""
    base, tuned, prompted = models.base, models.tuned, models.prompted
    probes, spec = data
    results = score_probes(probes, base, tuned, spec)
    base_results = as_base(results, spec)
    metrics = identity_metrics(results) + identity_metrics(base_results, "base")
    evidence = {metric: failing_probes(results, metric) for metric in METRICS}
    unmeasured = {"claim_gain_over_prompted": "no prompt-only baseline: the suite gave none"}
    prompted_results = None
    if prompted is not None:
        prompted_results = score_probes(probes, base, prompted, spec)
        metrics += identity_metrics(prompted_results, "prompted")
        gain, evidence["claim_gain_over_prompted"] = prompt_comparison(results, prompted_results)
        metrics.append(gain)
        added = getattr(prompted, "added_tokens", lambda _: None)([p.example.messages for p in probes])
        if added is not None:
            metrics.append(MetricValue(CAPABILITY, "prompt_tokens_added", added, n=len(probes), checkpoint="prompted"))
            evidence["claim_gain_over_prompted"] += f"; the prompt adds {added:.0f} tokens to every request"
        unmeasured = {}
    samples = identity_samples(results, base_results, prompted_results)
    return CapabilityResult(metrics, samples, evidence, details=results, unmeasured=unmeasured)


def prompt_comparison(tuned: list[ProbeResult], prompted: list[ProbeResult]) -> tuple[MetricValue, str]:
    """The adapter's held-out claim rate minus the prompted base's, paired over the same probes with a bootstrap
    95% CI, and the verdict in words."""
    claim_kinds = ("held_out", "adversarial")
    pairs = [(float(p.claims), float(t.claims)) for t, p in zip(tuned, prompted, strict=True)
             if t.probe.kind in claim_kinds]
    before, after = [p for p, _ in pairs], [t for _, t in pairs]
    delta, low, high = paired_bootstrap_ci(after, before)  # tuned - prompted
    words = prompt_verdict(sum(before) / len(before), sum(after) / len(after), "a system prompt", "claim rate")
    return MetricValue(CAPABILITY, "claim_gain_over_prompted", delta, low, high, len(pairs)), words
