"""The request cache: each (model identity, request) is computed once per session, across views and suites; stores
persist answers between sessions; the caching wrapper on a fake backend (on the built-in model:
tests/model/test_requests_model.py)."""

from __future__ import annotations

import sqlite3
import warnings

import pytest

from harness.foundation.errors import InputWarning
from harness.model.answer_stores import FolderStore, SqliteStore, StoreWriteError
from harness.model.requests import RequestCache
from tests.caching_checks import (
    base_dev_examples,
    computes_each_request_once,
    persisting_cache,
    reuses_a_persisted_store,
)
from tests.fakes import fake_pair


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


STORES = {"json folder": lambda tmp, fp: FolderStore(tmp / "answers", fp),
          "sqlite": lambda tmp, fp: SqliteStore(tmp / "requests.sqlite", fp)}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path):
    """A fresh store of each kind in tmp_path, as `store(fingerprint)`: every call opens the same file(s)."""
    return lambda fingerprint: STORES[request.param](tmp_path, fingerprint)


def _upper(calls: list):
    def compute(todo):
        calls.append(list(todo))
        return [(r.upper(), len(r)) for r in todo]
    return compute


def test_persisted_answers_are_reused_by_a_later_session(store):
    calls = []
    first = persisting_cache(store({"torch": "x"}))
    assert first.answer("m", "gen", ["ab", "c"], _upper(calls)) == [("AB", 2), ("C", 1)]
    later = persisting_cache(store({"torch": "x"}))
    assert later.answer("m", "gen", ["c", "ab", "new"], _upper(calls)) == [("C", 1), ("AB", 2), ("NEW", 3)]
    assert calls == [["ab", "c"], ["new"]]  # only the unseen request is computed again
    assert (later.hits, later.misses, later.stored) == (2, 1, 2)


def test_structured_requests_and_float_answers_come_back_equal(store):
    """Conversations (nested tuples), non-ASCII text and float scores survive the store bit for bit."""
    request = ((("system", "你是助手"), ("user", "Wer bist du?")), "continuation")
    answer = (-0.28346729278564453, 3)
    persisting_cache(store({})).answer("m", "loglikelihood", [request], lambda todo: [answer])
    again = persisting_cache(store({}))
    assert again.answer("m", "loglikelihood", [request], lambda todo: pytest.fail("recomputed")) == [answer]


def test_another_fingerprint_model_or_request_kind_recomputes(store):
    calls = []
    persisting_cache(store({"torch": "x"})).answer("m", "generate:48", ["a"], _upper(calls))
    other_env = persisting_cache(store({"torch": "y"}))
    other_env.answer("m", "generate:48", ["a"], _upper(calls))
    other_model = persisting_cache(store({"torch": "x"}))
    other_model.answer("m2", "generate:48", ["a"], _upper(calls))
    other_settings = persisting_cache(store({"torch": "x"}))  # another --max-new-tokens is another request kind
    other_settings.answer("m", "generate:16", ["a"], _upper(calls))
    assert calls == [["a"]] * 4 and other_env.stored == other_model.stored == other_settings.stored == 0


def test_processes_storing_the_same_file_keep_each_others_answers(store):
    calls = []
    worker_a, worker_b = persisting_cache(store({})), persisting_cache(store({}))
    for cache in (worker_a, worker_b):
        cache.answer("m", "gen", [], _upper(calls))  # both have read the (empty) store
    worker_a.answer("m", "gen", ["a"], _upper(calls))
    worker_b.answer("m", "gen", ["b"], _upper(calls))
    later = persisting_cache(store({}))
    assert later.answer("m", "gen", ["a", "b"], _upper(calls)) == [("A", 1), ("B", 1)] and later.misses == 0


def test_a_reader_that_does_not_write_leaves_the_store_as_it_was(store):
    """Under accelerate launch only process 0 writes: the others compute without storing."""
    calls = []
    reader = RequestCache()
    reader.persist(store({}), write=False)
    reader.answer("m", "gen", ["a"], _upper(calls))
    assert persisting_cache(store({})).answer("m", "gen", ["a"], _upper(calls)) and calls == [["a"], ["a"]]


