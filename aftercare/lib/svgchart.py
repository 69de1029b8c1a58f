"""Server-rendered SVG charts: pure functions from numbers to safe markup.

Each chart is a ``<figure>`` holding an ``<svg>`` (``viewBox`` only, so CSS makes it
fluid: ``width: 100%; height: auto``) with a ``<title>`` and ``<desc>``, axis labels, an
HTML legend, and the same numbers as a table in a ``<details>`` for screen readers and
for anyone who wants the figures. No JavaScript, no inline ``style`` attributes (the
console's CSP forbids them); colours are presentation attributes from the Okabe–Ito
palette, which stays distinguishable for the common kinds of colour blindness, and line
series also differ by dash pattern and marker shape.

Every piece of text (titles, labels, series names, customers' and agents' names) goes
through ``escape``; numbers are formatted with Django's ``number_format`` in the active
locale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

# Okabe & Ito (2008): blue, orange, bluish green, vermillion, sky blue, reddish purple,
# yellow, black.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000")
DASHES = ("", "6 4", "2 3", "8 3 2 3")
TARGET_COLOUR = "#000"
AXIS_COLOUR = "#6b7280"
GRID_COLOUR = "#e5e7eb"

WIDTH = 400  # viewBox units; the figure scales to its container
FONT = 12
LEFT = 44  # room for the y tick labels
RIGHT = 24  # room for the last x label
TOP = 14
BOTTOM = 46  # x tick labels and the x axis title
MAX_X_LABELS = 6


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def fmt(value: float, decimals: int = 0) -> str:
    return number_format(round(value, decimals), decimals)


def nice_ticks(maximum: float, count: int = 4, *, integer: bool = False) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 × 10ⁿ) up to at least ``maximum``; [0, 1] for 0.

    ``integer``: whole steps only (counts of requests have no quarters)."""
    if not maximum or maximum <= 0 or math.isnan(maximum):
        return [0, 1]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step != int(step) and (power >= 1 or integer):
        step = 5 * power if power >= 1 else 1
    if integer:
        step = max(1, step)
    n = math.ceil(maximum / step - 1e-9)
    return [round(step * k, 10) for k in range(n + 1)]


def _label_every(n: int) -> int:
    return max(1, math.ceil(n / MAX_X_LABELS))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _open_svg(chart_id: str, title: str, desc: str, height: float) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg class="chart-svg" viewBox="0 0 {WIDTH} {height:g}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" font-size="{FONT}" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def _legend(names: Sequence[str], kinds: Sequence[str], extra: str = "") -> str:
    if not names and not extra:
        return ""
    items = []
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        if kind == "line":
            dash = DASHES[i % len(DASHES)]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            swatch = (
                '<svg class="chart-key" viewBox="0 0 24 12" aria-hidden="true">'
                f'<line x1="1" y1="6" x2="23" y2="6" stroke="{colour(i)}" stroke-width="3"'
                f"{dash_attr}/></svg>"
            )
        else:
            swatch = (
                '<svg class="chart-key" viewBox="0 0 12 12" aria-hidden="true">'
                f'<rect width="12" height="12" rx="2" fill="{colour(i)}"/></svg>'
            )
        items.append(f"<li>{swatch}{escape(name)}</li>")
    if extra:
        items.append(extra)
    return f'<ul class="chart-legend">{"".join(items)}</ul>'


def _table(caption: str, head: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    ths = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join(
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in cells)
        + "</tr>"
        for label, cells in rows
    )
    if not rows:
        none = _("No data")
        body = f'<tr><td colspan="{len(head)}">{escape(none)}</td></tr>'
    summary = _("Data table")
    return (
        f'<details class="chart-data"><summary>{escape(summary)}</summary>'
        f'<table class="chart-table"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table></details>"
    )


def _figure(chart_id: str, kind: str, svg: list[str], legend: str, table: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every piece of text above went through escape()
        f'<figure class="chart chart-{kind}" id="{escape(chart_id)}">'
        + "".join(svg)
        + legend
        + table
        + "</figure>"
    )


def _empty(chart_id: str, kind: str, title: str, desc: str, head: Sequence[str]) -> SafeString:
    height = 120
    svg = _open_svg(chart_id, title, desc, height)
    nothing = _("No data for this period")
    svg.append(
        f'<text x="{WIDTH / 2:g}" y="{height / 2:g}" text-anchor="middle" '
        f'fill="{AXIS_COLOUR}">{escape(nothing)}</text></svg>'
    )
    return _figure(chart_id, kind, svg, "", _table(title, head, []))


