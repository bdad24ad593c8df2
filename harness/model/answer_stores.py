"""Where a `RequestCache` keeps answers between sessions: `FolderStore` (JSON files, the default under
`<cache-dir>/answers/`) or `SqliteStore` (one SQLite file, `--request-cache PATH`).

Both key an answer by (model identity, request kind, request) under a fingerprint of everything else that decides
it (library versions, device, dtype, threads, batch size, harness code). The model identity is the base model's
digest plus the adapter's, the request kind carries the generation settings (`generate:48`, windows and strides),
so an answer is reused only where recomputing it would give the same bytes. Several processes (xdist workers) may
write one store: the folder store merges under a file lock, SQLite under its own locking. A store that cannot be
read is recomputed, never trusted: every answer read back must be of its request kind's type (text for `generate`,
[log-probability, token count] for log-likelihoods), or it is computed again. A write that fails raises
`StoreWriteError`; the request cache then stops writing for the session (`harness/model/requests.py`).
`harness/model/store_checks.py` checks a store at configure time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Hashable, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock

from harness.foundation.cache import atomic_write_text, can_write, content_hash
from harness.foundation.errors import summary
from harness.foundation.values import is_number, is_whole

SQLITE_MAGIC = b"SQLite format 3\x00"
SCHEMA_VERSION = 1  # the request cache's `PRAGMA user_version` (0: written before it was set; same tables)
TABLES = {"answers": ("model_id", "kind", "fingerprint", "request", "answer"),
          "fingerprints": ("fingerprint", "spelled_out")}
WAIT_S = 120.0  # how long a write waits for another process's lock on the request cache
Pairs = list[tuple[Hashable, Any]]


class StoreWriteError(OSError):
    """Answers could not be kept in a store (a full disk, a read-only file, a lock held too long): the message
    names the store; the run goes on with the answers not cached."""


class AnswerStore(Protocol):
    """Answers kept between sessions, read and written per (model identity, request kind)."""

    def read(self, model_id: str, kind: str) -> Pairs:
        """The stored (request, answer) pairs (none when nothing readable is stored)."""

    def write(self, model_id: str, kind: str, pairs: Pairs) -> None:
        """Add `pairs`, keeping what another process stored meanwhile; a `StoreWriteError` when it cannot."""

    def writable(self) -> bool:
        """Whether this process may add answers to the store."""


class FolderStore:
    """One JSON file per (model identity, request kind, fingerprint) in `folder`, written atomically."""

    def __init__(self, folder: Path, fingerprint: Mapping[str, Any]) -> None:
        self.folder, self.fingerprint = Path(folder), dict(fingerprint)

    def _file(self, model_id: str, kind: str) -> Path:
        return self.folder / f"{kind.split(':')[0]}-{content_hash([model_id, kind, self.fingerprint])[:24]}.json"

    def read(self, model_id: str, kind: str) -> Pairs:
        """The trusted pairs in this key's file (none when it is missing or cut short)."""
        return read_answer_file(self._file(model_id, kind))[0]

    def write(self, model_id: str, kind: str, pairs: Pairs) -> None:
        """Merge `pairs` into this key's file under the folder's lock."""
        path = self._file(model_id, kind)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(self.folder / ".lock")):
                merged = dict(self.read(model_id, kind))
                merged.update(pairs)
                atomic_write_text(path, json.dumps({"model_id": model_id, "kind": kind,
                                                    "fingerprint": self.fingerprint,
                                                    "answers": list(merged.items())}, ensure_ascii=False))
        except OSError as err:
            raise StoreWriteError(f"{self.folder}: {err.strerror or err}") from err

    def writable(self) -> bool:
        """Whether the folder (or the nearest one above it, where it will be created) may be written."""
        return can_write(nearest_existing(self.folder))


