"""The report's charts as small hand-written SVG at a fixed pixel size, because matplotlib cost ~0.5 s to import,
2-4 s and ~400 KB per report, and its scaled-down text fell under 10 px on a phone: here nothing scales, every
text is 11 px or more, and small multiples wrap to one full-size panel per row on a narrow screen."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from html import escape
from typing import TypeGuard

from harness.measures.item_gates import OPS
from harness.report.figures import figure

Series = Mapping[str, Sequence[tuple[float, float]]]
PALETTE = ("#2563eb", "#d97706", "#7c3aed", "#0e7490", "#a16207", "#c026d3", "#1e3a8a", "#64748b")
PASS_COLOR, FAIL_COLOR, GATE_COLOR = "#047857", "#b91c1c", "#374151"
SHADE, MUTED, GRID, INK = "#fde2e2", "#6b7280", "#e5e7eb", "#4b5563"
CHAR = 6.2  # average advance of an 11-px sans-serif character, to lay text out without measuring it
_DASH = f' stroke="{GATE_COLOR}" stroke-width="1.5" stroke-dasharray="5 4"'


@dataclass(frozen=True)
class Threshold:
    """A gate line: its value, its legend label, and the comparison (`op`) a point must satisfy to pass."""

    value: float
    label: str
    op: str = ""


@dataclass(frozen=True)
class Panel:
    """One chart of a small-multiples grid: its title, its series, an optional gate line and y-axis title."""

    title: str
    series: Series
    threshold: Threshold | None = None
    y_label: str = ""


@dataclass(frozen=True)
class GateBar:
    """One failed gate of the 'what failed' chart: the tuned value against its threshold, CI and reference."""

    label: str
    value: float
    threshold: float
    op: str
    ci: tuple[float, float] | None = None
    reference: float | None = None
    reference_label: str = "base"


@dataclass(frozen=True)
class _Frame:
    """A plot's area in pixels (left, top, right, bottom) and the data domain it shows."""

    left: float
    top: float
    right: float
    bottom: float
    x: tuple[float, float]
    y: tuple[float, float]

    def at(self, x: float, y: float) -> tuple[float, float]:
        """The pixel of the data point (x, y); x keeps 6 px off the frame's sides."""
        (x0, x1), (y0, y1) = self.x, self.y
        return (self.left + 6 + (x - x0) / (x1 - x0) * (self.right - self.left - 12),
                self.bottom - (y - y0) / (y1 - y0) * (self.bottom - self.top))


def _ok(value: float | None) -> TypeGuard[float]:
    """Whether `value` is a finite number."""
    return value is not None and math.isfinite(value)