def _y_axis(ticks: list[float], plot_h: float, y_label: str, decimals: int) -> list[str]:
    top = ticks[-1] or 1
    out = []
    for t in ticks:
        y = TOP + plot_h - plot_h * t / top
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOUR}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS_COLOUR}">'
            f"{escape(fmt(t, decimals))}</text>"
        )
    if y_label:
        out.append(
            f'<text class="chart-axis-title" x="12" y="{TOP + plot_h / 2:.1f}" '
            f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})" text-anchor="middle" '
            f'fill="{AXIS_COLOUR}">{escape(y_label)}</text>'
        )
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float], plot_h: float, x_label: str) -> list[str]:
    every = _label_every(len(labels))
    out = []
    last = len(labels) - 1
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if (last - i) % every:  # always label the newest point
            continue
        out.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 16:.1f}" text-anchor="middle" '
            f'fill="{AXIS_COLOUR}">{escape(label)}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h:.1f}" x2="{WIDTH - RIGHT}" '
        f'y2="{TOP + plot_h:.1f}" stroke="{AXIS_COLOUR}"/>'
    )
    if x_label:
        out.append(
            f'<text class="chart-axis-title" x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.1f}" '
            f'y="{TOP + plot_h + 36:.1f}" text-anchor="middle" fill="{AXIS_COLOUR}">'
            f"{escape(x_label)}</text>"
        )
    return out


