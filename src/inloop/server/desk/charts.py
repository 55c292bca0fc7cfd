"""Charts drawn on the server as SVG: no script, no CDN, so the desk works offline.

Each chart is built with ``xml.etree`` (which escapes every label and attribute) and comes
with the same figures as an HTML table, for screen readers and for anyone who would
rather read numbers. The SVG is ``role="img"`` and labelled by its ``<title>`` and
``<desc>``. Sizes are in a ``viewBox``, so a chart scales to the width of its box.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
# Colours with at least 3:1 contrast on white (WCAG 1.4.11, graphical objects).
PALETTE = ("#1f5fbf", "#b4540a", "#2f7d32", "#8e24aa", "#c62828", "#00695c")
INK = "#1d1d1f"
GRID = "#6b6b6b"

Format = Callable[[float], str]
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Series:
    """One stacked part of every column: its name and one value per category."""

    name: str
    values: Sequence[float]


@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart; ``limit`` draws a marker (such as a capacity)."""

    label: str
    value: float
    limit: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Chart:
    title: str
    svg: Markup
    table: Markup


def plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 45 s, 3.5 min, 2.1 h, 1.5 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value - 1e-9:
            return float(step * power)
    return float(10 * power)


def column_chart(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    fmt: Format = plain,
    *,
    label_every: int = 1,
    scale_max: float | None = None,
    no_data: Sequence[int] = (),
) -> Chart:
    """Vertical columns, one per category, each stacked from the series in order; with
    many categories, ``label_every`` labels only every n-th (the table has them all).
    Categories in ``no_data`` (by index) read "no data" rather than a value."""
    width, height = 480.0, 240.0
    left, right, top, bottom = 48.0, 12.0, 12.0, 48.0
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top_value = scale_max if scale_max is not None else nice_ceiling(max(totals, default=0))
    svg = _svg(chart_id, title, description, width, height)
    _grid(svg, left, top, plot_w, plot_h, top_value, fmt)
    slot = plot_w / max(len(categories), 1)
    bar_w = slot * 0.6
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar_w) / 2
        base = top + plot_h
        for n, part in enumerate(series):
            value = part.values[i]
            h = plot_h * value / top_value
            if h > 0:
                rect = _el(svg, "rect", x=x, y=base - h, width=bar_w, height=h)
                rect.set("fill", PALETTE[n % len(PALETTE)])
                rect.set("data-value", plain(value))
                rect.set("data-series", part.name)
                rect.set("data-category", category)
                _el(rect, "title").text = f"{category}, {part.name}: {fmt(value)}"
            base -= h
        if i % label_every:
            continue
        total = _el(svg, "text", x=x + bar_w / 2, y=base - 4, fill=INK)
        total.set("text-anchor", "middle")
        total.set("font-size", "12")
        total.text = "-" if i in no_data else fmt(totals[i])
        label = _el(svg, "text", x=x + bar_w / 2, y=top + plot_h + 18, fill=INK)
        label.set("text-anchor", "middle")
        label.set("font-size", "13")
        label.text = category
    _legend(svg, [s.name for s in series], left, height - 14)
    rows = [
        [c, *(fmt(s.values[i]) for s in series), fmt(totals[i])]
        if i not in no_data
        else [c, *("no data" for _ in series), "no data"]
        for i, c in enumerate(categories)
    ]
    header = ["", *(s.name for s in series), "total"]
    return Chart(title, _markup(svg), _table(chart_id, title, header, rows))


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    bars: Sequence[Bar],
    fmt: Format = plain,
    *,
    scale_max: float | None = None,
    value_label: str = "value",
    limit_label: str = "limit",
    label_chars: int = 20,
) -> Chart:
    """Horizontal bars, one per row, with an optional limit marker on each; labels longer
    than ``label_chars`` are shortened (in full in their tooltip and the table)."""
    row_h, value_w = 28.0, 96.0
    label_w = max(170.0, 8.0 * label_chars + 10)
    width = label_w + 254.0 + value_w
    top = 8.0
    plot_w = width - label_w - value_w
    height = top * 2 + row_h * max(len(bars), 1)
    biggest = max([b.value for b in bars] + [b.limit or 0 for b in bars], default=0)
    top_value = scale_max if scale_max is not None else nice_ceiling(biggest)
    svg = _svg(chart_id, title, description, width, height)
    for i, bar in enumerate(bars):
        y = top + row_h * i
        label = _el(svg, "text", x=label_w - 8, y=y + row_h / 2 + 4, fill=INK)
        label.set("text-anchor", "end")
        label.set("font-size", "13")
        label.text = _shorten(bar.label, label_chars)
        _el(label, "title").text = bar.label
        _el(svg, "rect", x=label_w, y=y + 6, width=plot_w, height=row_h - 12, fill="#ececec")
        w = plot_w * min(bar.value, top_value) / top_value if top_value else 0
        rect = _el(svg, "rect", x=label_w, y=y + 6, width=w, height=row_h - 12)
        rect.set("fill", PALETTE[0])
        rect.set("data-value", plain(bar.value))
        rect.set("data-label", bar.label)
        _el(rect, "title").text = f"{bar.label}: {fmt(bar.value)}"
        if bar.limit is not None and top_value:
            lx = label_w + plot_w * min(bar.limit, top_value) / top_value
            mark = _el(svg, "line", x1=lx, x2=lx, y1=y + 2, y2=y + row_h - 2, stroke=INK)
            mark.set("stroke-width", "2")
            mark.set("data-limit", plain(bar.limit))
        text = fmt(bar.value) + (f" / {fmt(bar.limit)}" if bar.limit is not None else "")
        value = _el(svg, "text", x=label_w + plot_w + 8, y=y + row_h / 2 + 4, fill=INK)
        value.set("font-size", "13")
        value.text = text
    if not bars:
        empty = _el(svg, "text", x=width / 2, y=top + row_h / 2 + 4, fill=GRID)
        empty.set("text-anchor", "middle")
        empty.text = "nothing to show"
    has_limits = any(b.limit is not None for b in bars)
    header = ["", value_label] + ([limit_label] if has_limits else []) + ["note"]
    rows = [
        [b.label, fmt(b.value)]
        + ([fmt(b.limit) if b.limit is not None else "none"] if has_limits else [])
        + [b.note]
        for b in bars
    ]
    return Chart(title, _markup(svg), _table(chart_id, title, header, rows))