def _finite(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points of a series with both coordinates finite, as floats."""
    return [(float(x), float(y)) for x, y in points if _ok(x) and _ok(y)]


def _passes(value: float, threshold: float, op: str) -> bool | None:
    """Whether `value op threshold` holds; None when `op` is empty or unknown."""
    check = OPS.get(op)
    return None if check is None else bool(check(value, threshold))


def _n(value: float) -> str:
    """A coordinate rounded to 0.1 px, without a trailing '.0'."""
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _text(x: float, y: float, label: str, attrs: str = "", limit: int = 0) -> str:
    """An escaped SVG <text>, cut to `limit` characters with '…' and then the full label as its <title>."""
    cut = limit and len(label) > limit
    shown = escape(label[:limit - 1] + "…" if cut else label) + (f"<title>{escape(label)}</title>" if cut else "")
    return f'<text x="{_n(x)}" y="{_n(y)}"{attrs}>{shown}</text>'


def _line(x1: float, y1: float, x2: float, y2: float, attrs: str) -> str:
    """An SVG <line>."""
    return f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"{attrs}/>'


def _svg(width: float, height: float, body: str) -> str:
    """An <svg> of a fixed pixel size, one user unit per CSS pixel, 11-px text by default."""
    w, h = math.ceil(width), math.ceil(height)
    return (f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="system-ui,sans-serif" '
            f'font-size="11" fill="#1f2937">{body}</svg>')


def _swatch(kind: str, color: str) -> str:
    """A legend swatch: a line, a dashed line, a dot, a ring or a box in `color`."""
    shape = {"line": _line(0, 6, 18, 6, f' stroke="{color}" stroke-width="2"'),
             "dash": _line(0, 6, 18, 6, f' stroke="{color}" stroke-width="1.5" stroke-dasharray="4 3"'),
             "dot": f'<circle cx="9" cy="6" r="4" fill="{color}"/>',
             "ring": f'<circle cx="9" cy="6" r="4" fill="#fff" stroke="{color}" stroke-width="1.5"/>',
             "box": f'<rect x="1" y="1" width="16" height="10" fill="{color}"/>'}[kind]
    return f'<svg width="18" height="12" viewBox="0 0 18 12" aria-hidden="true">{shape}</svg>'


def _figure(title: str, body: str, legend: Sequence[tuple[str, str, str]] = ()) -> str:
    """The chart's <figure>: its title as caption, the SVG(s), and an HTML legend of (kind, colour, label)."""
    items = "".join(f"<li><span class='swatch'>{_swatch(kind, color)}</span>{escape(label)}</li>"
                    for kind, color, label in legend)
    return (f"<figure class='chart' role='img' aria-label='{escape(title)}'><figcaption>{escape(title)}"
            f"</figcaption>{body}" + (f"<ul class='legend'>{items}</ul>" if items else "") + "</figure>")


def _pad(lo: float, hi: float, share: float = 0.1) -> tuple[float, float]:
    """[lo, hi] widened by `share` of its span each side, or by a tenth of the value (1 at 0) when flat."""
    pad = (hi - lo) * share if hi > lo else abs(hi) * 0.1 or 1.0
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float, integer: bool = False) -> list[float]:
    """3-6 round ticks covering [lo, hi] (whole numbers when `integer`); the first and last bound the axis."""
    magnitude = 10.0 ** math.floor(math.log10((hi - lo) / 6))
    for step in (m * magnitude * 10**k for k in range(4) for m in (1, 2, 2.5, 5)):
        if integer and (step < 1 or step % 1):
            continue
        first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
        if last - first <= 5:
            return [float(f"{i * step:.12g}") for i in range(first, last + 1)]
    return [lo, hi]


def _x_axis(xs: list[float], x_ticks: Mapping[float, str] | None, width: float) -> tuple[float, float, dict]:
    """The x domain and its tick labels: the given ones (every k-th when crowded, the last kept), or round
    ticks, whole numbers when all x are."""
    if not x_ticks:
        ticks = _ticks(*((min(xs) - 1, max(xs) + 1) if min(xs) == max(xs) else (min(xs), max(xs))),
                       all(x.is_integer() for x in xs))
        return ticks[0], ticks[-1], {t: figure(t) for t in ticks}
    lo, hi = min(*xs, *map(float, x_ticks)), max(*xs, *map(float, x_ticks))
    every = math.ceil(28 * len(x_ticks) / width)
    shown = {float(k): str(v) for i, (k, v) in enumerate(x_ticks.items()) if (len(x_ticks) - 1 - i) % every == 0}
    return (lo - 0.5, hi + 0.5, shown) if lo == hi else (lo, hi, shown)


def _colors(series: Sequence[Series]) -> dict[str, str]:
    """Each series that has a finite point, its PALETTE colour by order of first appearance."""
    names = dict.fromkeys(name for s in series for name, points in s.items() if _finite(points))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def _axes(f: _Frame, y_ticks: list[float], x_ticks: dict[float, str], rotated: bool) -> str:
    """Grid lines, y and x tick labels (x ones slanted when `rotated`) and the left and bottom axis lines."""
    out = [_line(f.left, f.at(0, t)[1], f.right, f.at(0, t)[1], f' stroke="{GRID}"') for t in y_ticks]
    out.append('<g text-anchor="end">' + "".join(_text(f.left - 4, f.at(0, t)[1] + 4, figure(t))
                                                  for t in y_ticks) + "</g>")
    for x, label in x_ticks.items():
        px, py = f.at(x, 0)[0], f.bottom + (12 if rotated else 15)
        slant = f' text-anchor="end" transform="rotate(-30 {_n(px)} {_n(py)})"'
        out += [_line(px, f.bottom, px, f.bottom + 4, f' stroke="{MUTED}"'),
                _text(px, py, label, slant if rotated else ' text-anchor="middle"')]
    out.append(f'<path d="M{_n(f.left)} {_n(f.top)}V{_n(f.bottom)}H{_n(f.right)}" fill="none" stroke="{MUTED}"/>')
    return "".join(out)


