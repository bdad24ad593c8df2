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


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float]], title: str,
            cell: int = 64) -> str:
    """An SVG heatmap of values in [0, 1] (white -> blue), each cell labelled; NaN cells grey."""
    left, top = 110, 44
    width, height = left + cell * len(columns) + 8, top + cell * len(rows) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" class="chart">',
             f'<text x="4" y="16" font-size="13" font-weight="600">{escape(title)}</text>']
    for j, name in enumerate(columns):
        parts.append(f'<text x="{left + j * cell + cell / 2}" y="{top - 6}" font-size="11" '
                     f'text-anchor="middle">{escape(name)}</text>')
    for i, name in enumerate(rows):
        y = top + i * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4}" font-size="11" text-anchor="end">'
                     f'{escape(name)}</text>')
        for j, value in enumerate(values[i]):
            known = value is not None and math.isfinite(value)
            shade = max(0.0, min(1.0, value)) if known else 0.0
            fill = f"rgb({round(255 - 218 * shade)},{round(255 - 156 * shade)},{round(255 - 20 * shade)})" \
                if known else "#d4d4d4"
            ink = "#fff" if known and shade > 0.55 else "#111"
            parts.append(f'<rect x="{left + j * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill="{fill}"/><text x="{left + j * cell + cell / 2 - 1}" y="{y + cell / 2 + 4}" '
                         f'font-size="12" text-anchor="middle" fill="{ink}">'
                         f'{f"{value:.2f}" if known else "n/a"}</text>')
    parts.append("</svg>")
    return "".join(parts)
