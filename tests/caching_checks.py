"""The caching wrapper's checks, run on every backend it must serve: on a fake model in
tests/fast/test_requests.py, on the built-in model in tests/model/test_requests_model.py."""

from __future__ import annotations

from pathlib import Path

from harness.data import load_examples
from harness.model.answer_stores import SqliteStore
from harness.model.caching import CachingModel
from harness.model.requests import RequestCache


def persisting_cache(store) -> RequestCache:
    """A fresh request cache that reads and writes `store`."""
    cache = RequestCache()
    cache.persist(store)
    return cache


def base_dev_examples(project_root: Path):
    """A few dev examples of the base task: what each backend is asked."""
    return load_examples(project_root / "fixtures/tasks/base/dev.json")[:6]


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


def ask_everything(model, dev):
    prompts = [ex.messages for ex in dev]
    return (model.generate(prompts + prompts[:2]), model.loglikelihood(dev),
            model.text_loglikelihood([ex.answer for ex in dev], 16, 8))


def computes_each_request_once(backend, dev) -> None:
    """The wrapper changes no answer, asks the backend each distinct request once, and never caches a timing."""
    uncached = ask_everything(backend, dev)
    spy = Counting(backend)
    cached = CachingModel(spy, RequestCache(), "weights-digest")
    assert ask_everything(cached, dev) == uncached  # the wrapper changes no answer
    first = list(spy.seen)
    assert len(first) == 3 * len(dev)  # the two repeated prompts of the first call were asked once
    assert ask_everything(cached, dev) == uncached and spy.seen == first  # the second time: nothing computed
    assert cached.name == backend.name and cached.timed_generate([dev[0].messages], 2) > 0  # timing: never cached


def reuses_a_persisted_store(backend, dev, tmp_path: Path) -> None:
    """A later wrapper over the same SQLite store computes nothing; another model identity shares nothing."""
    ask_everything(CachingModel(backend, persisting_cache(SqliteStore(tmp_path / "r.sqlite", {})), "digest"), dev)
    spy = Counting(backend)
    later = CachingModel(spy, persisting_cache(SqliteStore(tmp_path / "r.sqlite", {})), "digest")
    assert ask_everything(later, dev) == ask_everything(backend, dev) and spy.seen == []
    other_weights = Counting(backend)
    ask_everything(CachingModel(other_weights, persisting_cache(SqliteStore(tmp_path / "r.sqlite", {})), "other"), dev)
    assert len(other_weights.seen) == 3 * len(dev)  # another model identity shares nothing