def _series(f: _Frame, data: dict[str, list], colors: Mapping[str, str], gate: Threshold | None
            ) -> tuple[str, set[bool]]:
    """The series' lines, their points (filled pass/fail when the gate has an op), and the kinds shown."""
    out, kinds = [], set()
    for name, points in data.items():
        xy = [f.at(x, y) for x, y in points]
        out.append(f'<polyline fill="none" stroke="{colors[name]}" stroke-width="1.5" points="'
                   + " ".join(f"{_n(x)},{_n(y)}" for x, y in xy) + '"/>')
        verdicts = [_passes(y, gate.value, gate.op) if gate else None for _, y in points]
        if len(points) >= 25 and verdicts[0] is None:
            continue
        for fill, verdict in ((colors[name], None), (PASS_COLOR, True), (FAIL_COLOR, False)):
            dots = "".join(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3"/>'
                           for (x, y), v in zip(xy, verdicts, strict=True) if v is verdict)
            out.append(f'<g fill="{fill}">{dots}</g>' if dots else "")
            kinds |= {verdict} if dots and verdict is not None else set()
    return "".join(out), kinds


def _plot(panel: Panel, colors: Mapping[str, str], x_label: str, x_ticks: Mapping[float, str] | None,
          size: tuple[int, int], titled: bool) -> tuple[str, set[bool]]:
    """One panel as an <svg>: axes, both axis titles, gate line and label, series; and its pass/fail kinds."""
    data = {name: p for name, p in ((n, _finite(v)) for n, v in panel.series.items()) if p}
    gate = panel.threshold if panel.threshold is not None and _ok(panel.threshold.value) else None
    ys = [y for p in data.values() for _, y in p] + ([float(gate.value)] if gate else [])
    y_lo, y_hi = _pad(min(ys), max(ys))
    if 0 <= min(ys) < max(ys) <= 1:  # a rate: its own scale, not one padded past 1
        y_lo, y_hi = 0.0, 1.0
    y_ticks = _ticks(max(y_lo, 0.0) if min(ys) > 0 else y_lo, y_hi)  # no negative tick under positive data
    width, height = float(size[0]), float(size[1])
    first = len(next(iter(x_ticks.values()))) * CHAR * 0.87 - 4 if x_ticks else 0
    left = max(24 + CHAR * max(len(figure(t)) for t in y_ticks), first)
    x_lo, x_hi, ticks = _x_axis([x for p in data.values() for x, _ in p], x_ticks, width - left - 12)
    longest = max(map(len, ticks.values()))
    rotated = bool(x_ticks) and (len(ticks) > 6 or (longest + 1) * CHAR * len(ticks) > width - left - 12)
    right = 12 if rotated else max(12.0, len(ticks[max(ticks)]) * CHAR / 2 + 4)  # room for the last tick label
    f = _Frame(left, 28 if titled else 10, width - right, height - 40, (x_lo, x_hi), (y_ticks[0], y_ticks[-1]))
    height += longest * CHAR / 2 if rotated else 0
    mid, gy = (f.top + f.bottom) / 2, f.at(0, gate.value)[1] if gate else 0
    lines, kinds = _series(f, data, colors, gate)
    body = "".join([
        _text(4, 16, panel.title, ' font-size="13" font-weight="600"', int((width - 8) / CHAR / 1.15)) if titled
        else "", _axes(f, y_ticks, ticks, rotated),
        _text((f.left + f.right) / 2, height - 6, x_label, ' text-anchor="middle" font-size="12"'),
        _text(14, mid, panel.y_label, f' text-anchor="middle" font-size="12" transform="rotate(-90 14 {_n(mid)})"'),
        _line(f.left, gy, f.right, gy, _DASH) if gate else "", lines,
        _text(f.right - 4, gy - 4 if gy - f.top > 16 else gy + 13, gate.label, f' text-anchor="end" fill='
              f'"{GATE_COLOR}" stroke="#fff" stroke-width="3" paint-order="stroke"') if gate else ""])
    return _svg(width, height, body), kinds


