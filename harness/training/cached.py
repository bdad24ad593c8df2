"""The model cache (`--cache-dir`) checked before it is trusted: a complete entry (`<kind>-<hash>/`) is used only
when its key file is the key its name was hashed from, and a trained adapter's only when its training log and
summary read back as the trainer wrote them. An entry that fails is rebuilt in its place (retrained, for an
adapter); `model_cache_warnings` names them at configure time. Half-written entries (a crash during a build leaves
only a hidden staging folder) are never seen as entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.foundation.cache import COMPLETE_MARKER, ENTRY_NAME, cache_root_label, entry_problem
from harness.foundation.errors import summary
from harness.foundation.values import is_number, is_whole

LOG_FILE, INFO_FILE = "training_log.json", "training_info.json"


class CachedEntryError(ValueError):
    """A cached adapter's training log or summary that does not read back as the trainer wrote it."""


def training_files(folder: Path) -> tuple[list[dict], dict]:
    """The training log (a list of steps, each with a whole-number `step` and a numeric or null `loss`) and the
    summary (an object) kept next to a cached adapter; a CachedEntryError naming the file otherwise."""
    log, info = _json(folder / LOG_FILE), _json(folder / INFO_FILE)
    if not isinstance(log, list):
        raise CachedEntryError(f"{LOG_FILE}: expected a list of logged steps, got {type(log).__name__}")
    for index, step in enumerate(log):
        if not (isinstance(step, dict) and _whole(step.get("step")) and _loss(step.get("loss", None))):
            raise CachedEntryError(f"{LOG_FILE}: entry {index} must have a whole-number 'step' and a numeric or "
                                   f"null 'loss', got {str(step)[:60]}")
    if not isinstance(info, dict):
        raise CachedEntryError(f"{INFO_FILE}: expected an object, got {type(info).__name__}")
    return log, info


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise CachedEntryError(f"{path.name}: missing") from err
    except (OSError, ValueError) as err:
        raise CachedEntryError(f"{path.name}: unreadable ({type(err).__name__}: {summary(err)})") from err


def _whole(value: Any) -> bool:
    return is_whole(value) and value >= 0


def _loss(value: Any) -> bool:
    return value is None or is_number(value)


def adapter_entry_problem(folder: Path) -> str | None:
    """Why a cached adapter cannot be trusted (its key, training log or summary), or None when it can."""
    if problem := entry_problem(folder):
        return problem
    try:
        training_files(folder)
    except CachedEntryError as err:
        return str(err)
    return None


def model_cache_warnings(root: Path) -> list[str]:
    """One warning naming the complete entries of the cache at `root` that cannot be trusted (they are rebuilt
    when a run needs them), or none."""
    if not root.is_dir():
        return []
    bad = []
    for entry in sorted(root.iterdir()):
        name = ENTRY_NAME.fullmatch(entry.name)
        if name is None or entry.name.startswith("."):
            continue
        if not entry.is_dir():
            bad.append(f"{entry.name}: a file where a cache entry belongs")
        elif (entry / COMPLETE_MARKER).exists():
            check = adapter_entry_problem if name["kind"].startswith("adapter-") else entry_problem
            if problem := check(entry):
                bad.append(f"{entry.name}: {problem}")
    if not bad:
        return []
    entries = f"{len(bad)} cache entr{'y' if len(bad) == 1 else 'ies'}"
    return [f"{cache_root_label(root)} {root}: {entries} cannot be trusted, first {bad[0]}; rebuilt (an adapter "
            "retrained) when a run needs it, replacing the entry"]