class SqliteStore:
    """Every answer a row of one SQLite file: (model_id, kind, fingerprint, request) -> answer, JSON-encoded, with
    the fingerprints spelled out in their own table so the file explains itself. The tables are created by the
    first write."""

    def __init__(self, path: Path, fingerprint: Mapping[str, Any]) -> None:
        self.path, self.fingerprint = Path(path), content_hash(dict(fingerprint))
        self.spelled_out = json.dumps(dict(fingerprint), sort_keys=True)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=WAIT_S)

    def read(self, model_id: str, kind: str) -> Pairs:
        """The trusted rows stored under this key and fingerprint (none when the file cannot be read)."""
        try:
            with closing(self._connect()) as db:
                rows = db.execute("SELECT request, answer FROM answers WHERE model_id = ? AND kind = ? AND "
                                  "fingerprint = ?", (model_id, kind, self.fingerprint)).fetchall()
        except sqlite3.Error:
            return []
        return [pair for request, answer in rows if (pair := decoded_pair(kind, request, answer)[0]) is not None]

    def write(self, model_id: str, kind: str, pairs: Pairs) -> None:
        """Insert (or replace) one row per pair in a single transaction."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                self._create(db)
                db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                               [(model_id, kind, self.fingerprint, _encoded(request), _encoded(answer))
                                for request, answer in pairs])
        except (OSError, sqlite3.Error) as err:
            raise StoreWriteError(f"--request-cache {self.path}: {err}") from err

    def _create(self, db: sqlite3.Connection) -> None:
        """The tables (those of TABLES), this fingerprint spelled out, and the schema version."""
        db.execute("CREATE TABLE IF NOT EXISTS answers (model_id TEXT, kind TEXT, fingerprint TEXT, request TEXT, "
                   "answer TEXT, PRIMARY KEY (model_id, kind, fingerprint, request))")
        db.execute("CREATE TABLE IF NOT EXISTS fingerprints (fingerprint TEXT PRIMARY KEY, spelled_out TEXT)")
        db.execute("INSERT OR IGNORE INTO fingerprints VALUES (?, ?)", (self.fingerprint, self.spelled_out))
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def writable(self) -> bool:
        """Whether the file (and its folder, where SQLite keeps its journal) may be written."""
        folder = nearest_existing(self.path.parent)
        return can_write(folder) and (not self.path.exists() or can_write(self.path))


def nearest_existing(path: Path) -> Path:
    """`path`, or the nearest folder above it that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def read_answer_file(path: Path) -> tuple[Pairs, str | None]:
    """The trusted (request, answer) pairs of one file of a `FolderStore`, and why any were not trusted (None when
    all were, or when the file is missing)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], None
    except (OSError, ValueError) as err:
        return [], f"unreadable ({type(err).__name__}: {summary(err)})"
    if not (isinstance(stored, dict) and isinstance(stored.get("kind"), str) and isinstance(stored.get("answers"),
                                                                                             list)):
        return [], "expected an object with keys 'kind' (text) and 'answers' (a list)"
    pairs, problems = [], []
    for index, pair in enumerate(stored["answers"]):
        if not (isinstance(pair, list) and len(pair) == 2):
            problems.append(f"answers[{index}]: expected [request, answer]")
            continue
        request, answer = _frozen(pair[0]), _frozen(pair[1])
        if problem := pair_problem(stored["kind"], request, answer):
            problems.append(f"answers[{index}]: {problem}")
        else:
            pairs.append((request, answer))
    return pairs, (f"{problems[0]} ({len(problems)} of {len(stored['answers'])} answers)" if problems else None)


def decoded_pair(kind: str, request: Any, answer: Any) -> tuple[tuple[Hashable, Any] | None, str | None]:
    """A request cache row's (request, answer), or None and why it cannot be trusted."""
    if not (isinstance(request, str) and isinstance(answer, str)):
        return None, f"request and answer must be JSON text, got {type(request).__name__} and {type(answer).__name__}"
    try:
        pair = _frozen(json.loads(request)), _frozen(json.loads(answer))
    except ValueError as err:
        return None, f"not JSON ({err})"
    problem = pair_problem(kind, *pair)
    return (None, problem) if problem else (pair, None)


def pair_problem(kind: str, request: Any, answer: Any) -> str | None:
    """Why a stored answer cannot be what a request of `kind` returns (None when it can): `generate:*` answers are
    text, `loglikelihood` and `text_loglikelihood:*` a [log-probability, token count], `prompt_tokens` a count;
    other kinds (a backend's own) are taken as stored.

    >>> pair_problem("loglikelihood", "q", "high"), pair_problem("generate:48", "q", "Velmar")
    ("answer must be [log-probability, token count], got 'high'", None)
    """
    try:
        hash(request)
    except TypeError:
        return f"request must be text or a list, got {type(request).__name__}"
    family = kind.split(":")[0]
    if family == "generate" and not isinstance(answer, str):
        return f"answer must be text, got {_short(answer)}"
    if family in ("loglikelihood", "text_loglikelihood") and not (
            isinstance(answer, tuple) and len(answer) == 2 and is_number(answer[0]) and _count(answer[1])):
        return f"answer must be [log-probability, token count], got {_short(answer)}"
    if family == "prompt_tokens" and not _count(answer):
        return f"answer must be a token count, got {_short(answer)}"
    return None


def _count(value: Any) -> bool:
    return is_whole(value) and value >= 0


def _short(value: Any) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 40 else text[:37] + "..."


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
