"""The dashboard's SVG charts: parsed back with xml.etree, proportional, labelled, escaped."""

# The XML parsed here is the charts this module just drew, not input from outside.
# ruff: noqa: S314

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from inloop.server.desk.charts import (
    Bar,
    Series,
    bar_chart,
    column_chart,
    duration,
    nice_ceiling,
    percent,
    percentile_strip,
)

NS = {"svg": "http://www.w3.org/2000/svg"}
XSS = '<script>alert("x")</script>&amp;'


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def rects_with_values(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iterfind(".//svg:rect", NS) if "data-value" in r.attrib]


def test_columns_are_proportional_and_stacked() -> None:
    """Heights are value / scale; a stacked part starts where the one below it ends."""
    chart = column_chart(
        "open",
        "Open requests",
        "Open requests by priority",
        ["urgent", "high", "low"],
        [Series("pending", [2, 8, 0]), Series("assigned", [2, 0, 1])],
    )
    root = parse(chart.svg)
    rects = rects_with_values(root)
    heights = {
        (r.get("data-category"), r.get("data-series")): float(r.get("height", 0)) for r in rects
    }
    unit = heights[("high", "pending")] / 8
    assert heights[("urgent", "pending")] == pytest.approx(2 * unit, abs=0.02)
    assert heights[("urgent", "assigned")] == pytest.approx(2 * unit, abs=0.02)
    assert heights[("low", "assigned")] == pytest.approx(unit, abs=0.02)
    assert ("low", "pending") not in heights  # a zero draws nothing
    by = {(r.get("data-category"), r.get("data-series")): r for r in rects}
    lower, upper = by[("urgent", "pending")], by[("urgent", "assigned")]
    assert float(upper.get("y", 0)) + float(upper.get("height", 0)) == pytest.approx(
        float(lower.get("y", 0)), abs=0.02
    )


def test_the_svg_is_an_accessible_image() -> None:
    """role=img, labelled by its own <title> and <desc>, and a data table with the figures."""
    chart = column_chart("c1", "Open requests", "By priority", ["a"], [Series("n", [3])])
    root = parse(chart.svg)
    assert root.get("role") == "img"
    title = root.find("svg:title", NS)
    desc = root.find("svg:desc", NS)
    assert title is not None and title.text == "Open requests"
    assert desc is not None and desc.text == "By priority"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    table = ET.fromstring(chart.table)
    assert table.tag == "table"
    caption = table.find("caption")
    assert caption is not None and caption.text == "Open requests"
    cells = [c.text or "" for c in table.iter() if c.tag in {"th", "td"}]
    assert cells == ["", "n", "total", "a", "3", "3"]


def test_labels_are_escaped_everywhere() -> None:
    """A name holding markup stays text: no <script> element in the SVG or the table."""
    charts = [
        column_chart("x", XSS, XSS, [XSS], [Series(XSS, [1])]),
        bar_chart("y", XSS, XSS, [Bar(XSS, 1, limit=2, note=XSS)]),
        percentile_strip("z", XSS, XSS, [(XSS, 5.0)]),
    ]
    for chart in charts:
        for markup in (chart.svg, chart.table):
            assert "<script" not in markup
            root = ET.fromstring(markup)
            assert not [e for e in root.iter() if e.tag.endswith("script")]
            texts = [t for e in root.iter() for t in (e.text or "",)]
            assert any(XSS in t for t in texts)  # shown as the text it is


def test_control_characters_do_not_break_the_svg() -> None:
    """A label with NUL or other control characters still gives well-formed XML."""
    chart = bar_chart("b", "t\x00", "d\x01", [Bar("ali\x0bce", 1)])
    assert parse(chart.svg).find("svg:title", NS) is not None
    ET.fromstring(chart.table)


def test_horizontal_bars_are_proportional_with_limit_markers() -> None:
    """Widths are value / scale; a limit marker sits at limit / scale."""
    chart = bar_chart(
        "load",
        "Load",
        "Open assigned per human",
        [Bar("alice", 2, limit=4), Bar("bob", 5), Bar("carol", 0, limit=1)],
    )
    root = parse(chart.svg)
    widths = {r.get("data-label"): float(r.get("width", 0)) for r in rects_with_values(root)}
    assert widths["alice"] / widths["bob"] == pytest.approx(2 / 5, abs=0.01)
    assert widths["carol"] == 0
    marks = [line for line in root.iterfind(".//svg:line", NS) if "data-limit" in line.attrib]
    assert [m.get("data-limit") for m in marks] == ["4", "1"]
    bob_start = next(
        float(r.get("x", 0)) for r in rects_with_values(root) if r.get("data-label") == "bob"
    )
    alice_limit_x = float(marks[0].get("x1", 0)) - bob_start
    assert alice_limit_x / widths["bob"] == pytest.approx(4 / 5, abs=0.01)


def test_bars_against_a_fixed_scale_do_not_overflow() -> None:
    """Rates on a 0-1 scale: 25% is a quarter of the track, and 150% is capped at the end."""
    chart = bar_chart("r", "Rates", "d", [Bar("t", 0.25), Bar("e", 1.5)], percent, scale_max=1)
    widths = [float(r.get("width", 0)) for r in rects_with_values(parse(chart.svg))]
    assert widths[0] * 4 == pytest.approx(widths[1], abs=0.02)
    assert "150.0%" in chart.svg


def test_percentile_marks_sit_at_their_values() -> None:
    """p50 at 60 s and p99 at 240 s: p99 is four times as far from 0 along the axis."""
    chart = percentile_strip(
        "p", "Response times", "d", [("p50", 60.0), ("p90", None), ("p99", 240.0)]
    )
    root = parse(chart.svg)
    marks = {c.get("data-label"): float(c.get("cx", 0)) for c in root.iterfind(".//svg:circle", NS)}
    assert set(marks) == {"p50", "p99"}  # no answer, no mark
    origin = 24.0
    assert (marks["p99"] - origin) / (marks["p50"] - origin) == pytest.approx(4, abs=0.01)
    cells = [c.text for c in ET.fromstring(chart.table).iter("td")]
    assert cells == ["1.0 min", "none", "4.0 min"]


def test_empty_charts_say_so() -> None:
    assert "nothing to show" in bar_chart("e", "t", "d", []).svg
    assert "no answers" in percentile_strip("e", "t", "d", [("p50", None)]).svg


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (240, 250), (0.3, 0.5)]
)
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4.25, "4.2 s"), (45, "45 s"), (210, "3.5 min"), (7560, "2.1 h"), (129600, "1.5 d")],
)
def test_durations_read_like_a_person_writes_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text