def percentile_strip(
    chart_id: str,
    title: str,
    description: str,
    points: Sequence[tuple[str, float | None]],
    fmt: Format = duration,
) -> Chart:
    """Marks on one axis from 0: where each percentile falls (p50, p90, p99 ...)."""
    width, height = 480.0, 110.0
    left, right = 24.0, 24.0
    axis_y = 58.0
    plot_w = width - left - right
    known = [v for _, v in points if v is not None]
    top_value = nice_ceiling(max(known, default=0))
    svg = _svg(chart_id, title, description, width, height)
    _el(svg, "line", x1=left, x2=left + plot_w, y1=axis_y, y2=axis_y, stroke=GRID)
    for tick in (0.0, top_value / 2, top_value):
        x = left + plot_w * tick / top_value
        _el(svg, "line", x1=x, x2=x, y1=axis_y - 4, y2=axis_y + 4, stroke=GRID)
        label = _el(svg, "text", x=x, y=axis_y + 22, fill=INK)
        label.set("text-anchor", "middle")
        label.set("font-size", "12")
        label.text = fmt(tick) if tick else "0"
    for n, (name, value) in enumerate(points):
        if value is None:
            continue
        x = left + plot_w * value / top_value
        mark = _el(svg, "circle", cx=x, cy=axis_y, r=7, fill=PALETTE[n % len(PALETTE)])
        mark.set("data-value", repr(float(value)))
        mark.set("data-label", name)
        _el(mark, "title").text = f"{name}: {fmt(value)}"
        text = _el(svg, "text", x=x, y=axis_y - 14 - 14 * (n % 2), fill=INK)
        text.set("text-anchor", "middle")
        text.set("font-size", "12")
        text.text = f"{name} {fmt(value)}"
    if not known:
        empty = _el(svg, "text", x=width / 2, y=axis_y - 16, fill=GRID)
        empty.set("text-anchor", "middle")
        empty.text = "no answers in this period"
    rows = [[name, fmt(value) if value is not None else "none"] for name, value in points]
    return Chart(title, _markup(svg), _table(chart_id, title, ["", "time"], rows))


