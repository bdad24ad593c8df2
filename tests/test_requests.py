"""The request cache: each (model identity, request) is computed once per session, across views and suites."""

from __future__ import annotations

from harness.data import load_examples
from harness.model.requests import RequestCache
from harness.model.views import base_and_tuned


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


def _upper(calls: list):
    def compute(todo):
        calls.append(list(todo))
        return [(r.upper(), len(r)) for r in todo]
    return compute


def test_persisted_answers_are_reused_by_a_later_session(tmp_path):
    calls = []
    first = RequestCache()
    first.persist(tmp_path, {"torch": "x"})
    assert first.answer("m", "gen", ["ab", "c"], _upper(calls)) == [("AB", 2), ("C", 1)]
    later = RequestCache()
    later.persist(tmp_path, {"torch": "x"})
    assert later.answer("m", "gen", ["c", "ab", "new"], _upper(calls)) == [("C", 1), ("AB", 2), ("NEW", 3)]
    assert calls == [["ab", "c"], ["new"]]  # only the unseen request is computed again
    assert (later.hits, later.misses, later.stored) == (2, 1, 2)


def test_another_fingerprint_or_model_recomputes(tmp_path):
    calls = []
    stored = RequestCache()
    stored.persist(tmp_path, {"torch": "x"})
    stored.answer("m", "gen", ["a"], _upper(calls))
    other_env = RequestCache()
    other_env.persist(tmp_path, {"torch": "y"})
    other_env.answer("m", "gen", ["a"], _upper(calls))
    other_model = RequestCache()
    other_model.persist(tmp_path, {"torch": "x"})
    other_model.answer("m2", "gen", ["a"], _upper(calls))
    assert calls == [["a"], ["a"], ["a"]] and other_env.stored == other_model.stored == 0


def test_processes_storing_the_same_file_keep_each_others_answers(tmp_path):
    calls = []
    worker_a, worker_b = RequestCache(), RequestCache()
    for cache in (worker_a, worker_b):
        cache.persist(tmp_path, {})
        cache.answer("m", "gen", [], _upper(calls))  # both have read the (empty) file
    worker_a.answer("m", "gen", ["a"], _upper(calls))
    worker_b.answer("m", "gen", ["b"], _upper(calls))
    later = RequestCache()
    later.persist(tmp_path, {})
    assert later.answer("m", "gen", ["a", "b"], _upper(calls)) == [("A", 1), ("B", 1)] and later.misses == 0


def test_unreadable_store_is_recomputed_not_trusted(tmp_path):
    calls = []
    cache = RequestCache()
    cache.persist(tmp_path, {})
    cache.answer("m", "gen", ["a"], _upper(calls))
    for stored in tmp_path.glob("*.json"):
        stored.write_text('{"answers": [["a", ')  # cut short, as by a full disk
    again = RequestCache()
    again.persist(tmp_path, {})
    assert again.answer("m", "gen", ["a"], _upper(calls)) == [("A", 1)] and calls == [["a"], ["a"]]