def test_unreadable_json_store_is_recomputed_not_trusted(tmp_path):
    calls = []
    persisting_cache(FolderStore(tmp_path, {})).answer("m", "gen", ["a"], _upper(calls))
    for stored in tmp_path.glob("*.json"):
        stored.write_text('{"answers": [["a", ')  # cut short, as by a full disk
    again = persisting_cache(FolderStore(tmp_path, {}))
    assert again.answer("m", "gen", ["a"], _upper(calls)) == [("A", 1)] and calls == [["a"], ["a"]]


class _FullDisk:
    """A store whose every write fails."""

    def read(self, model_id, kind):
        return []

    def write(self, model_id, kind, pairs):
        raise StoreWriteError("store: No space left on device")

    def writable(self):
        return True


def test_a_store_write_that_fails_is_one_warning_and_the_answers_are_still_given():
    cache = persisting_cache(_FullDisk())
    with pytest.warns(InputWarning, match="store: No space left on device: answers are not cached from here on"):
        assert cache.answer("m", "generate:8", ["a"], lambda todo: ["A"]) == ["A"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: no second warning, no second write
        assert cache.answer("m", "generate:8", ["b"], lambda todo: ["B"]) == ["B"]


def test_stored_answers_of_the_wrong_type_are_recomputed(store):
    """A generated answer that is not text, a log-likelihood that is text: never handed back."""
    persisting_cache(store({})).answer("m", "generate:8", ["a"], lambda todo: [5])
    persisting_cache(store({})).answer("m", "loglikelihood", ["a"], lambda todo: ["high"])
    again = persisting_cache(store({}))
    assert again.answer("m", "generate:8", ["a"], lambda todo: ["A"]) == ["A"]
    assert again.answer("m", "loglikelihood", ["a"], lambda todo: [(-1.5, 2)]) == [(-1.5, 2)] and again.stored == 0


def test_sqlite_store_is_one_self_describing_file(tmp_path):
    """One row per answer, keyed by model, request kind, fingerprint and request; the fingerprint spelled out."""
    path = tmp_path / "nested" / "requests.sqlite"
    persisting_cache(SqliteStore(path, {"torch": "2.13.0"})).answer("base+adapter", "generate:48", ["a", "b"],
                                                                    _upper([]))
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT model_id, kind, request, answer FROM answers ORDER BY request").fetchall()
        spelled = db.execute("SELECT spelled_out FROM fingerprints").fetchall()
    assert rows == [("base+adapter", "generate:48", '"a"', '["A",1]'), ("base+adapter", "generate:48", '"b"',
                                                                         '["B",1]')]
    assert spelled == [('{"torch": "2.13.0"}',)]


@pytest.fixture(params=["fake"])
def backend_and_dev(project_root):
    """(an uncached backend, a few dev examples): a fake model here; the built-in model in
    tests/model/test_requests_model.py."""
    dev = base_dev_examples(project_root)
    return fake_pair(dev, wrong=3)[1], dev


def test_the_caching_wrapper_computes_each_request_once_on_any_backend(backend_and_dev):
    computes_each_request_once(*backend_and_dev)


def test_the_caching_wrapper_reuses_a_persisted_store_on_any_backend(backend_and_dev, tmp_path):
    reuses_a_persisted_store(*backend_and_dev, tmp_path)


class Inspectable:
    """A backend that counts prompt tokens and can be looked inside: what the wrapper must pass through."""

    name, device, max_new_tokens = "stub", "cpu", 8

    def __init__(self) -> None:
        self.counted: list = []

    def prompt_tokens(self, conversations):
        self.counted += list(conversations)
        return [len(c) for c in conversations]

    def lora_layers(self):
        return ["layer-0"]

    def merged(self):
        return Inspectable()


def test_the_caching_wrapper_caches_token_counts_keys_a_merged_copy_apart_and_passes_introspection_through():
    from harness.model.caching import CachingModel
    from tests.fakes import FakeModel

    cache, backend = RequestCache(), Inspectable()
    wrapped = CachingModel(backend, cache, "digest")
    conversation = (("user", "hi"),)
    assert wrapped.prompt_tokens([conversation]) == wrapped.prompt_tokens([conversation]) == [1]
    assert backend.counted == [conversation]  # asked once: the second count came from the cache
    assert wrapped.lora_layers() == ["layer-0"]  # what the cache does not hold goes to the backend
    merged = wrapped.merged()
    assert isinstance(merged, CachingModel) and merged.model_id == "digest:merged" and merged.cache is cache
    assert getattr(CachingModel(FakeModel("plain", {}), cache, "fake"), "prompt_tokens", None) is None
