"""`RequestCache`: answers of model calls, keyed by (model identity, request kind, request).

Every `LanguageModel` view in a session shares one cache, so suites that ask the same question of the same
weights (the base model's answers to the dev set, say) compute it once. The identity is the base model's
content digest plus the adapter's (or "base" for the adapter-free view), so two views over different peft
wrappers of the same base share their base answers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any


class RequestCache:
    """Memoised model calls; `hits` and `misses` count requests answered from and added to the cache."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str, Hashable], Any] = {}
        self.hits = 0
        self.misses = 0

    def answer(self, model_id: str, kind: str, requests: Sequence[Hashable],
               compute: Callable[[list], list]) -> list:
        """The answers to `requests`, calling `compute` once on the distinct requests not yet cached."""
        missing = list(dict.fromkeys(r for r in requests if (model_id, kind, r) not in self._answers))
        if missing:
            for request, value in zip(missing, compute(missing), strict=True):
                self._answers[model_id, kind, request] = value
        self.misses += len(missing)
        self.hits += len(requests) - len(missing)
        return [self._answers[model_id, kind, r] for r in requests]
