"""What each evaluated item contributes to each gate's verdict, recorded on its sample as `score["gates"]`.

Why: a gate's evidence in the report must list exactly the items its n counts, split into those that pass and
those that fail (or, for a paired difference, those lost, gained and unchanged), whichever evaluator measured
them. The evaluator knows each item's part; the report knows the gate's threshold. A part is recorded as one of:

- `True` / `False`: the item meets / misses the gate's own criterion (an exact match, a claim, no leak);
- a number: the item's own figure (its chrF, its perplexity ratio, a layer's entropy), judged against the
  gate's threshold in the report;
- `[before, after]` (or `[before, after, "prompted"]`): a paired difference, whether the item was right
  before (the base model, or the model named third) and after.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}  # a gate's comparisons
PAIRED_ROLES = {(True, False): "lost", (False, True): "gained", (True, True): "both right",
                (False, False): "both wrong"}
ROLE_ORDER = ("fail", "lost", "both wrong", "gained", "both right", "pass")  # the rows that matter first


def shortfall(op: str, threshold: float, value: float) -> float:
    """How far `value` lies on the failing side of `op threshold` (negative on the passing side).

    >>> shortfall(">=", 0.85, 0.6), shortfall("<=", 1.25, 1.0)
    (0.25, -0.25)
    """
    return threshold - value if op in (">=", ">") else value - threshold


def paired(before: bool, after: bool, against: str = "") -> list[Any]:
    """The part of an item in a paired difference gate: right before (the base, or `against`) and after."""
    return [bool(before), bool(after), against] if against else [bool(before), bool(after)]


def role(part: Any, op: str, threshold: float) -> str:
    """'pass' / 'fail' / 'lost' / 'gained' / 'both right' / 'both wrong': one item's part in a gate `op threshold`.

    >>> role(False, ">=", 0.85), role(31.5, ">=", 45.0), role([True, False], "<=", 0.1)
    ('fail', 'fail', 'lost')
    """
    if isinstance(part, list):
        return PAIRED_ROLES[bool(part[0]), bool(part[1])]
    if isinstance(part, bool):
        return "pass" if part else "fail"
    value = float(part)
    return "pass" if not math.isnan(value) and OPS[op](value, float(threshold)) else "fail"


def against(parts: Mapping[str, Any], metric: str) -> str:
    """The model a paired part of `metric` compares with: 'base' unless the evaluator named another."""
    part = parts.get(metric)
    return part[2] if isinstance(part, list) and len(part) > 2 else "base"
