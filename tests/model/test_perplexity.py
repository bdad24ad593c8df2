"""Perplexity: batched + windowed numbers equal a straightforward computation; gates fail on a planted regression."""

from __future__ import annotations

import math

import pytest
import torch

from harness.data import load_examples, load_text_lines
from harness.measures.metrics import perplexity as ppl
from harness.model.lm import HFLanguageModel
from harness.model.scoring import sliding_windows
from harness.model.views import base_and_tuned
from tests.conftest import plant_adapter, verdicts_of


def naive_nll(model, ids: list[int], start: int, end: int, first: int) -> float:
    """Sum of token NLL over positions first..end-1, one unbatched forward pass over ids[start:end]."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids[start:end]])).logits[0]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return -sum(float(logprobs[p - start - 1, ids[p]]) for p in range(first, end))


@pytest.fixture(scope="module")
def base_lm(base_model):
    model, tokenizer = base_model.load()
    return HFLanguageModel(model, tokenizer, name="base", batch_size=16)


def test_batched_text_loglikelihood_equals_straightforward_sum(base_lm, tunegate):
    texts = load_text_lines(tunegate.settings.fixtures / "perplexity/heldout.txt")
    batched = [(-logprob, count) for logprob, count in base_lm.text_loglikelihood(texts, window=256, stride=192)]
    total_nll = total_tokens = 0.0
    for text, (nll, count) in zip(texts, batched, strict=True):
        ids = base_lm.tokenizer(text, add_special_tokens=False)["input_ids"]
        expected = naive_nll(base_lm.model, ids, 0, len(ids), 1)
        assert count == len(ids) - 1
        assert nll == pytest.approx(expected, rel=1e-5)
        total_nll, total_tokens = total_nll + expected, total_tokens + count
    assert ppl(sum(n for n, _ in batched), sum(c for _, c in batched)) == pytest.approx(
        math.exp(total_nll / total_tokens), rel=1e-5)


def test_sliding_window_equals_naive_window_loop(base_lm, tunegate):
    text = " ".join(load_text_lines(tunegate.settings.fixtures / "perplexity/heldout.txt")[:25])
    ids = base_lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > 150
    [(logprob, count)] = base_lm.text_loglikelihood([text], window=48, stride=32)
    expected = sum(naive_nll(base_lm.model, ids, *span) for span in sliding_windows(len(ids), 48, 32))
    assert count == len(ids) - 1 and -logprob == pytest.approx(expected, rel=1e-5)


def test_answer_loglikelihood_equals_straightforward_sum(base_lm, tunegate):
    from harness.model.prompts import answer_ids, prompt_ids

    dev = load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")
    batched = base_lm.loglikelihood(dev)
    expected_nll = expected_tokens = 0.0
    for ex, (logprob, count) in zip(dev, batched, strict=True):
        prompt, answer = prompt_ids(base_lm.tokenizer, ex.messages), answer_ids(base_lm.tokenizer, ex.answer)
        expected = naive_nll(base_lm.model, prompt + answer, 0, len(prompt) + len(answer), len(prompt))
        assert count == len(answer) and -logprob == pytest.approx(expected, abs=1e-5)  # float32 noise only
        expected_nll, expected_tokens = expected_nll + expected, expected_tokens + count
    assert ppl(-sum(lp for lp, _ in batched), sum(c for _, c in batched)) == pytest.approx(
        math.exp(expected_nll / expected_tokens), rel=1e-5)


def ratio_verdicts(base_model, adapter, tunegate):
    fixtures = tunegate.settings.fixtures
    data = (load_text_lines(fixtures / "perplexity/heldout.txt"), load_examples(fixtures / "tasks/base/dev.json"))
    return verdicts_of(tunegate, "perplexity", base_and_tuned(base_model, adapter), data)


def test_healthy_adapter_passes_perplexity_gates(base_model, adapter_under_test, tunegate):
    verdicts = ratio_verdicts(base_model, adapter_under_test, tunegate)
    assert set(verdicts) == {"perplexity.heldout_ratio", "perplexity.dev_answers_ratio"}
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values()]


def test_scaled_up_adapter_fails_perplexity_gates(base_model, adapter_under_test, tunegate, tmp_path):
    loud = plant_adapter(adapter_under_test, tmp_path / "loud", lambda b: b * 4)
    verdicts = ratio_verdicts(base_model, loud, tunegate)
    for gate_id in ("perplexity.heldout_ratio", "perplexity.dev_answers_ratio"):
        assert not verdicts[gate_id].passed and verdicts[gate_id].value > 1.25
        assert "required <= 1.25" in verdicts[gate_id].message and "perplexity base" in verdicts[gate_id].message
