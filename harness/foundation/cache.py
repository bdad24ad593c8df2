"""Content-addressed artifact cache: build once per content hash, safely across pytest-xdist workers.

An artifact (the built-in model, a trained adapter) lives in `<root>/<kind>-<hash>/`. The hash covers
everything that determines the artifact's bytes. Building happens under a file lock into a temporary folder
that is renamed into place only when complete, so a crash never leaves a half-written artifact and two
workers never build the same thing twice. An entry is trusted only when its `cache_key.json` is the key its name
was hashed from (and passes the kind's own check, `problem`): one that is not is rebuilt in its place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

COMPLETE_MARKER = ".complete"
KEY_FILE = "cache_key.json"
DEFAULT_CACHE_ENV = "TUNEGATE_CACHE_DIR"
ENTRY_NAME = re.compile(r"(?P<kind>.+)-(?P<hash>[0-9a-f]{20})")
EntryCheck = Callable[[Path], str | None]


def content_hash(payload: Any) -> str:
    """SHA-256 of a JSON-serialisable payload in canonical form (sorted keys, no whitespace).

    >>> content_hash({"b": 1, "a": [1, 2]}) == content_hash({"a": [1, 2], "b": 1})
    True
    """
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def directory_digest(path: Path, patterns: tuple[str, ...] = ("*.json", "*.safetensors", "*.txt")) -> str:
    """SHA-256 over (relative name, file digest) of the files in `path` matching `patterns`."""
    files = sorted({p for pattern in patterns for p in Path(path).glob(pattern) if p.is_file()})
    return content_hash([(p.name, file_digest(p)) for p in files])


def resolve_cache_root(explicit: str | Path | None, default: Path) -> Path:
    """The cache root: an explicit option, else $TUNEGATE_CACHE_DIR, else `default`. A variable that holds only
    blanks, or names a file, raises ValueError naming the variable (empty counts as unset)."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    variable = os.environ.get(DEFAULT_CACHE_ENV, "")
    if variable and not variable.strip():
        raise ValueError(f"environment variable {DEFAULT_CACHE_ENV}={variable!r} holds only blanks: set it to a "
                         "folder, or unset it (the cache is then .tunegate-cache)")
    chosen = Path(variable).expanduser().resolve() if variable else default.resolve()
    if variable and chosen.exists() and not chosen.is_dir():
        raise ValueError(f"environment variable {DEFAULT_CACHE_ENV}={variable!r}: {chosen} is a file, expected the "
                         "cache folder (created when missing); point it at a folder, or pass --cache-dir DIR")
    return chosen


def cache_root_label(root: Path) -> str:
    """How a message names the cache root: `$TUNEGATE_CACHE_DIR` when that variable chose it, else `--cache-dir`
    (a user who never passed --cache-dir would not know what to fix)."""
    variable = os.environ.get(DEFAULT_CACHE_ENV, "").strip()
    chosen = variable and Path(variable).expanduser().resolve() == Path(root).resolve()
    return f"${DEFAULT_CACHE_ENV}" if chosen else "--cache-dir"


def _artifact_folder(root: Path, kind: str, payload: Any) -> Path:
    return Path(root) / f"{kind}-{content_hash(payload)[:20]}"


def entry_problem(folder: Path) -> str | None:
    """Why the complete cache entry `folder` cannot be trusted (its key file missing, unreadable or not the key its
    name was hashed from: a foreign or edited entry), or None when it can."""
    name = ENTRY_NAME.fullmatch(folder.name)
    try:
        key = json.loads((folder / KEY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return f"{KEY_FILE} unreadable ({type(err).__name__})"
    if name is None or content_hash(key)[:20] != name["hash"]:
        return f"{KEY_FILE} is not the key this entry's name was made from (a foreign or edited entry)"
    return None


def _trusted(target: Path, problem: EntryCheck) -> bool:
    return target.is_dir() and (target / COMPLETE_MARKER).exists() and problem(target) is None


def cached_folder(root: Path, kind: str, payload: Any, problem: EntryCheck = entry_problem) -> Path | None:
    """The complete, trusted artifact keyed by `payload`, or None when there is none (nothing is built here)."""
    target = _artifact_folder(root, kind, payload)
    return target if _trusted(target, problem) else None


def cached_artifact(root: Path, kind: str, payload: Any, build: Callable[[Path], None],
                    problem: EntryCheck = entry_problem) -> tuple[Path, bool]:
    """Return (folder, built_now) for the artifact keyed by `payload`, calling `build(tmp_dir)` if absent or not
    trusted (`problem(folder)` says why; a half-written, foreign or damaged entry is replaced).

    `build` writes the artifact's files into the folder it is given; the folder becomes visible under its
    final name only after `build` returns.
    """
    target = _artifact_folder(root, kind, payload)
    if _trusted(target, problem):
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if _trusted(target, problem):
            return target, False
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            build(staging)
            (staging / KEY_FILE).write_text(json.dumps(payload, indent=1, sort_keys=True, default=str))
            (staging / COMPLETE_MARKER).touch()
            _remove(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target, True


def _remove(path: Path) -> None:
    """Remove the untrusted entry at `path`: a folder, or a file or link in its place."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def can_write(folder: Path) -> bool:
    """Whether this process may create files in `folder` (or change the file `folder`)."""
    return os.access(folder, os.W_OK | os.X_OK) if Path(folder).is_dir() else os.access(folder, os.W_OK)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write into; on success it replaces `path` (a rename), on failure it is
    removed, so readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file and rename, so readers never see a partial file."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
