"""The request cache: each (model identity, request) is computed once per session, across views and suites."""

from __future__ import annotations

import sqlite3

import pytest

from harness.data import load_examples
from harness.model.answer_stores import FolderStore, SqliteStore
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


STORES = {"json folder": lambda tmp, fp: FolderStore(tmp / "answers", fp),
          "sqlite": lambda tmp, fp: SqliteStore(tmp / "requests.sqlite", fp)}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path):
    """A fresh store of each kind in tmp_path, as `store(fingerprint)`: every call opens the same file(s)."""
    return lambda fingerprint: STORES[request.param](tmp_path, fingerprint)


def _cache(store) -> RequestCache:
    cache = RequestCache()
    cache.persist(store)
    return cache


def _upper(calls: list):
    def compute(todo):
        calls.append(list(todo))
        return [(r.upper(), len(r)) for r in todo]
    return compute


def test_persisted_answers_are_reused_by_a_later_session(store):
    calls = []
    first = _cache(store({"torch": "x"}))
    assert first.answer("m", "gen", ["ab", "c"], _upper(calls)) == [("AB", 2), ("C", 1)]
    later = _cache(store({"torch": "x"}))
    assert later.answer("m", "gen", ["c", "ab", "new"], _upper(calls)) == [("C", 1), ("AB", 2), ("NEW", 3)]
    assert calls == [["ab", "c"], ["new"]]  # only the unseen request is computed again
    assert (later.hits, later.misses, later.stored) == (2, 1, 2)


def test_structured_requests_and_float_answers_come_back_equal(store):
    """Conversations (nested tuples), non-ASCII text and float scores survive the store bit for bit."""
    request = ((("system", "你是助手"), ("user", "Wer bist du?")), "continuation")
    answer = (-0.28346729278564453, 3)
    _cache(store({})).answer("m", "loglikelihood", [request], lambda todo: [answer])
    again = _cache(store({}))
    assert again.answer("m", "loglikelihood", [request], lambda todo: pytest.fail("recomputed")) == [answer]


def test_another_fingerprint_model_or_request_kind_recomputes(store):
    calls = []
    _cache(store({"torch": "x"})).answer("m", "generate:48", ["a"], _upper(calls))
    other_env = _cache(store({"torch": "y"}))
    other_env.answer("m", "generate:48", ["a"], _upper(calls))
    other_model = _cache(store({"torch": "x"}))
    other_model.answer("m2", "generate:48", ["a"], _upper(calls))
    other_settings = _cache(store({"torch": "x"}))  # another --max-new-tokens is another request kind
    other_settings.answer("m", "generate:16", ["a"], _upper(calls))
    assert calls == [["a"]] * 4 and other_env.stored == other_model.stored == other_settings.stored == 0


def test_processes_storing_the_same_file_keep_each_others_answers(store):
    calls = []
    worker_a, worker_b = _cache(store({})), _cache(store({}))
    for cache in (worker_a, worker_b):
        cache.answer("m", "gen", [], _upper(calls))  # both have read the (empty) store
    worker_a.answer("m", "gen", ["a"], _upper(calls))
    worker_b.answer("m", "gen", ["b"], _upper(calls))
    later = _cache(store({}))
    assert later.answer("m", "gen", ["a", "b"], _upper(calls)) == [("A", 1), ("B", 1)] and later.misses == 0


def test_a_reader_that_does_not_write_leaves_the_store_as_it_was(store):
    """Under accelerate launch only process 0 writes: the others compute without storing."""
    calls = []
    reader = RequestCache()
    reader.persist(store({}), write=False)
    reader.answer("m", "gen", ["a"], _upper(calls))
    assert _cache(store({})).answer("m", "gen", ["a"], _upper(calls)) and calls == [["a"], ["a"]]


def test_unreadable_json_store_is_recomputed_not_trusted(tmp_path):
    calls = []
    _cache(FolderStore(tmp_path, {})).answer("m", "gen", ["a"], _upper(calls))
    for stored in tmp_path.glob("*.json"):
        stored.write_text('{"answers": [["a", ')  # cut short, as by a full disk
    again = _cache(FolderStore(tmp_path, {}))
    assert again.answer("m", "gen", ["a"], _upper(calls)) == [("A", 1)] and calls == [["a"], ["a"]]


