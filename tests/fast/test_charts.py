"""The hand-written SVG charts: fixed pixel size, readable text, gate lines in view, pass/fail colours, escaping."""

from __future__ import annotations

import colorsys
import re
import xml.etree.ElementTree as ET
from html import unescape

import pytest

from harness.report.charts import (
    FAIL_COLOR,
    GATE_COLOR,
    PALETTE,
    PASS_COLOR,
    GateBar,
    Panel,
    Threshold,
    gate_bars,
    heatmap,
    line_chart,
    small_multiples,
)

EVIL = "<script>alert(1)</script>"
NUM = r"(-?[\d.]+)"


def texts(html: str) -> list[str]:
    """The visible content of every SVG <text>, unescaped, without its <title>."""
    return [unescape(re.sub(r"<title>.*?</title>", "", t)) for t in re.findall(r"<text[^>]*>(.*?)</text>", html)]


def charts(html: str) -> list[str]:
    """The chart <svg>s (not the legend swatches)."""
    return [s for s in re.findall(r"<svg .*?</svg>", html) if 'aria-hidden="true"' not in s[:200]]


def frame(svg: str) -> tuple[float, float, float, float]:
    """left, top, bottom, right of a plot's axis lines."""
    return tuple(map(float, re.search(rf'<path d="M{NUM} {NUM}V{NUM}H{NUM}"', svg).groups()))


def gate_y(svg: str) -> float:
    """The y of the dashed gate line."""
    y1, y2 = re.search(rf'<line x1="{NUM}" y1="{NUM}" x2="{NUM}" y2="{NUM}" stroke="{GATE_COLOR}"[^>]*dasharray',
                       svg).group(2, 4)
    assert y1 == y2
    return float(y1)


def polyline_ys(svg: str) -> list[float]:
    return [float(p.split(",")[1]) for pts in re.findall(r'points="([^"]*)"', svg) for p in pts.split()]


def x_tick_labels(svg: str) -> list[str]:
    """Unslanted x tick labels (the axis title has its own font size)."""
    return re.findall(r'<text x="[^"]+" y="[^"]+" text-anchor="middle">([^<]*)</text>', svg)


def every_chart() -> list[str]:
    ticks = {i: f"run-{i}" for i in range(8)}
    return [
        line_chart({"a": [(1, 0.9), (2, 0.95)], "b": [(1, 0.5), (2, 0.7)]}, "t", "step", "exact match",
                   Threshold(0.85, "gate >= 0.85", ">=")),
        line_chart({"a": [(i, i / 10) for i in range(8)]}, "runs", "run", "v", x_ticks=ticks),
        small_multiples([Panel("p1", {"a": [(1, 1.0), (2, 2.0)]}, Threshold(1.5, "gate <= 1.5", "<=")),
                         Panel("p2", {"a": [(1, 3.0)]})], "step", "loss", "sm", x_ticks=ticks),
        heatmap(["base", "after b"], ["task a", "a much longer task name"], [[0.9, None], [0.2, 0.6]], "h",
                "exact match", {(1, 0)}, "below a gate"),
        gate_bars([GateBar("latency.p50", 16806, 1.25, "<=", (15000, 18000), 1.1),
                   GateBar("old.exact_match", 0.0, 0.85, ">=", None, 0.92)], "what failed"),
    ]


def test_line_chart_writes_axis_titles_gate_label_and_run_id_ticks():
    ticks = {0: "run-a1", 1: "run-b2", 2: "this run"}
    html = line_chart({"exact match": [(0, 0.9), (1, 0.8), (2, 0.95)]}, "last checkpoint", "audit run",
                      "exact match", Threshold(0.85, "gate >= 0.85", ">="), x_ticks=ticks)
    shown = texts(html)
    for label in ("audit run", "exact match", "gate >= 0.85", "run-a1", "run-b2", "this run"):
        assert label in shown
    assert html.startswith("<figure class='chart' role='img' aria-label='last checkpoint'><figcaption>")
    assert html.index("</svg>") < html.index("<ul class='legend'>")  # the legend under the chart
    assert "gate &gt;= 0.85</li>" in html and "exact match</li>" in html


