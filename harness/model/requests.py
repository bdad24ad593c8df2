"""`RequestCache`: answers of model calls, keyed by (model identity, request kind, request).

Every `LanguageModel` view in a session shares one cache, so suites that ask the same question of the same
weights (the base model's answers to the dev set, say) compute it once. The identity is the base model's
content digest plus the adapter's (or "base" for the adapter-free view), so two views over different peft
wrappers of the same base share their base answers.

With `persist(folder, fingerprint)` the answers also outlive the session: one JSON file per (model identity,
request kind, fingerprint) under `folder`. The fingerprint holds everything besides the weights that decides an
answer (library versions, device, dtype, threads, the harness code that batches and decodes), so a warm run
reuses an answer only where recomputing it would give the same bytes. Files are written atomically under a
file lock, merged with what another process (an xdist worker) stored meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness.cache import atomic_write_text, content_hash


class RequestCache:
    """Memoised model calls; `hits` and `misses` count requests answered from and added to the cache, `stored`
    the hits that came from answers kept on disk by an earlier session."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str, Hashable], Any] = {}
        self._store: Path | None = None
        self._fingerprint: dict = {}
        self._write = True
        self._loaded: set[tuple[str, str]] = set()
        self._from_disk: set[tuple[str, str, Hashable]] = set()
        self.hits = 0
        self.misses = 0
        self.stored = 0

    def persist(self, folder: Path, fingerprint: Mapping[str, Any], write: bool = True) -> None:
        """Reuse the answers stored in `folder` under the same `fingerprint`, and (with `write`; one process of an
        `accelerate launch` writes) keep new ones there."""
        self._store, self._fingerprint, self._write = Path(folder), dict(fingerprint), write

    def answer(self, model_id: str, kind: str, requests: Sequence[Hashable],
               compute: Callable[[list], list]) -> list:
        """The answers to `requests`, calling `compute` once on the distinct requests not yet cached."""
        self._load(model_id, kind)
        missing = list(dict.fromkeys(r for r in requests if (model_id, kind, r) not in self._answers))
        if missing:
            for request, value in zip(missing, compute(missing), strict=True):
                self._answers[model_id, kind, request] = value
            self._save(model_id, kind)
        self.misses += len(missing)
        self.hits += len(requests) - len(missing)
        self.stored += sum((model_id, kind, r) in self._from_disk for r in requests)
        return [self._answers[model_id, kind, r] for r in requests]

    def _file(self, model_id: str, kind: str) -> Path:
        return self._store / f"{kind.split(':')[0]}-{content_hash([model_id, kind, self._fingerprint])[:24]}.json"

    def _load(self, model_id: str, kind: str) -> None:
        if self._store is None or (model_id, kind) in self._loaded:
            return
        self._loaded.add((model_id, kind))
        for request, value in _read_pairs(self._file(model_id, kind)):
            key = (model_id, kind, request)
            if key not in self._answers:
                self._answers[key] = value
                self._from_disk.add(key)

    def _save(self, model_id: str, kind: str) -> None:
        if self._store is None or not self._write:
            return
        path = self._file(model_id, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self._store / ".lock")):
            merged = dict(_read_pairs(path))
            merged.update((r, v) for (m, k, r), v in self._answers.items() if (m, k) == (model_id, kind))
            atomic_write_text(path, json.dumps({"model_id": model_id, "kind": kind, "fingerprint": self._fingerprint,
                                                "answers": list(merged.items())}, ensure_ascii=False))


def _read_pairs(path: Path) -> list[tuple[Hashable, Any]]:
    """The (request, answer) pairs stored in `path` (none when it is missing or unreadable: recomputed)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return [(_frozen(request), _frozen(value)) for request, value in stored["answers"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _frozen(value: Any) -> Any:
    """JSON lists back into the tuples the requests and answers were (hashable, equal to fresh ones).

    >>> _frozen([[["user", "hi"]], "a"]), _frozen([1.5, 3])
    (((('user', 'hi'),), 'a'), (1.5, 3))
    """
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value
