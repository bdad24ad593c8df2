"""`RequestCache`: answers of model calls, keyed by (model identity, request kind, request).

Every `LanguageModel` view in a session shares one cache, so suites that ask the same question of the same
weights (the base model's answers to the dev set, say) compute it once. The identity is the base model's
content digest plus the adapter's (or "base" for the adapter-free view), so two views over different peft
wrappers of the same base share their base answers.

With `persist(store)` the answers also outlive the session, in an `AnswerStore` (`harness/model/answer_stores.py`):
JSON files under the cache folder by default, or one SQLite file (`--request-cache PATH`). A write the store cannot
make (a full disk, a lock held too long) is one warning: the session goes on computing, keeping nothing more there.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from harness.foundation.errors import InputWarning
from harness.model.answer_stores import AnswerStore, StoreWriteError


class RequestCache:
    """Memoised model calls; `hits` and `misses` count requests answered from and added to the cache, `stored`
    the hits that came from answers kept on disk by an earlier session."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str, Hashable], Any] = {}
        self._store: AnswerStore | None = None
        self._write = True
        self._loaded: set[tuple[str, str]] = set()
        self._from_disk: set[tuple[str, str, Hashable]] = set()
        self.hits = 0
        self.misses = 0
        self.stored = 0

    def persist(self, store: AnswerStore, write: bool = True) -> None:
        """Reuse the answers kept in `store`, and (with `write`; one process of an `accelerate launch` writes) keep
        new ones there."""
        self._store, self._write = store, write

    def answer(self, model_id: str, kind: str, requests: Sequence[Hashable],
               compute: Callable[[list], list]) -> list:
        """The answers to `requests`, calling `compute` once on the distinct requests not yet cached."""
        self._load(model_id, kind)
        missing = list(dict.fromkeys(r for r in requests if (model_id, kind, r) not in self._answers))
        if missing:
            computed = list(zip(missing, compute(missing), strict=True))
            for request, value in computed:
                self._answers[model_id, kind, request] = value
            self._keep(model_id, kind, computed)
        self.misses += len(missing)
        self.hits += len(requests) - len(missing)
        self.stored += sum((model_id, kind, r) in self._from_disk for r in requests)
        return [self._answers[model_id, kind, r] for r in requests]

    def _keep(self, model_id: str, kind: str, computed: list) -> None:
        """Write `computed` to the store; after a write that fails, say so once and write no more."""
        if self._store is None or not self._write:
            return
        try:
            self._store.write(model_id, kind, computed)
        except StoreWriteError as err:
            self._write = False
            warnings.warn(InputWarning(f"{err}: answers are not cached from here on (the run goes on; they are "
                                       "computed again next time)"), stacklevel=3)

    def _load(self, model_id: str, kind: str) -> None:
        if self._store is None or (model_id, kind) in self._loaded:
            return
        self._loaded.add((model_id, kind))
        for request, value in self._store.read(model_id, kind):
            key = (model_id, kind, request)
            if key not in self._answers:
                self._answers[key] = value
                self._from_disk.add(key)