def test_fixed_pixel_size_no_style_attribute_and_one_decimal_coordinates():
    for html in every_chart():
        assert html and "style=" not in html
        for svg in charts(html):
            w, h, vw, vh = re.match(r'<svg width="(\d+)" height="(\d+)" viewBox="0 0 (\d+) (\d+)"', svg).groups()
            assert (w, h) == (vw, vh)
        for value in re.findall(r' (?:x|y|x1|y1|x2|y2|cx|cy|width|height)="([^"]*)"', html):
            assert re.fullmatch(r"-?\d+(\.\d)?", value), value


def test_every_font_size_is_at_least_11_px_and_the_svgs_set_one():
    for html in every_chart():
        sizes = re.findall(r'font-size="([\d.]+)(?:px)?"', html)
        assert sizes and all(float(s) >= 11 for s in sizes)
        assert all('font-size="11"' in svg[:200] for svg in charts(html))


def test_integer_steps_get_whole_number_ticks():
    svg = charts(line_chart({"loss": [(1, 2.0), (2, 1.5), (3, 1.2)]}, "t", "step", "loss"))[0]
    assert x_tick_labels(svg) == ["1", "2", "3"]
    many = charts(line_chart({"loss": [(s, 1 / s) for s in range(10, 201, 10)]}, "t", "step", "loss"))[0]
    assert all(re.fullmatch(r"\d+", t) for t in x_tick_labels(many))


def test_y_ticks_are_round_and_between_3_and_6():
    svg = charts(line_chart({"v": [(1, 0.913), (2, 0.977)]}, "t", "step", "v"))[0]
    labels = re.search(r'<g text-anchor="end">(.*?)</g>', svg).group(1)
    values = [float(t.replace(",", "")) for t in texts(labels)]
    assert 3 <= len(values) <= 6 and values == sorted(values) and values[0] <= 0.913 and values[-1] >= 0.977


def test_far_threshold_stays_inside_the_plot():
    svg = charts(line_chart({"exact match": [(1, 0.93), (2, 0.97), (3, 1.0)]}, "t", "step", "exact match",
                            Threshold(0.5, "gate >= 0.5")))[0]
    _, top, bottom, _ = frame(svg)
    assert top < gate_y(svg) < bottom
    assert all(top <= y < gate_y(svg) for y in polyline_ys(svg))  # the data above the gate, in the plot too


def test_flat_series_at_its_threshold_is_not_drawn_on_the_frame():
    svg = charts(line_chart({"forgetting": [(1, 0.0), (2, 0.0), (3, 0.0)]}, "t", "step", "forgetting",
                            Threshold(0.0, "gate <= 0", "<=")))[0]
    _, top, bottom, _ = frame(svg)
    ys = set(polyline_ys(svg))
    assert len(ys) == 1 and top + 10 < ys.pop() < bottom - 10
    assert top + 10 < gate_y(svg) < bottom - 10


def test_points_are_coloured_by_the_gate_when_it_has_an_op():
    series = {"exact match": [(1, 0.9), (2, 0.8), (3, 0.95)]}
    html = line_chart(series, "t", "step", "exact match", Threshold(0.85, "gate >= 0.85", ">="))
    assert len(re.findall(r"<circle", re.search(rf'<g fill="{PASS_COLOR}">(.*?)</g>', html).group(1))) == 2
    assert len(re.findall(r"<circle", re.search(rf'<g fill="{FAIL_COLOR}">(.*?)</g>', html).group(1))) == 1
    assert "passes the gate" in html and "fails the gate" in html
    assert f'stroke="{PALETTE[0]}"' in html  # the line keeps its palette colour
    passing = line_chart(series, "t", "step", "exact match", Threshold(0.5, "gate >= 0.5", ">="))
    assert "passes the gate" in passing and "fails the gate" not in passing
    plain = line_chart(series, "t", "step", "exact match", Threshold(0.85, "gate >= 0.85"))
    assert PASS_COLOR not in plain and FAIL_COLOR not in plain and f'<g fill="{PALETTE[0]}">' in plain