def _svg(chart_id: str, title: str, description: str, width: float, height: float) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {_n(width)} {_n(height)}",
            "role": "img",
            "aria-labelledby": f"{chart_id}-title {chart_id}-desc",
            "class": "chart",
            "id": chart_id,
            "font-family": "system-ui, sans-serif",
        },
    )
    ET.SubElement(svg, "title", id=f"{chart_id}-title").text = title
    ET.SubElement(svg, "desc", id=f"{chart_id}-desc").text = description
    return svg


def _grid(
    svg: ET.Element, left: float, top: float, w: float, h: float, top_value: float, fmt: Format
) -> None:
    for step in range(5):
        value = top_value * step / 4
        y = top + h - h * step / 4
        line = _el(svg, "line", x1=left, x2=left + w, y1=y, y2=y, stroke=GRID)
        line.set("stroke-opacity", "1" if step == 0 else "0.25")
        label = _el(svg, "text", x=left - 6, y=y + 4, fill=INK)
        label.set("text-anchor", "end")
        label.set("font-size", "11")
        label.text = fmt(value)


def _legend(svg: ET.Element, names: Sequence[str], x: float, y: float) -> None:
    for n, name in enumerate(names):
        _el(svg, "rect", x=x, y=y - 10, width=12, height=12, fill=PALETTE[n % len(PALETTE)])
        label = _el(svg, "text", x=x + 16, y=y, fill=INK)
        label.set("font-size", "12")
        label.text = name
        x += 24 + 8 * len(name)


def _el(parent: ET.Element, tag: str, **attrs: float | str) -> ET.Element:
    return ET.SubElement(
        parent, tag, {k: _n(v) if isinstance(v, float | int) else v for k, v in attrs.items()}
    )


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _markup(element: ET.Element) -> Markup:
    # ElementTree escapes &, <, > and quotes in text and attributes: the result is safe.
    return Markup(ET.tostring(_cleaned(element), encoding="unicode"))  # noqa: S704


def _cleaned(element: ET.Element) -> ET.Element:
    """Drop the characters XML cannot hold (NUL and other controls) from names people typed."""
    for node in element.iter():
        if node.text:
            node.text = _XML_INVALID.sub("", node.text)
        for key, value in node.attrib.items():
            node.attrib[key] = _XML_INVALID.sub("", value)
    return element


def _table(chart_id: str, caption: str, header: list[str], rows: list[list[str]]) -> Markup:
    table = ET.Element("table", {"class": "chart-data", "id": f"{chart_id}-data"})
    ET.SubElement(table, "caption").text = caption
    head = ET.SubElement(ET.SubElement(table, "thead"), "tr")
    for name in header:
        ET.SubElement(head, "th", scope="col").text = name
    body = ET.SubElement(table, "tbody")
    for row in rows:
        tr = ET.SubElement(body, "tr")
        ET.SubElement(tr, "th", scope="row").text = row[0]
        for cell in row[1:]:
            ET.SubElement(tr, "td").text = cell
    return _markup_html(table)


def _markup_html(element: ET.Element) -> Markup:
    return Markup(ET.tostring(_cleaned(element), encoding="unicode", method="html"))  # noqa: S704
