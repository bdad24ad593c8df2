"""The request cache on the built-in model: base answers are shared between adapters, and the caching wrapper serves
the Hugging Face backend as it serves the fake one."""

from __future__ import annotations

import pytest

from harness.data import load_examples
from harness.model.requests import RequestCache
from harness.model.views import base_and_tuned
from tests.caching_checks import base_dev_examples, computes_each_request_once, reuses_a_persisted_store


def test_base_answers_are_shared_between_adapters(base_model, adapter_under_test, new_task_adapter, tunegate):
    cache = RequestCache()
    base_a, tuned_a = base_and_tuned(base_model, adapter_under_test, cache=cache)
    base_b, tuned_b = base_and_tuned(base_model, new_task_adapter, cache=cache)
    prompts = [ex.messages for ex in load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")[:12]]
    first = base_a.generate(prompts)
    misses = cache.misses
    assert base_b.generate(prompts) == first and cache.misses == misses  # same base digest: all hits
    tuned_a.generate(prompts)
    tuned_b.generate(prompts)
    assert cache.misses == misses + 2 * len(prompts)  # each adapter is its own model identity
    assert base_a.model_id == base_b.model_id != tuned_a.model_id != tuned_b.model_id
    assert base_a.loglikelihood(load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")[:3]) == \
        base_b.loglikelihood(load_examples(tunegate.settings.fixtures / "tasks/base/dev.json")[:3])


@pytest.fixture(params=["hf"])
def backend_and_dev(base_model, project_root):
    """(an uncached backend, a few dev examples): the built-in base model, plain (no adapter), computing every
    request itself; a fake model in tests/fast/test_requests.py."""
    from harness.model.lm import HFLanguageModel

    model, tokenizer = base_model.load()
    return HFLanguageModel(model, tokenizer, name="base", batch_size=8, max_new_tokens=8), base_dev_examples(
        project_root)


def test_the_caching_wrapper_computes_each_request_once_on_any_backend(backend_and_dev):
    computes_each_request_once(*backend_and_dev)


def test_the_caching_wrapper_reuses_a_persisted_store_on_any_backend(backend_and_dev, tmp_path):
    reuses_a_persisted_store(*backend_and_dev, tmp_path)
