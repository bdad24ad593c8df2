"""Typed values of the documents users hand in (identity, recipes, prompt baselines, pyproject tables), checked
one way: each check returns the value or raises the caller's boundary error as `WHERE: key 'K' must be ..., got
...`. A boolean is never a number here (Python counts `True` as the integer 1; a TOML `true` for a count is a
mistake, not a 1).

>>> whole_number(3, "shots", "prompted.toml [new_task]", ValueError)
3
>>> whole_number(True, "shots", "prompted.toml [new_task]", ValueError)
Traceback (most recent call last):
...
ValueError: prompted.toml [new_task]: key 'shots' must be a whole number >= 0, got true (a boolean)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()  # `mapping.get(key, MISSING)`: absent
KINDS = ((bool, "a boolean"), (int, "a whole number"), (float, "a decimal number"), (str, "a string"),
         (list, "a list"), (tuple, "a list"), (dict, "a table"), (type(None), "null"))


def described(value: Any) -> str:
    """A value as a user wrote it, with its kind: `'3' (a string)`, `true (a boolean)`, `16.5 (a decimal number)`.

    >>> described("3"), described([1]), described(None), described(MISSING)
    ("'3' (a string)", '[1] (a list)', 'null', 'nothing (the key is missing)')
    """
    if value is MISSING:
        return "nothing (the key is missing)"
    if value is None:
        return "null"
    kind = next((name for cls, name in KINDS if isinstance(value, cls)), type(value).__name__)
    shown = str(value).lower() if isinstance(value, bool) else repr(value)
    return f"{shown[:60]}{'...' if len(shown) > 60 else ''} ({kind})"


def is_whole(value: object) -> TypeGuard[int]:
    """A whole number, not a boolean (the one test every reader of user documents shares)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """An int or float, not a boolean (infinities and NaN included: callers that refuse them say so)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def refuse(where: str, key: str, expected: str, value: Any, error: type[Exception]) -> Exception:
    """The error `WHERE: key 'K' must be EXPECTED, got VALUE (KIND)` (raise it)."""
    return error(f"{where}: key {key!r} must be {expected}, got {described(value)}")


def whole_number(value: Any, key: str, where: str, error: type[Exception], low: int = 0) -> int:
    """`value` when it is a whole number >= `low` (not a boolean)."""
    if not is_whole(value) or value < low:
        raise refuse(where, key, f"a whole number >= {low}", value, error)
    return value


def number(value: Any, key: str, where: str, error: type[Exception], expected: str = "a number",
           ok: Any = lambda v: True) -> float:
    """`value` when it is a finite int or float (not a boolean) for which `ok(value)` holds; `expected` says the
    range in words ("a number > 0")."""
    if not is_number(value) or not math.isfinite(value) or not ok(value):
        raise refuse(where, key, expected, value, error)
    return value


def text(value: Any, key: str, where: str, error: type[Exception], empty: bool = False) -> str:
    """`value` when it is a string (a non-blank one unless `empty`)."""
    if not isinstance(value, str) or not (empty or value.strip()):
        raise refuse(where, key, "a string" if empty else "a non-empty string", value, error)
    return value


def texts(value: Any, key: str, where: str, error: type[Exception]) -> tuple[str, ...]:
    """`value` as a tuple when it is a list of strings."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise refuse(where, key, "a list of strings", value, error)
    return tuple(value)


def table(value: Any, key: str, where: str, error: type[Exception]) -> Mapping[str, Any]:
    """`value` when it is a table (a mapping)."""
    if not isinstance(value, Mapping):
        raise refuse(where, key, "a table", value, error)
    return value