def test_palette_has_no_red_and_no_green():
    assert len(set(PALETTE)) == len(PALETTE) >= 6 and not {PASS_COLOR, FAIL_COLOR, GATE_COLOR} & set(PALETTE)
    for color in PALETTE:
        r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
        hue, _, saturation = colorsys.rgb_to_hls(r, g, b)
        if saturation > 0.2:
            assert 25 < hue * 360 < 335 and not 75 < hue * 360 < 170, color


def test_a_series_keeps_its_colour_across_panels_and_empty_panels_are_dropped():
    html = small_multiples([Panel("first", {"train": [(1, 2.0), (2, 1.0)], "eval": [(1, 2.5), (2, 1.5)]}),
                            Panel("nothing", {"train": [(1, None)]}),
                            Panel("second", {"eval": [(1, 3.0), (2, 2.0)]})], "step", "loss", "losses")
    svgs = charts(html)
    assert len(svgs) == 2 and "nothing" not in html and html.count("<div class='charts'>") == 1
    assert "first" in texts(svgs[0]) and "second" in texts(svgs[1])
    assert re.findall(r'<polyline fill="none" stroke="([^"]+)"', svgs[1]) == [PALETTE[1]]
    assert all(re.search(r'<svg width="300" height="200"', s) for s in svgs)
    assert html.index("<ul class='legend'>") > html.index("</div>")  # the shared legend under the grid
    assert texts(svgs[1]).count("loss") == 1 and "step" in texts(svgs[1])  # both axis titles on every panel


def test_crowded_run_ticks_are_slanted_and_thinned_keeping_this_run():
    ticks = {i: f"11-{i:02d} 09:40" for i in range(20)} | {20: "this run"}
    html = small_multiples([Panel("gate", {"value": [(i, 1.0 + i) for i in range(21)]})], "run", "value", "h",
                           x_ticks=ticks)
    slanted = re.findall(r'text-anchor="end" transform="rotate\(-30 [^"]+\)">([^<]*)<', html)
    assert "this run" in slanted and 3 <= len(slanted) < 21


def test_heatmap_outlines_exactly_the_flagged_cells():
    html = heatmap(["base model", "after b", "after c"], ["a", "b"], [[0.9, 0.1], [0.5, None], [1.0, float("nan")]],
                   "R", "exact match", {(1, 0), (2, 1), (9, 9)}, "below a gate")
    assert len(re.findall(rf'<rect[^>]*stroke="{FAIL_COLOR}"', html)) == 2
    assert html.count(f'stroke="{FAIL_COLOR}"') == 2
    shown = texts(html)
    assert "outlined in red: below a gate" in shown and "exact match" in shown and {"0", "1"} <= set(shown)
    assert shown.count("n/a") == 2 and "0.50" in shown and "0.90" in shown
    assert "outlined in red" not in heatmap(["r"], ["c"], [[0.5]], "R", "exact match")


def test_no_finite_data_gives_no_chart():
    gate = Threshold(0.5, "gate")
    assert line_chart({}, "t", "x", "y", gate) == ""
    assert line_chart({"a": [(1, None), (2, float("nan")), (3, float("inf"))]}, "t", "x", "y", gate) == ""
    assert small_multiples([Panel("p", {"a": []}, gate), Panel("q", {"b": [(1, None)]})], "x", "y", "t") == ""
    assert small_multiples([], "x", "y", "t") == ""
    assert heatmap(["r"], ["c"], [[None]], "h", "s") == "" and heatmap([], [], [], "h", "s") == ""
    assert gate_bars([], "t") == "" and gate_bars([GateBar("g", float("nan"), 1.0, ">=")], "t") == ""


