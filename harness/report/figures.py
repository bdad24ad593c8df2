"""Figures as people read them, the same in report.html, summary.md and the terminal: `14,550` rather than
`1.455e+04`, `0.9341`, `7.4e-07`, and a confidence interval as `[low, high]`."""

from __future__ import annotations

import math


def figure(value: float | None, digits: int = 4) -> str:
    """`value` to `digits` significant digits, thousands separated and never in exponent form from 1,000 up;
    empty for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and 1e3 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:,.{digits}g}"


def interval(low: float | None, high: float | None, digits: int = 3) -> str:
    """`[low, high]`, or empty when there is no interval."""
    return "" if low is None or high is None else f"[{figure(low, digits)}, {figure(high, digits)}]"
