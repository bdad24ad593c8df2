"""Fine-tune or prompt? The identity adapter against the base model told the identity in a system prompt. The
built-in base follows a system prompt in English and hardly in Chinese, so the "adapter needed" gate PASSES on the
whole probe set and FAILS on the English held-out probes alone, where the prompt is enough; it also fails when the
prompt-only model matches the adapter. The prompted model goes through the wrapped model's batched, cached
interface."""

from __future__ import annotations

import pytest

from harness.data import DataError
from harness.evaluators import identity
from harness.model.prompted import PromptedModel, few_shot_prompt
from harness.model.sets import ModelSet
from harness.model.views import base_and_tuned
from tests.conftest import verdicts_of

GATE = "identity.claim_gain_over_prompted"
PROMPT_GATE = "new_task.exact_match_gain_over_prompted"


def prompted_verdicts(tunegate, base, tuned, prompted, spec, keep=lambda probe: True):
    probes = [p for p in identity.load_probes(tunegate.settings.fixtures, spec) if keep(p)]
    result, verdicts = tunegate.evaluate("identity", ModelSet(base, tuned, prompted), (probes, spec))
    return verdicts, result


def test_the_adapter_is_needed_where_the_prompt_reaches_only_some_probes(base_model, adapter_under_test,
                                                                         identity_spec, tunegate):
    base, tuned = base_and_tuned(base_model, adapter_under_test)
    verdicts, result = prompted_verdicts(tunegate, base, tuned, PromptedModel(base, identity_spec.prompt),
                                         identity_spec)
    assert verdicts[GATE].passed, verdicts[GATE].message
    claims = _by_checkpoint(result, "held_out_claim_rate")
    assert 0.3 < claims["prompted"] < 0.7 and claims["base"] == 0  # a real, partial alternative
    assert 0.5 <= claims["prompted"] / claims["tuned"] < 0.8  # so the words say how far it gets, and what is left:
    assert "a system prompt reaches" in verdicts[GATE].message and "the adapter adds" in verdicts[GATE].message
    added = next(m.value for m in result.metrics if m.name == "prompt_tokens_added")
    assert added > 20 and f"the prompt adds {added:.0f} tokens to every request" in verdicts[GATE].message


def claims_only_english_held_out(probe):
    """Keep the English held-out probes of the claim rate (and the held-in and locality probes, which it ignores)."""
    return probe.kind in ("held_in", "locality") or (probe.kind == "held_out" and probe.language == "en")


def test_a_prompt_is_enough_on_the_english_held_out_probes(base_model, adapter_under_test, identity_spec, tunegate):
    """The planted case: the same models, graded only where the base follows the prompt."""
    base, tuned = base_and_tuned(base_model, adapter_under_test)
    verdicts, result = prompted_verdicts(tunegate, base, tuned, PromptedModel(base, identity_spec.prompt),
                                         identity_spec, claims_only_english_held_out)
    assert _by_checkpoint(result, "held_out_claim_rate")["prompted"] > 0.9, result.metrics
    assert not verdicts[GATE].passed and "a system prompt already reaches" in verdicts[GATE].message


def test_a_prompt_only_model_that_matches_the_adapter_fails_the_adapter_needed_gate(base_model, adapter_under_test,
                                                                                    identity_spec, tunegate):
    base, tuned = base_and_tuned(base_model, adapter_under_test)
    matching = PromptedModel(tuned, "")  # a prompt-only model as good as the adapter (the adapter's own answers)
    verdicts, _ = prompted_verdicts(tunegate, base, tuned, matching, identity_spec)
    assert not verdicts[GATE].passed, verdicts[GATE].message
    assert "a system prompt already reaches" in verdicts[GATE].message and "at zero training cost" in \
        verdicts[GATE].message


def new_task_prompt_verdicts(tunegate, base, tuned, prompted):
    from harness.data import load_examples
    from harness.training.sequence import sequence_tasks

    fixtures = tunegate.settings.fixtures
    dev = load_examples(fixtures / f"tasks/{sequence_tasks(fixtures)[-1]}/dev.json")
    return verdicts_of(tunegate, "new_task", ModelSet(base, tuned, prompted), dev)


def test_the_new_task_adapter_beats_the_few_shot_prompted_base(new_task_models, tunegate):
    from harness.data import load_examples
    from harness.training.sequence import sequence_tasks

    base, tuned = new_task_models
    fixtures = tunegate.settings.fixtures
    task = sequence_tasks(fixtures)[-1]
    dev = load_examples(fixtures / f"tasks/{task}/dev.json")
    system, shots = few_shot_prompt(fixtures, task, dev)
    assert len(shots) == 4 and not {s.id for s in shots} & {d.id for d in dev}  # no dev item is a worked example
    verdict = new_task_prompt_verdicts(tunegate, base, tuned, PromptedModel(base, system, shots))[PROMPT_GATE]
    assert verdict.passed and "the adapter is needed" in verdict.message, verdict.message
    matching = new_task_prompt_verdicts(tunegate, base, tuned, PromptedModel(tuned, ""))[PROMPT_GATE]
    assert not matching.passed and "already reaches 1.00 of the adapter's exact match" in matching.message


