"""A user-defined capability, added from a conftest with no edit inside `harness/`: "answers stay in the
language of the question".

A fine-tune on English-only data often starts answering Chinese questions in English. This capability asks
base and tuned model every dev question of the base task and the identity probes, and measures how often the
answer is written in the reference answer's language (CJK characters or not), overall and per language.

`pytest_tunegate_capabilities` registers it: it gets the `answer_language` marker, its gates (from the gate
config's `[answer_language]` table, else the defaults below), JUnit names, a results.json section, the generic
report section and the per-language table below. Run it with `pytest examples/answer_language` (add `suites/`
to run it beside the built-in capabilities).
"""

from __future__ import annotations

from html import escape

from harness.api import Capability, CapabilityResult, MetricSpec, MetricValue, Sample, rate, text_language

NAME = "answer_language"
METRICS = {
    "match_rate": MetricSpec(0, 1, True, "tuned answers written in the reference answer's language"),
    "match_rate_zh": MetricSpec(0, 1, True, "the same, on items whose reference is Chinese"),
}


def evaluate(models, data, settings) -> CapabilityResult:
    """`models` = (base, tuned) answer every example of `data`; an answer matches when `text_language` of it
    equals that of the reference."""
    base, tuned = models
    prompts = [ex.messages for ex in data]
    answers = {"base": base.generate(prompts), "tuned": tuned.generate(prompts)}
    wanted = [text_language(ex.answer) for ex in data]
    matches = {view: [text_language(a) == w for a, w in zip(outputs, wanted, strict=True)]
               for view, outputs in answers.items()}
    metrics = []
    for view, flags in matches.items():
        metrics.append(MetricValue(NAME, "match_rate", *rate(flags), checkpoint=view))
        metrics.append(MetricValue(NAME, "match_rate_zh", *rate([f for f, w in zip(flags, wanted, strict=True)
                                                                  if w == "zh"]), checkpoint=view))
    samples = [Sample(NAME, ex.id, ex.prompt_text, ex.answer, b, t,
                      {"type": want, "passed": ok, "base_correct": was, "tuned_correct": ok,
                       "gates": {"match_rate": ok} | ({"match_rate_zh": ok} if want == "zh" else {})})
               for ex, b, t, want, was, ok in zip(data, answers["base"], answers["tuned"], wanted, matches["base"],
                                                  matches["tuned"], strict=True)]
    wrong = [s.id for s in samples if not s.score["passed"]]
    evidence = f"{len(wrong)} answers in the wrong language" + (f": {', '.join(wrong[:5])}" if wrong else "")
    return CapabilityResult(metrics, samples, dict.fromkeys(METRICS, evidence))


def report_section(record) -> str:
    """A per-language table of the tuned model's matches (the generic section shows gates and samples)."""
    rows = {}
    for sample in (s for s in record.samples if s.capability == NAME):
        counts = rows.setdefault(sample.score["type"], [0, 0])
        counts[0] += sample.score["passed"]
        counts[1] += 1
    if not rows:
        return ""
    body = "".join(f"<tr><td>{escape(lang)}</td><td>{ok} / {n}</td></tr>" for lang, (ok, n) in sorted(rows.items()))
    return (f"<h2 id='{NAME}-languages'>Answer language by reference language</h2>"
            f"<table><thead><tr><th>reference language</th><th>tuned answers in it</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def pytest_tunegate_capabilities(registry, config) -> None:
    """Register the capability (called once per run by tunegate, before markers and gates are set up)."""
    registry.add(Capability(NAME, "answers stay in the language of the question", METRICS, evaluate,
                            report_section=report_section, compares_outputs=True,
                            default_gates={"match_rate": ">= 0.9", "match_rate_zh": ">= 0.85 beyond noise"}))
