"""The value types of the JSON documents earlier runs wrote (stored baselines, results.json): each value checked
against what the writer puts there, so that a hand-edited or merge-resolved file is refused at load with one
message naming the file and the key path (`metrics[2].value`), instead of crashing the tests that read it.

>>> check_fields(Path("b.json"), "metrics[0]", {"name": "em", "value": "0.9"}, {"name": TEXT, "value": NUMBER},
...              ValueError)
Traceback (most recent call last):
...
ValueError: b.json: key metrics[0].value is '0.9' (text), expected a number
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.foundation.values import is_number, is_whole


@dataclass(frozen=True)
class Kind:
    """A value type of a document: its name in messages and the test a value must pass."""

    name: str
    test: Callable[[object], bool]


def _number(value: object) -> bool:
    return is_number(value) and math.isfinite(value)


TEXT = Kind("text", lambda v: isinstance(v, str))
NUMBER = Kind("a number", _number)
NUMBER_OR_NULL = Kind("a number or null", lambda v: v is None or _number(v))
WHOLE_OR_NULL = Kind("a whole number or null", lambda v: v is None or is_whole(v))
TRUTH = Kind("true or false", lambda v: isinstance(v, bool))
CORRECTNESS = Kind("true, false, 0, 1 or null", lambda v: v is None or v in (0, 1))
OBJECT = Kind("an object", lambda v: isinstance(v, dict))
LIST = Kind("a list", lambda v: isinstance(v, list))


def shown(value: object) -> str:
    """A value as a message shows it: its JSON-like text and, unless a number, its type.

    >>> shown("0.9"), shown(None), shown(float("nan")), shown([1]), shown(True)
    ("'0.9' (text)", 'null', 'NaN', '[1] (a list)', 'true')
    """
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity"
    if isinstance(value, int | float):
        return repr(value)
    names: dict[type, str] = {str: "text", list: "a list", dict: "an object"}
    kind = names.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{text[:40]}{'...' if len(text) > 40 else ''} ({kind})"


def check_fields(path: Path, where: str, entry: Mapping[str, object], kinds: Mapping[str, Kind],
                 error: type[Exception], required: tuple[str, ...] = (), advice: str = "") -> None:
    """`error` naming `path` and the key path of the first of `required` that `entry` lacks, or of the first value
    whose key is in `kinds` and whose type is not that kind (keys of neither are left alone); `advice` ends it."""
    prefix, end = f"{where}." if where else "", f"; {advice}" if advice else ""
    for key in required:
        if key not in entry:
            raise error(f"{path}: key {prefix}{key} missing (expected {kinds[key].name}){end}")
    for key, kind in kinds.items():
        if key in entry and not kind.test(entry[key]):
            raise error(f"{path}: key {prefix}{key} is {shown(entry[key])}, expected {kind.name}{end}")
