"""The request cache: each (model identity, request) is computed once per session, across views and suites."""

from __future__ import annotations

from harness.data import load_examples
from harness.model.lm import base_and_tuned
from harness.model.requests import RequestCache


def test_cache_answers_distinct_requests_once():
    calls = []
    cache = RequestCache()

    def compute(todo):
        calls.append(list(todo))
        return [r.upper() for r in todo]

    assert cache.answer("m", "gen", ["a", "b", "a"], compute) == ["A", "B", "A"]
    assert cache.answer("m", "gen", ["b", "c"], compute) == ["B", "C"]
    assert cache.answer("other", "gen", ["a"], compute) == ["A"]
    assert calls == [["a", "b"], ["c"], ["a"]] and (cache.hits, cache.misses) == (2, 4)


def test_base_answers_are_shared_between_adapters(base_model, identity_adapter, new_task_adapter, tunegate):
    cache = RequestCache()
    base_a, tuned_a = base_and_tuned(base_model, identity_adapter, cache=cache)
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
