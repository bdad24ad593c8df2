"""Type-and-range checks of a JSON document's keys, as a table: key -> (check, what it must be).

Model folders hold JSON that libraries read into attributes without checking (`adapter_config.json`, `config.json`,
`tokenizer_config.json`); each loader states its keys' types once in a `KeyTable` and `check_keys` names the first
key that breaks it, with the file, what it must be and what it is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.foundation.errors import ModelFolderError
from harness.foundation.values import is_whole

Check = Callable[[object], bool]
KeyTable = dict[str, tuple[Check, str]]


def positive_integer(v: object) -> bool:
    """A whole number above 0."""
    return is_whole(v) and v > 0


def names(v: object) -> bool:
    """A list of strings."""
    return isinstance(v, list) and all(isinstance(n, str) for n in v)


def optional(check: Check) -> Check:
    """`check`, or null."""
    return lambda v: v is None or check(v)


def check_keys(path: Path, document: dict, table: KeyTable, fix: str, required: tuple[str, ...] = ()) -> None:
    """Every key of `table` that `document` has (and each of `required`, present or not) passes its check: a
    ModelFolderError naming the file, the key, what it must be, what it is and `fix` otherwise."""
    for key, (check, expected) in table.items():
        if (key in document or key in required) and not check(document.get(key)):
            raise ModelFolderError(f"{path}: key {key!r} must be {expected}, got {document.get(key)!r}; {fix}")
