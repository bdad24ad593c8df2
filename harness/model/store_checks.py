"""The answer stores checked before they are trusted, at configure time (`harness/plugin/preflight.py`).

The request cache (`--request-cache`, SQLite): another program's database (tables other than tunegate's) or a
newer tunegate's (a higher `user_version`) is refused untouched; one another process keeps locked past
`CHECK_WAIT_S` is refused; a damaged one (cut short, corrupted pages) is moved aside (`<name>.damaged`) and a fresh
store started; rows of the wrong type are ignored and recomputed; a read-only one is read, not written. The answer
folder (`<cache-dir>/answers/`): a file in its place is refused; files that cannot be trusted are ignored and
replaced when recomputed; a read-only folder is read, not written. Each is one message naming the file.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from harness.foundation.cache import cache_root_label
from harness.foundation.errors import CacheError
from harness.model.answer_stores import SCHEMA_VERSION, TABLES, FolderStore, SqliteStore, decoded_pair, read_answer_file

CHECK_WAIT_S = 10.0  # how long the configure-time check waits for another process's lock on the request cache
FLAG = "--request-cache"
SIDE_FILES = ("-journal", "-wal", "-shm")  # SQLite's files beside a database, moved aside with it


def check_request_cache(path: Path) -> list[str]:
    """Refuse (CacheError) a request cache tunegate may not use; move a damaged one aside; return warnings."""
    if not (path.is_file() and path.stat().st_size):
        return []  # created by the first write
    try:
        with closing(_open(path)) as db:
            _check_schema(path, db)
            damage = _damage(db)
            warnings = [] if damage else _untrusted_rows(path, db)
    except sqlite3.DatabaseError as err:
        damage, warnings = _damage_shown_by(path, err), []
    if damage:
        return [_moved_aside(path, damage)]
    if not SqliteStore(path, {}).writable():
        warnings.append(f"{FLAG} {path}: read-only: its answers are reused, new ones are not kept")
    return warnings


def _damage_shown_by(path: Path, err: sqlite3.DatabaseError) -> str:
    """The damage an error shows (a file cut short or corrupted); any other error (a lock, a file SQLite cannot open
    or must write to read) is a CacheError naming the file."""
    name = getattr(err, "sqlite_errorname", "")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return str(err)
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        raise CacheError(f"{FLAG} {path}: locked by another process for over {CHECK_WAIT_S:g} s ({err}); let it "
                         "finish, or give another path") from err
    if name.startswith("SQLITE_READONLY"):
        raise CacheError(f"{FLAG} {path}: read-only, and SQLite must write to read it ({err}: a writer that crashed "
                         "left a journal to roll back); make it writable once, or give another path") from err
    raise CacheError(f"{FLAG} {path}: cannot be read ({name or type(err).__name__}: {err}); check the file and its "
                     "folder, or give another path") from err


def _open(path: Path) -> sqlite3.Connection:
    """A connection that reads `path` without creating it: read-write where it may be written, so that SQLite rolls
    back what a writer that crashed left in its journal (a read-only connection cannot, and fails)."""
    read_only = "" if SqliteStore(path, {}).writable() else "?mode=ro"
    return sqlite3.connect(f"{path.as_uri()}{read_only}", uri=True, timeout=CHECK_WAIT_S)


def _check_schema(path: Path, db: sqlite3.Connection) -> None:
    """Another program's tables, or a newer tunegate's schema version: a CacheError (the file left untouched)."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise CacheError(f"{FLAG} {path}: PRAGMA user_version = {version}, written by a newer tunegate (this one "
                         f"reads schema {SCHEMA_VERSION}); upgrade tunegate or give another path (left untouched)")
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                           "'sqlite_%' ORDER BY name")]
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        columns = tuple(row[1] for row in db.execute(f"PRAGMA table_info({quoted})"))
        if TABLES.get(table) != columns:
            expected = f"columns {', '.join(TABLES[table])}" if table in TABLES else f"only tables {', '.join(TABLES)}"
            raise CacheError(f"{FLAG} {path}: table {table!r} with columns ({', '.join(columns)}) is not a tunegate "
                             f"request cache's ({expected}): another program's database, left untouched; give "
                             "another path")


def _damage(db: sqlite3.Connection) -> str | None:
    """What SQLite's quick check finds wrong with the file (None when nothing)."""
    lines = [line for row in db.execute("PRAGMA quick_check") for line in str(row[0]).splitlines()]
    found = [line for line in lines if line != "ok" and not line.startswith("***")]
    return f"{found[0]} and {len(found) - 1} more findings" if len(found) > 1 else (found[0] if found else None)


def _untrusted_rows(path: Path, db: sqlite3.Connection) -> list[str]:
    """One warning for the rows whose answer is not of their request kind's type (ignored and recomputed)."""
    if "answers" not in {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}:
        return []
    bad, total = [], 0
    for rowid, kind, request, answer in db.execute("SELECT rowid, kind, request, answer FROM answers"):
        total += 1
        if (problem := decoded_pair(str(kind), request, answer)[1]) is not None:
            bad.append(f"row {rowid} (kind {kind!r}): {problem}")
    if not bad:
        return []
    return [f"{FLAG} {path}: {len(bad)} of {total} rows cannot be trusted, first {bad[0]}; they are ignored and "
            "recomputed (a run that asks them again replaces them)"]


def _moved_aside(path: Path, damage: str) -> str:
    """Move a damaged request cache to `<name>.damaged` (or `.damaged-2`, ...); the warning saying so."""
    target, number = path.with_name(path.name + ".damaged"), 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.damaged-{number}")
    try:
        for suffix in ("", *SIDE_FILES):  # a journal left beside a fresh store would be played into it
            if (side := path.with_name(path.name + suffix)).exists():
                side.rename(target.with_name(target.name + suffix))
    except OSError as err:
        raise CacheError(f"{FLAG} {path}: damaged ({damage}) and cannot be moved aside ({err.strerror}); move or "
                         "delete it, or give another path") from err
    return (f"{FLAG} {path}: damaged ({damage}); moved aside to {target.name}, and a fresh store is started (its "
            "answers are computed again)")


def check_answer_folder(folder: Path) -> list[str]:
    """Refuse (CacheError) a file where the answer folder belongs; return warnings: files whose answers cannot be
    trusted (ignored, replaced when recomputed), a folder that is read-only."""
    named = cache_root_label(folder.parent)
    if folder.exists() and not folder.is_dir():
        raise CacheError(f"{named} {folder.parent}: {folder.name} is a file, expected the folder of stored answers "
                         "(created when missing); move or delete it")
    if not folder.is_dir():
        return []
    bad = [(path, problem) for path in sorted(folder.glob("*.json"))
           if (problem := read_answer_file(path)[1]) is not None]
    warnings = [f"{named} {folder}: {len(bad)} stored answer file(s) cannot be trusted, first {bad[0][0].name}: "
                f"{bad[0][1]}; their answers are ignored and recomputed (a run that asks them again replaces the "
                "file)"] if bad else []
    if not FolderStore(folder, {}).writable():
        warnings.append(f"{named} {folder}: read-only: its answers are reused, new ones are not kept")
    return warnings