def _by_checkpoint(result, name):
    return {m.checkpoint: m.value for m in result.metrics if m.name == name}


def test_perplexity_and_generation_get_a_prompted_column_that_no_gate_reads(base_model, adapter_under_test,
                                                                           identity_spec, tunegate):
    from dataclasses import replace as with_id

    from harness.data import load_examples, load_text_lines
    from harness.measures.metrics import perplexity
    from harness.measures.text_metrics import corpus_score_ci

    base, tuned = base_and_tuned(base_model, adapter_under_test)
    prompted = PromptedModel(base, identity_spec.prompt)
    fixtures = tunegate.settings.fixtures
    dev = load_examples(fixtures / "tasks/base/dev.json")
    result, verdicts = tunegate.evaluate("perplexity", ModelSet(base, tuned, prompted),
                                         (load_text_lines(fixtures / "perplexity/heldout.txt"), dev))
    scores = prompted.loglikelihood(dev)
    expected = perplexity(-sum(s for s, _ in scores), sum(n for _, n in scores))
    ppl, ratio = _by_checkpoint(result, "dev_answers"), _by_checkpoint(result, "dev_answers_ratio")
    assert ppl["prompted"] == pytest.approx(expected, rel=1e-9)
    assert ratio["prompted"] == pytest.approx(ppl["prompted"] / ppl["base"], rel=1e-9)
    assert ratio["prompted"] > 1.25 and verdicts["perplexity.dev_answers_ratio"].passed  # the gate reads tuned only
    # (the prompted base: 1.32 here, over the gate's 1.25; the adapter: 1.01)
    assert verdicts["perplexity.dev_answers_ratio"].value == ratio["tuned"]
    assert "the prompted base" in verdicts["perplexity.dev_answers_ratio"].message
    assert set(_by_checkpoint(result, "heldout")) == {"base", "tuned"}  # raw text: no conversation to prompt

    probes = [with_id(p.example, id=p.id) for p in identity.load_probes(fixtures, identity_spec)
              if p.kind != "locality"]
    result, verdicts = tunegate.evaluate("generation", ModelSet(base, tuned, prompted), probes)
    answers = prompted.generate([p.messages for p in probes])
    chrf = _by_checkpoint(result, "chrf")
    assert chrf["prompted"] == pytest.approx(corpus_score_ci("chrf", answers, [p.answer for p in probes])[0])
    assert _by_checkpoint(result, "chrf_gain")["prompted"] == pytest.approx(chrf["prompted"] - chrf["base"])
    assert verdicts["generation.chrf"].value == chrf["tuned"] and "the prompted base" in \
        verdicts["generation.chrf"].message


def test_latency_times_what_the_prompt_costs_beside_what_the_adapter_costs(base_model, models_under_test,
                                                                          identity_spec, tunegate):
    from harness.data import load_examples
    from harness.evaluators import latency
    from harness.model.views import plain_base

    plain = plain_base(base_model)
    prompts = [ex.messages for ex in load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")]
    how = latency.LatencySettings(prompts=8, new_tokens=8, min_rounds=5, max_rounds=10, budget_s=2.0)
    models = {"base": plain, "tuned": models_under_test.tuned, "prompted": PromptedModel(plain, identity_spec.prompt)}
    timings = latency.measure_latency(models, prompts, how)
    metrics = latency.latency_metrics(timings)
    ttft = {m.checkpoint: m.value for m in metrics if m.name == "ttft_ratio"}
    assert set(ttft) == {"tuned", "prompted"}
    assert ttft["prompted"] > 1.3, ttft  # 62 more prompt tokens to prefill on every request (measured here: 2.8x)
    evidence = latency.latency_evidence(timings, metrics)
    assert "the prompted base:" in evidence["ttft_ratio"] and "the prompted base:" in evidence["throughput_ratio"]


def test_a_baseline_prompt_too_long_for_the_context_is_named_as_the_cause(base_model, tmp_path):
    import shutil

    from harness.model.prompted import identity_prompted
    from harness.model.views import plain_base
    from tests.conftest import ROOT

    shutil.copytree(ROOT / "fixtures/identity", tmp_path / "identity")
    config = tmp_path / "identity/identity.toml"
    config.write_text(config.read_text().replace("\n[base]", "\nprompt_shots = 6\n[base]", 1))
    prompted = identity_prompted(plain_base(base_model), tmp_path)  # 6 examples: longer than the 256 positions
    with pytest.raises(DataError, match=r"longer than the model's context .*the prompt-only baseline put 13 turn\(s\) "
                                        r"before it.*`prompt_shots` in identity/identity.toml") as refused:
        prompted.generate([(("user", "Who are you?"),)])
    assert "drop that record" not in str(refused.value)  # the record is not at fault: the prompt is
