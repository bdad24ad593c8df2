"""Where a `RequestCache` keeps answers between sessions: `FolderStore` (JSON files, the default under
`<cache-dir>/answers/`) or `SqliteStore` (one SQLite file, `--request-cache PATH`).

Both key an answer by (model identity, request kind, request) under a fingerprint of everything else that decides
it (library versions, device, dtype, threads, batch size, harness code). The model identity is the base model's
digest plus the adapter's, the request kind carries the generation settings (`generate:48`, windows and strides),
so an answer is reused only where recomputing it would give the same bytes. Several processes (xdist workers) may
write one store: the folder store merges under a file lock, SQLite under its own locking. A store that cannot be
read is recomputed, never trusted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Hashable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock

from harness.foundation.cache import atomic_write_text, content_hash

SQLITE_MAGIC = b"SQLite format 3\x00"
Pairs = list[tuple[Hashable, Any]]


class AnswerStore(Protocol):
    """Answers kept between sessions, read and written per (model identity, request kind)."""

    def read(self, model_id: str, kind: str) -> Pairs:
        """The stored (request, answer) pairs (none when nothing readable is stored)."""

    def write(self, model_id: str, kind: str, pairs: Pairs) -> None:
        """Add `pairs`, keeping what another process stored meanwhile."""


class FolderStore:
    """One JSON file per (model identity, request kind, fingerprint) in `folder`, written atomically."""

    def __init__(self, folder: Path, fingerprint: Mapping[str, Any]) -> None:
        self.folder, self.fingerprint = Path(folder), dict(fingerprint)

    def _file(self, model_id: str, kind: str) -> Path:
        return self.folder / f"{kind.split(':')[0]}-{content_hash([model_id, kind, self.fingerprint])[:24]}.json"

    def read(self, model_id: str, kind: str) -> Pairs:
        """The pairs in this key's file (none when it is missing or cut short)."""
        try:
            stored = json.loads(self._file(model_id, kind).read_text(encoding="utf-8"))
            return [(_frozen(request), _frozen(value)) for request, value in stored["answers"]]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def write(self, model_id: str, kind: str, pairs: Pairs) -> None:
        """Merge `pairs` into this key's file under the folder's lock."""
        path = self._file(model_id, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.folder / ".lock")):
            merged = dict(self.read(model_id, kind))
            merged.update(pairs)
            atomic_write_text(path, json.dumps({"model_id": model_id, "kind": kind, "fingerprint": self.fingerprint,
                                                "answers": list(merged.items())}, ensure_ascii=False))


class SqliteStore:
    """Every answer a row of one SQLite file: (model_id, kind, fingerprint, request) -> answer, JSON-encoded, with
    the fingerprints spelled out in their own table so the file explains itself."""

    def __init__(self, path: Path, fingerprint: Mapping[str, Any]) -> None:
        self.path, self.fingerprint = Path(path), content_hash(dict(fingerprint))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("CREATE TABLE IF NOT EXISTS answers (model_id TEXT, kind TEXT, fingerprint TEXT, "
                       "request TEXT, answer TEXT, PRIMARY KEY (model_id, kind, fingerprint, request))")
            db.execute("CREATE TABLE IF NOT EXISTS fingerprints (fingerprint TEXT PRIMARY KEY, spelled_out TEXT)")
            db.execute("INSERT OR IGNORE INTO fingerprints VALUES (?, ?)",
                       (self.fingerprint, json.dumps(dict(fingerprint), sort_keys=True)))

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=120)

    def read(self, model_id: str, kind: str) -> Pairs:
        """The rows stored under this key and fingerprint (none when the file cannot be read)."""
        try:
            with closing(self._connect()) as db:
                rows = db.execute("SELECT request, answer FROM answers WHERE model_id = ? AND kind = ? AND "
                                  "fingerprint = ?", (model_id, kind, self.fingerprint)).fetchall()
            return [(_frozen(json.loads(request)), _frozen(json.loads(answer))) for request, answer in rows]
        except (sqlite3.Error, ValueError):
            return []

    def write(self, model_id: str, kind: str, pairs: Pairs) -> None:
        """Insert (or replace) one row per pair in a single transaction."""
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                           [(model_id, kind, self.fingerprint, _encoded(request), _encoded(answer))
                            for request, answer in pairs])


def sqlite_file_problem(path: Path) -> str | None:
    """Why `path` cannot be a request cache (a folder, or a file that is not SQLite), or None when it can (an
    SQLite file, an empty file, or nothing yet)."""
    if path.is_dir():
        return "is a folder, expected an SQLite file (created when missing)"
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as f:
            if f.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                return "is not an SQLite database (left untouched: give a new path or an earlier request cache)"
    return None


def _encoded(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _frozen(value: Any) -> Any:
    """JSON lists back into the tuples the requests and answers were (hashable, equal to fresh ones).

    >>> _frozen([[["user", "hi"]], "a"]), _frozen([1.5, 3])
    (((('user', 'hi'),), 'a'), (1.5, 3))
    """
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value