def line_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    x_label: str = "",
    y_label: str = "",
    area: bool = True,
    height: int = 240,
) -> SafeString:
    """Lines over shared x ``labels``; the first series is also shaded (``area``)."""
    head = [x_label or _("Period"), *(name for name, _v in series)]
    if not labels or not series:
        return _empty(chart_id, "line", title, desc, head)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    ticks = nice_ticks(max((max(v, default=0) for _n, v in series), default=0), integer=True)
    top = ticks[-1] or 1
    n = len(labels)
    xs = [LEFT + plot_w / 2] if n == 1 else [LEFT + plot_w * i / (n - 1) for i in range(n)]
    svg = _open_svg(chart_id, title, desc, height)
    svg += _y_axis(ticks, plot_h, y_label, 0)

    def y_of(v: float) -> float:
        return TOP + plot_h - plot_h * max(v, 0) / top

    for i, (name, values) in enumerate(series):
        points = [(x, y_of(v)) for x, v in zip(xs, values, strict=False)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        if area and i == 0 and len(points) > 1:
            base = TOP + plot_h
            svg.append(
                f'<polygon points="{points[0][0]:.1f},{base:.1f} {path} '
                f'{points[-1][0]:.1f},{base:.1f}" fill="{colour(i)}" fill-opacity="0.12"/>'
            )
        dash = DASHES[i % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        svg.append(f'<g class="chart-series"><title>{escape(name)}</title>')
        if len(points) > 1:
            svg.append(
                f'<polyline points="{path}" fill="none" stroke="{colour(i)}" '
                f'stroke-width="2.5" stroke-linejoin="round"{dash_attr}/>'
            )
        for (x, y), label, v in zip(points, labels, values, strict=False):
            tip = f"{name}, {label}: {fmt(v)}"
            if i % 2 == 0:  # circles and squares, so the series differ without colour
                tag, shape = "circle", f'cx="{x:.1f}" cy="{y:.1f}" r="3.5"'
            else:
                tag, shape = "rect", f'x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7"'
            svg.append(f'<{tag} {shape} fill="{colour(i)}"><title>{escape(tip)}</title></{tag}>')
        svg.append("</g>")
    svg += _x_labels(labels, xs, plot_h, x_label)
    svg.append("</svg>")
    rows = [
        (label, [fmt(values[k]) if k < len(values) else "" for _n, values in series])
        for k, label in enumerate(labels)
    ]
    legend = _legend([name for name, _v in series], ["line"] * len(series))
    return _figure(chart_id, "line", svg, legend, _table(title, head, rows))


def grouped_bars(
    *,
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    x_label: str = "",
    y_label: str = "",
    height: int = 240,
) -> SafeString:
    """One group of vertical bars per label, one bar per series, side by side."""
    head = [x_label or _("Period"), *(name for name, _v in series)]
    if not labels or not series:
        return _empty(chart_id, "bars", title, desc, head)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    ticks = nice_ticks(max((max(v, default=0) for _n, v in series), default=0), integer=True)
    top = ticks[-1] or 1
    n, k = len(labels), len(series)
    slot = plot_w / n
    gap = slot * 0.2
    bar_w = (slot - gap) / k
    svg = _open_svg(chart_id, title, desc, height)
    svg += _y_axis(ticks, plot_h, y_label, 0)
    centres = []
    for g, label in enumerate(labels):
        x0 = LEFT + g * slot + gap / 2
        centres.append(x0 + (slot - gap) / 2)
        for i, (name, values) in enumerate(series):
            v = values[g] if g < len(values) else 0
            h = plot_h * max(v, 0) / top
            svg.append(
                f'<rect x="{x0 + i * bar_w:.1f}" y="{TOP + plot_h - h:.1f}" '
                f'width="{max(bar_w - 1, 0.5):.1f}" height="{h:.1f}" fill="{colour(i)}">'
                f"<title>{escape(f'{name}, {label}: {fmt(v)}')}</title></rect>"
            )
    svg += _x_labels(labels, centres, plot_h, x_label)
    svg.append("</svg>")
    rows = [
        (label, [fmt(values[g]) if g < len(values) else "" for _n, values in series])
        for g, label in enumerate(labels)
    ]
    legend = _legend([name for name, _v in series], ["bar"] * len(series))
    return _figure(chart_id, "bars", svg, legend, _table(title, head, rows))


def horizontal_bars(
    *,
    chart_id: str,
    title: str,
    desc: str,
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[str] = (),
    x_label: str = "",
    maximum: float | None = None,
    target: float | None = None,
    target_label: str = "",
    percent: bool = False,
    decimals: int = 0,
    label_width: int = 150,
) -> SafeString:
    """One horizontal bar per row, stacked when a row has several values (one per
    ``series``). ``percent`` prints values with a % sign and fixes the scale at 0-100;
    ``target`` draws a vertical reference line (e.g. the SLA target)."""
    names = list(series) or [x_label or _("Value")]
    head = [_("Name"), *names] + ([_("Total")] if len(names) > 1 else [])
    if not rows:
        return _empty(chart_id, "hbars", title, desc, head)
    row_h, bar_h = 28, 18
    value_w = 56
    plot_w = WIDTH - label_width - value_w - RIGHT
    height = TOP + row_h * len(rows) + 38
    totals = [sum(max(v, 0) for v in values) for _l, values in rows]
    if percent:
        ticks = [0, 25, 50, 75, 100]
    else:
        ticks = nice_ticks(max(maximum or 0, max(totals, default=0)), integer=decimals == 0)
    top = ticks[-1] or 1
    x0 = label_width
    plot_h = row_h * len(rows)
    unit = "%" if percent else ""

    def text_of(v: float) -> str:
        return f"{fmt(v, decimals)}{' ' + unit if unit else ''}"

    svg = _open_svg(chart_id, title, desc, height)
    for t in ticks:
        x = x0 + plot_w * t / top
        svg.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" '
            f'stroke="{GRID_COLOUR}"/>'
            f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" '
            f'fill="{AXIS_COLOUR}">{escape(fmt(t))}</text>'
        )
    values_text: list[str] = []
    for r, ((label, values), total) in enumerate(zip(rows, totals, strict=True)):
        y = TOP + r * row_h + (row_h - bar_h) / 2
        svg.append(
            f'<text x="{x0 - 8}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(_shorten(label, 22))}</text>"
        )
        x = x0
        for i, v in enumerate(values):
            w = plot_w * max(v, 0) / top
            if w <= 0:
                continue
            name = names[i] if i < len(names) else ""
            svg.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{colour(i)}"><title>{escape(f"{label}, {name}: {text_of(v)}")}</title>'
                "</rect>"
            )
            x += w
        values_text.append(  # drawn last, over the target line, with a white halo
            f'<text x="{x + 6:.1f}" y="{y + bar_h / 2 + 4:.1f}" class="chart-value" '
            'paint-order="stroke" stroke="#fff" stroke-width="4" stroke-linejoin="round">'
            f"{escape(text_of(total))}</text>"
        )
    svg.append(f'<line x1="{x0}" y1="{TOP}" x2="{x0}" y2="{TOP + plot_h}" stroke="{AXIS_COLOUR}"/>')
    extra = ""
    if target is not None:
        tx = x0 + plot_w * min(max(target, 0), top) / top
        svg.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{TOP + plot_h + 2}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="5 3">'
            f"<title>{escape(target_label)}</title></line>"
        )
        extra = (
            '<li><svg class="chart-key" viewBox="0 0 24 12" aria-hidden="true">'
            f'<line x1="1" y1="6" x2="23" y2="6" stroke="{TARGET_COLOUR}" stroke-width="2" '
            f'stroke-dasharray="5 3"/></svg>{escape(target_label)}</li>'
        )
    svg += values_text
    if x_label:
        svg.append(
            f'<text class="chart-axis-title" x="{x0 + plot_w / 2:.1f}" '
            f'y="{TOP + plot_h + 32}" text-anchor="middle" fill="{AXIS_COLOUR}">'
            f"{escape(x_label)}</text>"
        )
    svg.append("</svg>")
    table_rows = [
        (
            label,
            [text_of(v) for v in values] + ([text_of(total)] if len(names) > 1 else []),
        )
        for (label, values), total in zip(rows, totals, strict=True)
    ]
    legend = _legend(
        names if len(names) > 1 else [], ["bar"] * (len(names) if len(names) > 1 else 0), extra
    )
    return _figure(chart_id, "hbars", svg, legend, _table(title, head, table_rows))
