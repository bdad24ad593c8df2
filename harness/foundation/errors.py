"""The one base type of every error a user must fix in what they handed in, and how it is shown.

Each boundary raises its own subclass (`DataError` for datasets and identity files, `GateConfigError`,
`BaselineError`, `ModelFolderError` for base-model and adapter folders, `OutputError` for folders tunegate
writes to, `CacheError` for caches it may not use). Every message starts with the file (and line or key) at
fault, says what was expected and what to do; a library exception it replaces is kept as `__cause__`. The plugin
turns an `InputError` into one usage-error line (exit status 4): at configure time as a `pytest.UsageError`, during
the session by stopping it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

CONFLICT_MARKER = re.compile(r"^(<{7}|\|{7}|={7}|>{7})(?: .*)?$", re.MULTILINE)  # git's unresolved-merge lines


class InputError(ValueError):
    """Bad input: the message names the file (and line or key), what was expected and what to do."""


class ModelFolderError(InputError):
    """A base-model or adapter folder that cannot be used: the message names the file and, where known, the key
    or tensor."""


class OutputError(InputError):
    """A folder or file tunegate must write cannot be written (not writable, a file where a folder belongs)."""


class CacheError(InputError):
    """A cache tunegate keeps (the request cache, the answer folder, the model cache) that it may not use: another
    program's file, a newer tunegate's, or one another process holds locked."""


def read_json(path: Path, text: str, error: type[InputError]) -> object:
    """`text` (the content of `path`) parsed as JSON; `error` naming `path:line:column` when it is not JSON.

    >>> read_json(Path("a.json"), '{"r": 8', InputError)
    Traceback (most recent call last):
    ...
    harness.foundation.errors.InputError: a.json:1:8: not valid JSON (Expecting ',' delimiter)
    >>> conflict = "\\n".join(["{", "<<<<<<< HEAD", '"r": 8', "=======", '"r": 4', ">>>>>>> main", "}"])
    >>> read_json(Path("a.json"), conflict, InputError)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    harness.foundation.errors.InputError: a.json:2: an unresolved merge conflict ('<<<<<<< HEAD'): keep one side ...
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        if marker := CONFLICT_MARKER.search(text):
            line = text.count("\n", 0, marker.start()) + 1
            raise error(f"{path}:{line}: an unresolved merge conflict ({marker.group(0)!r}): keep one side and "
                        "delete the marker lines") from err
        raise error(f"{path}:{err.lineno}:{err.colno}: not valid JSON ({err.msg})") from err
    except RecursionError:  # the parser recurses: lists or objects nested beyond Python's recursion limit
        raise error(f"{path}: not valid JSON here (lists or objects nested too deeply to read); the file was not "
                    "written by the tool that should have written it: restore it") from None


class InputWarning(UserWarning):
    """Input tunegate accepts but a user should look at (an evaluation set sharing records with training data)."""


def summary(error: BaseException) -> str:
    """The first line of a library error's message, with how many lines were left out (peft prints one
    "size mismatch" line per tensor)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return lines[0] + (f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else "")