def _lines(panels: Sequence[Panel], x_label: str, y_label: str, title: str, x_ticks: Mapping[float, str] | None,
           size: tuple[int, int], grid: bool) -> str:
    """The figure of one or more line plots sharing their series colours and one legend; '' without data."""
    panels = [p for p in panels if any(_finite(v) for v in p.series.values())]
    if not panels:
        return ""
    colors, svgs, kinds = _colors([p.series for p in panels]), list[str](), set[bool]()
    for p in panels:
        svg, shown = _plot(Panel(p.title, p.series, p.threshold, p.y_label or y_label), colors, x_label, x_ticks,
                           size, grid)
        svgs, kinds = [*svgs, svg], kinds | shown
    labels = list(dict.fromkeys(p.threshold.label for p in panels if p.threshold and _ok(p.threshold.value)))
    legend = [("line", color, name) for name, color in colors.items()]
    legend += [("dash", GATE_COLOR, label) for label in labels] if len(labels) <= 2 else \
        [("dash", GATE_COLOR, "gate threshold (labelled on each chart)")]
    legend += [("dot", PASS_COLOR, "passes the gate")] if True in kinds else []
    legend += [("dot", FAIL_COLOR, "fails the gate")] if False in kinds else []
    return _figure(title, f"<div class='charts'>{''.join(svgs)}</div>" if grid else svgs[0], legend)


def line_chart(series: Series, title: str, x_label: str, y_label: str, threshold: Threshold | None = None,
               x_ticks: Mapping[float, str] | None = None, width: int = 560, height: int = 260) -> str:
    """One chart of (x, y) series with both axis titles, an optional gate line, named or whole-number x ticks."""
    return _lines([Panel(title, series, threshold, y_label)], x_label, y_label, title, x_ticks, (width, height), False)


def small_multiples(panels: Sequence[Panel], x_label: str, y_label: str, title: str,
                    x_ticks: Mapping[float, str] | None = None) -> str:
    """One ~300x200 <svg> per panel with data in a wrapping `.charts` box, colours kept across panels."""
    return _lines(panels, x_label, y_label, title, x_ticks, (300, 200), True)


def _blue(value: float) -> str:
    """The white-to-blue fill of `value` over [0, 1]."""
    return "#" + "".join(f"{round(255 + (end - 255) * min(max(value, 0.0), 1.0)):02x}" for end in (30, 64, 175))


def _cell(x: float, y: float, v: float | None) -> str:
    """One 64x24 heatmap cell with its value written in it (white on dark cells), 'n/a' when there is none."""
    fill, ink = ("#f3f4f6", MUTED) if v is None else (_blue(v), "#fff" if v > 0.55 else "#111827")
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="64" height="24" fill="{fill}" stroke="#fff"/>'
            + _text(x + 32, y + 16, "n/a" if v is None else f"{v:.2f}", f' fill="{ink}"'))


def heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]], title: str,
            scale_label: str, flagged: Set[tuple[int, int]] = frozenset(), flag_label: str = "") -> str:
    """A rows x columns grid of values in [0, 1], each written in its cell, the `flagged` cells outlined in red."""
    grid = [[float(v) if _ok(v := (values[i][j] if i < len(values) and j < len(values[i]) else None)) else None
             for j in range(len(columns))] for i in range(len(rows))]
    if not any(v is not None for row in grid for v in row):
        return ""
    longest = max(map(len, columns))
    left, slant = 16 + CHAR * min(max(map(len, rows)), 40), longest * CHAR > 58
    top = 20 + (longest * CHAR / 2 if slant else 0)
    out = [_text(left - 8, top + 24 * i + 16, r, ' text-anchor="end"', 40) for i, r in enumerate(rows)]
    out += [_text(left + 64 * j + 32, top - 6, c, f' transform="rotate(-30 {_n(left + 64 * j + 32)} {_n(top - 6)})"'
                  if slant else ' text-anchor="middle"') for j, c in enumerate(columns)]
    out.append('<g text-anchor="middle">' + "".join(_cell(left + 64 * j, top + 24 * i, v) for i, row
                                                    in enumerate(grid) for j, v in enumerate(row)) + "</g>")
    out += [f'<rect x="{_n(left + 64 * j + 1)}" y="{_n(top + 24 * i + 1)}" width="62" height="22" fill="none" '
            f'stroke="{FAIL_COLOR}" stroke-width="2"/>'
            for i, j in sorted(flagged) if 0 <= i < len(rows) and 0 <= j < len(columns)]
    y = top + 24 * len(rows) + 20
    if flagged and flag_label:
        out.append(_text(left, y, f"outlined in red: {flag_label}", f' fill="{FAIL_COLOR}"'))
        y += 20
    out += [_text(left, y, "0", ' text-anchor="end"'), _text(left + 78, y, "1"), _text(left + 92, y, scale_label)]
    out += [f'<rect x="{_n(left + 4 + 14 * k)}" y="{_n(y - 10)}" width="14" height="12" fill="{_blue(k / 4)}" '
            f'stroke="{GRID}"/>' for k in range(5)]
    width = max(left + 100 + CHAR * len(scale_label), *(left + 64 * j + 72 + CHAR * 0.87 * len(c) * slant
                                                        for j, c in enumerate(columns)))
    return _figure(title, _svg(width, y + 8, "".join(out)))