def test_sqlite_store_is_one_self_describing_file(tmp_path):
    """One row per answer, keyed by model, request kind, fingerprint and request; the fingerprint spelled out."""
    path = tmp_path / "nested" / "requests.sqlite"
    _cache(SqliteStore(path, {"torch": "2.13.0"})).answer("base+adapter", "generate:48", ["a", "b"], _upper([]))
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT model_id, kind, request, answer FROM answers ORDER BY request").fetchall()
        spelled = db.execute("SELECT spelled_out FROM fingerprints").fetchall()
    assert rows == [("base+adapter", "generate:48", '"a"', '["A",1]'), ("base+adapter", "generate:48", '"b"',
                                                                         '["B",1]')]
    assert spelled == [('{"torch": "2.13.0"}',)]


class Counting:
    """A backend spy: forwards every request to `inner` and records which requests reached it."""

    def __init__(self, inner) -> None:
        self.inner, self.seen = inner, []

    def __getattr__(self, attribute):
        return getattr(self.inner, attribute)

    def generate(self, conversations, max_new_tokens=None):
        self.seen += [("generate", c) for c in conversations]
        return self.inner.generate(conversations, max_new_tokens)

    def loglikelihood(self, examples):
        self.seen += [("loglikelihood", ex.id) for ex in examples]
        return self.inner.loglikelihood(examples)

    def text_loglikelihood(self, texts, window=256, stride=192):
        self.seen += [("text", t) for t in texts]
        return self.inner.text_loglikelihood(texts, window, stride)


def _fake_backend(request, dev):
    from tests.fakes import fake_pair
    return fake_pair(dev, wrong=3)[1]


def _hf_backend(request, dev):
    """The built-in base model, plain (no adapter), computing every request itself."""
    from harness.model.lm import HFLanguageModel
    model, tokenizer = request.getfixturevalue("base_model").load()
    return HFLanguageModel(model, tokenizer, name="base", batch_size=8, max_new_tokens=8)


BACKENDS = {"fake": _fake_backend, "hf": _hf_backend}


@pytest.fixture(params=sorted(BACKENDS))
def backend_and_dev(request, project_root):
    """(an uncached backend, a few dev examples) for each backend the caching wrapper must serve."""
    dev = load_examples(project_root / "fixtures/tasks/base/dev.json")[:6]
    return BACKENDS[request.param](request, dev), dev


def _ask_everything(model, dev):
    prompts = [ex.messages for ex in dev]
    return (model.generate(prompts + prompts[:2]), model.loglikelihood(dev),
            model.text_loglikelihood([ex.answer for ex in dev], 16, 8))


def test_the_caching_wrapper_computes_each_request_once_on_any_backend(backend_and_dev):
    from harness.model.caching import CachingModel
    backend, dev = backend_and_dev
    uncached = _ask_everything(backend, dev)
    spy = Counting(backend)
    cached = CachingModel(spy, RequestCache(), "weights-digest")
    assert _ask_everything(cached, dev) == uncached  # the wrapper changes no answer
    first = list(spy.seen)
    assert len(first) == 3 * len(dev)  # the two repeated prompts of the first call were asked once
    assert _ask_everything(cached, dev) == uncached and spy.seen == first  # the second time: nothing computed
    assert cached.name == backend.name and cached.timed_generate([dev[0].messages], 2) > 0  # timing: never cached


def test_the_caching_wrapper_reuses_a_persisted_store_on_any_backend(backend_and_dev, tmp_path):
    from harness.model.caching import CachingModel
    backend, dev = backend_and_dev
    _ask_everything(CachingModel(backend, _cache(SqliteStore(tmp_path / "r.sqlite", {})), "digest"), dev)
    spy = Counting(backend)
    later = CachingModel(spy, _cache(SqliteStore(tmp_path / "r.sqlite", {})), "digest")
    assert _ask_everything(later, dev) == _ask_everything(backend, dev) and spy.seen == []
    other_weights = Counting(backend)
    _ask_everything(CachingModel(other_weights, _cache(SqliteStore(tmp_path / "r.sqlite", {})), "other"), dev)
    assert len(other_weights.seen) == 3 * len(dev)  # another model identity shares nothing
