"""The report's charts, drawn with matplotlib and inlined as SVG (text kept as text, no external asset): axis
titles on both axes, threshold lines, legends outside the data, whole-number ticks for steps and runs, heatmaps
with a colour scale and the cells below a gate threshold outlined, training curves as small multiples."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

Series = Mapping[str, Sequence[tuple[float, float]]]
Threshold = tuple[float, str]  # (value, legend label) of a dashed gate line


@dataclass(frozen=True)
class Panel:
    """One chart of a small-multiples grid: its title, its series, an optional gate line and y-axis title."""

    title: str
    series: Series
    threshold: Threshold | None = None
    y_label: str = ""


def _pyplot() -> Any:
    """pyplot on the display-less Agg backend, with the report's defaults (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
                         "axes.spines.right": False, "figure.dpi": 96})
    return plt


def to_svg(fig: Any, title: str) -> str:
    """`fig` as an inline `<svg>` element that scales to its box (the figure is closed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    _pyplot().close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    return f"<figure class='plot' role='img' aria-label='{escape(title)}'>{svg}</figure>"


def _finite(values: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in values if y is not None and math.isfinite(y)]


def _draw_lines(ax: Any, series: Series, threshold: Threshold | None, integer_x: bool,
                colors: Mapping[str, str] | None = None) -> bool:
    from matplotlib.ticker import MaxNLocator

    drawn = False
    for name, values in series.items():
        points = _finite(values)
        if points:
            ax.plot(*zip(*points, strict=True), marker="o" if len(points) < 25 else None, markersize=3, label=name,
                    color=(colors or {}).get(name))
            drawn = True
    if threshold is not None:
        ax.axhline(threshold[0], color="#b91c1c", linestyle="--", linewidth=1, label=threshold[1])
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return drawn


def line_chart(series: Series, title: str, x_label: str, y_label: str, threshold: Threshold | None = None,
               x_ticks: Mapping[float, str] | None = None, integer_x: bool = True) -> str:
    """One chart of (x, y) series with both axis titles, an optional dashed threshold line (value, label), the
    legend outside the plot, whole-number x ticks (or the named `x_ticks`, e.g. run ids); '' when no data."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    if not _draw_lines(ax, series, threshold, integer_x):
        plt.close(fig)
        return ""
    if x_ticks:
        ax.set_xticks(list(x_ticks), list(x_ticks.values()), rotation=30, ha="right")
    ax.set(title=title, xlabel=x_label, ylabel=y_label)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return to_svg(fig, title)


def small_multiples(panels: Sequence[Panel], x_label: str, y_label: str, title: str, columns: int = 3,
                    x_ticks: Mapping[float, str] | None = None) -> str:
    """One chart per panel on a grid, both axes titled on every panel (`y_label` unless the panel has its own),
    a series keeping its colour across panels, one legend for all beside the grid; '' when no panel has data."""
    panels = [p for p in panels if any(_finite(v) for v in p.series.values())]
    if not panels:
        return ""
    plt = _pyplot()
    names = list(dict.fromkeys(name for p in panels for name in p.series))
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    colors = {name: cycle[i % len(cycle)] for i, name in enumerate(names)}
    rows = math.ceil(len(panels) / columns)
    width = min(columns, len(panels))
    fig, axes = plt.subplots(rows, width, figsize=(3.3 * width, 2.5 * rows), squeeze=False, layout="constrained")
    for ax, panel in zip(axes.flat, panels, strict=False):
        _draw_lines(ax, panel.series, panel.threshold, integer_x=True, colors=colors)
        if x_ticks:
            ax.set_xticks(list(x_ticks), list(x_ticks.values()), rotation=30, ha="right", fontsize=7)
        ax.set(title=panel.title, xlabel=x_label, ylabel=panel.y_label or y_label)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    fig.legend(list(handles.values()), list(handles), loc="upper left", bbox_to_anchor=(1.0, 0.95), frameon=False)
    fig.suptitle(title)
    return to_svg(fig, title)


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]], title: str,
            scale_label: str, flagged: set[tuple[int, int]] = frozenset(), flag_label: str = "") -> str:
    """A rows x columns heatmap of values in [0, 1] with each value written in its cell, a labelled colour scale,
    slanted column labels, and the `flagged` cells (row, column) outlined in red (explained by `flag_label`)."""
    import numpy as np

    plt = _pyplot()
    grid = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    fig, ax = plt.subplots(figsize=(1.1 * len(columns) + 2.8, 0.45 * len(rows) + 1.4))
    image = ax.imshow(grid, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    fig.colorbar(image, ax=ax, label=scale_label, fraction=0.05, pad=0.03)
    ax.set_xticks(range(len(columns)), list(columns), rotation=25, ha="right")
    ax.set_yticks(range(len(rows)), list(rows))
    for (i, j), value in np.ndenumerate(grid):
        text = "n/a" if np.isnan(value) else f"{value:.2f}"
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if value > 0.55 else "#111")
    for i, j in flagged:
        ax.add_patch(plt.Rectangle((j - 0.48, i - 0.48), 0.96, 0.96, fill=False, edgecolor="#b91c1c", linewidth=2.2))
    ax.set_title(title)
    ax.spines[:].set_visible(False)
    if flagged and flag_label:
        ax.set_xlabel(f"outlined in red: {flag_label}", color="#b91c1c")
    return to_svg(fig, title)