def test_everything_is_escaped_and_well_formed():
    outputs = [
        line_chart({EVIL: [(0, 1.0), (1, 2.0)]}, EVIL, EVIL, EVIL, Threshold(1.5, EVIL, ">="), x_ticks={0: EVIL}),
        small_multiples([Panel(EVIL, {EVIL: [(1, 1.0)]}, Threshold(1.0, EVIL), EVIL)], EVIL, EVIL, EVIL),
        heatmap([EVIL], [EVIL], [[0.5]], EVIL, EVIL, {(0, 0)}, EVIL),
        gate_bars([GateBar(EVIL * 3, 1.0, 2.0, ">=", (0.5, 1.5), 3.0, EVIL)], EVIL),
    ]
    for html in outputs:
        assert "<script" not in html and "&lt;script&gt;" in html
        ET.fromstring(html)  # well-formed: nothing unescaped, every element closed


def test_output_is_deterministic():
    def build():
        return [*every_chart(), heatmap(["a", "b"], ["c"], [[0.1], [0.2]], "h", "s", {(1, 0), (0, 0)}, "x")]
    assert build() == build()
    assert heatmap(["a", "b"], ["c"], [[0.1], [0.2]], "h", "s", {(0, 0), (1, 0)}, "x") == build()[-1]


def test_charts_are_small():
    gates = [Panel(f"gate {k}", {"value": [(i, 0.8 + i / 100) for i in range(21)]}, Threshold(0.85, "t", ">="))
             for k in range(9)]
    assert len(small_multiples(gates, "run", "value", "history")) < 40_000
    assert len(line_chart({"loss": [(s, 1 / s) for s in range(1, 301)]}, "t", "step", "loss")) < 8_000


def bar_rows(html: str) -> list[str]:
    return re.findall(r"<g>(.*?)</g>", charts(html)[0])


def value_x(row: str) -> float:
    return float(re.search(rf'<circle cx="{NUM}" cy="{NUM}" r="5"', row).group(1))


def gate_x(row: str) -> float:
    return float(re.search(rf'<line x1="{NUM}"[^>]*stroke="{GATE_COLOR}"', row).group(1))


def shading(row: str) -> list[tuple[float, float]]:
    """(x, width) of each light-red failing-side band."""
    return [(float(x), float(w)) for x, w in re.findall(rf'<rect x="{NUM}" y="[^"]+" width="{NUM}"[^>]*fill="#fde2e2"',
                                                        row)]


def test_gate_bars_draw_each_gate_on_its_own_scale_and_shade_the_failing_side():
    html = gate_bars([GateBar("latency.tokens_per_second_p50", 16806, 1.25, "<=", reference=1.1),
                      GateBar("old_task.exact_match", 0.0, 0.85, ">=", (0.0, 0.1), 0.92)], "what failed")
    width = int(re.match(r'<svg width="(\d+)"', charts(html)[0]).group(1))
    latency, exact = bar_rows(html)
    for row in (latency, exact):
        assert 100 < value_x(row) < width - 20 and 100 < gate_x(row) < width - 20
        assert abs(value_x(row) - gate_x(row)) > 40  # not squashed onto the threshold by the other row's scale
    assert "log" in texts(latency) and "log" not in texts(exact)
    assert {"<= 1.25", "16,806", "base 1.1"} <= set(texts(latency))
    assert {">= 0.85", "0", "base 0.92"} <= set(texts(exact))
    (x, w), = shading(exact)
    assert x < value_x(exact) < x + w and x + w == pytest.approx(gate_x(exact), abs=0.2)  # fails below: left
    (x, w), = shading(latency)
    assert x == pytest.approx(gate_x(latency), abs=0.2) and x < value_x(latency) < x + w  # fails above: right
    assert re.search(rf'r="5" fill="{FAIL_COLOR}"', latency) and re.search(rf'r="5" fill="{FAIL_COLOR}"', exact)


def test_gate_bars_colour_a_passing_value_and_cut_long_labels():
    label = "capability.a_really_long_metric_name_that_goes_on"
    html = gate_bars([GateBar(label, 0.9, 0.85, ">=")], "gates")
    row = bar_rows(html)[0]
    assert re.search(rf'r="5" fill="{PASS_COLOR}"', row) and "passes the gate" in html
    assert f"<title>{label}</title>" in row and re.search(r">capability\.a_really[^<]*…<title>", row)