def _bar(item: GateBar, y: float, a0: float, a1: float) -> str:
    """One gate's row on its own scale (log when its figures are all positive and span over 1,000-fold)."""
    points = [p for p in (item.value, item.threshold, *(item.ci or ()), item.reference) if _ok(p)]
    log = min(points) > 0 and max(points) / min(points) > 1000
    scale = math.log10 if log else float
    lo, hi = _pad(min(map(scale, points)), max(map(scale, points)), 0.18)
    def at(v: float) -> float:
        return a0 + (scale(v) - lo) / (hi - lo) * (a1 - a0)
    def beside(x: float, label: str, base: float, right: bool, attrs: str) -> str:
        return _text(x + 8 if right else x - 8, base, label, attrs + ("" if right else ' text-anchor="end"'))
    mid, cy, tx, vx = (a0 + a1) / 2, y + 22, at(item.threshold), at(item.value)
    fails = {">=": "left", ">": "left", "<=": "right", "<": "right", "==": "both"}.get(item.op, "")
    out = [_text(8, y + 21, item.label, "", 34), _line(a0, cy, a1, cy, f' stroke="{GRID}"')]
    out += [f'<rect x="{_n(x)}" y="{_n(y + 3)}" width="{_n(w)}" height="28" fill="{SHADE}"/>' for side, x, w in
            (("left", a0, tx - a0), ("right", tx, a1 - tx)) if fails in (side, "both")]
    out += [_line(tx, y + 3, tx, y + 31, _DASH),
            beside(tx, f"{item.op} {figure(float(item.threshold))}", y + 12, tx < mid, f' fill="{GATE_COLOR}"')]
    if item.ci and all(_ok(c) for c in item.ci):
        c0, c1, ink = at(item.ci[0]), at(item.ci[1]), f' stroke="{INK}" stroke-width="1.5"'
        out += [_line(c0, cy, c1, cy, ink), _line(c0, cy - 5, c0, cy + 5, ink), _line(c1, cy - 5, c1, cy + 5, ink)]
    right = vx < mid  # the value's figure away from the reference's, else toward the middle
    if _ok(item.reference):
        rx = at(item.reference)
        right = rx < vx if abs(rx - vx) > 1 else right
        out += [f'<circle cx="{_n(rx)}" cy="{_n(cy)}" r="4.5" fill="#fff" stroke="{MUTED}" stroke-width="1.5"/>',
                beside(rx, f"{item.reference_label} {figure(float(item.reference))}", cy + 4, not right,
                       f' fill="{MUTED}"')]
    color = PASS_COLOR if _passes(item.value, item.threshold, item.op) else FAIL_COLOR
    out += [f'<circle cx="{_n(vx)}" cy="{_n(cy)}" r="5" fill="{color}"/>',
            beside(vx, figure(float(item.value)), cy + 4, right, ' font-weight="600"'),
            _text(a1 + 6, cy + 4, "log", f' fill="{MUTED}"') if log else ""]
    return "<g>" + "".join(out) + "</g>"


def gate_bars(items: Sequence[GateBar], title: str) -> str:
    """The failed gates, one 34-px row each on its own scale: value, threshold, failing side, CI, reference."""
    items = [g for g in items if _ok(g.value) and _ok(g.threshold)]
    if not items:
        return ""
    rows = "".join(_bar(g, 4 + 34 * i, 228, 596) for i, g in enumerate(items))
    verdicts = {bool(_passes(g.value, g.threshold, g.op)) for g in items}
    legend = [("dot", FAIL_COLOR, "fails the gate")] if False in verdicts else []
    legend += [("dot", PASS_COLOR, "passes the gate")] if True in verdicts else []
    legend += [("dash", GATE_COLOR, "threshold"), ("box", SHADE, "failing side")]
    legend += [("line", INK, "confidence interval")] if any(g.ci for g in items) else []
    legend += [("ring", MUTED, label) for label in dict.fromkeys(g.reference_label for g in items
                                                                   if _ok(g.reference))]
    return _figure(title, _svg(640, 8 + 34 * len(items), rows), legend)
