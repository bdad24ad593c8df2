"""Inline SVG line charts (no external assets), e.g. training loss per step."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed")


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], title: str, x_label: str = "step",
               width: int = 560, height: int = 240) -> str:
    """An SVG chart of one or more (x, y) series on shared axes, with a legend; '' if there is no data."""
    points = [(x, y) for values in series.values() for x, y in values if math.isfinite(y)]
    if not points:
        return ""
    left, right, top, bottom = 56, 12, 28, 36
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y: float) -> float:
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" class="chart">',
             f'<text x="{left}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>']
    for frac in (0.0, 0.5, 1.0):
        y = y0 + frac * (y1 - y0)
        parts.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="10" text-anchor="end">{y:.3g}</text>')
        x = x0 + frac * (x1 - x0)
        parts.append(f'<text x="{sx(x):.1f}" y="{height - bottom + 14}" font-size="10" '
                     f'text-anchor="middle">{x:.4g}</text>')
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 4}" font-size="11" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    for i, (name, values) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in values if math.isfinite(y))
        if path:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>')
        parts.append(f'<text x="{width - right - 4}" y="{top + 4 + 14 * i}" font-size="11" fill="{color}" '
                     f'text-anchor="end">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def loss_chart(log: Sequence[Mapping[str, float]], title: str) -> str:
    """Training (and eval, where logged) loss per step as an SVG chart."""
    series = {"train loss": [(row["step"], row["loss"]) for row in log if "loss" in row]}
    evals = [(row["step"], row["eval_loss"]) for row in log if "eval_loss" in row]
    if evals:
        series["eval loss"] = evals
    return line_chart(series, title)
