"""The SVG charts: safe markup, sensible output for empty, single and all-zero data."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from aftercare.lib import svgchart

HOSTILE = '<script>alert("x")</script> & "Quotes" \'n\' <b>'


def parse(markup: str) -> ElementTree.Element:
    """The figure must be well-formed XML (so nothing unescaped slipped through)."""
    return ElementTree.fromstring(markup.replace("&nbsp;", " "))


def charts(**kw):
    yield svgchart.line_chart(
        chart_id="c1",
        title=kw.get("title", "Backlog"),
        desc="d",
        labels=kw.get("labels", ["1 Dec", "8 Dec"]),
        series=kw.get("series", [("Open", [3, 5]), ("Urgent", [1, 2])]),
        x_label="Week",
        y_label="Requests",
    )
    yield svgchart.grouped_bars(
        chart_id="c2",
        title=kw.get("title", "Flow"),
        desc="d",
        labels=kw.get("labels", ["1 Dec", "8 Dec"]),
        series=kw.get("series", [("Created", [3, 5]), ("Solved", [1, 2])]),
        x_label="Week",
        y_label="Requests",
    )
    yield svgchart.horizontal_bars(
        chart_id="c3",
        title=kw.get("title", "Workload"),
        desc="d",
        rows=kw.get("rows", [("Ana", [1, 2]), ("Dan", [0, 4])]),
        series=kw.get("names", ["High", "Normal"]),
        x_label="Open requests",
    )


def test_it_escapes_hostile_names_everywhere():
    out = list(
        charts(
            title=HOSTILE,
            labels=[HOSTILE, "ok"],
            series=[(HOSTILE, [1, 2])],
            rows=[(HOSTILE, [1, 2])],
            names=[HOSTILE, "Normal"],
        )
    ) + [
        svgchart.horizontal_bars(
            chart_id='x" onload="alert(1)',
            title="t",
            desc=HOSTILE,
            rows=[(HOSTILE, [50.0])],
            percent=True,
            target=90,
            target_label=HOSTILE,
        )
    ]
    for markup in out:
        assert "<script" not in markup
        assert "<b>" not in markup
        assert 'onload="' not in markup
        assert "&lt;script&gt;" in markup
        parse(markup)


@pytest.mark.parametrize("kind", ["line", "bars", "hbars"])
def test_it_draws_a_placeholder_and_an_empty_table_for_no_data(kind):
    markup = {
        "line": lambda: svgchart.line_chart(
            chart_id="e", title="T", desc="D", labels=[], series=[]
        ),
        "bars": lambda: svgchart.grouped_bars(
            chart_id="e", title="T", desc="D", labels=[], series=[]
        ),
        "hbars": lambda: svgchart.horizontal_bars(chart_id="e", title="T", desc="D", rows=[]),
    }[kind]()
    root = parse(markup)
    assert "No data for this period" in markup
    assert root.find(".//{http://www.w3.org/2000/svg}title").text == "T"
    assert "<td colspan=" in markup


def test_it_draws_a_single_point_without_dividing_by_zero():
    markup = svgchart.line_chart(
        chart_id="one", title="T", desc="D", labels=["1 Dec"], series=[("Open", [4])]
    )
    parse(markup)
    assert "<circle" in markup and "nan" not in markup.lower()
    assert "<polyline" not in markup  # one point: a marker, no line
    bars = svgchart.grouped_bars(
        chart_id="one", title="T", desc="D", labels=["1 Dec"], series=[("Created", [4])]
    )
    parse(bars)
    assert "nan" not in bars.lower()


def test_it_copes_with_an_all_zero_series():
    for markup in charts(
        series=[("Open", [0, 0]), ("Urgent", [0, 0])], rows=[("Ana", [0, 0]), ("Dan", [0, 0])]
    ):
        parse(markup)
        assert "nan" not in markup.lower() and "inf" not in markup.lower()
        heights = re.findall(r'height="(-?[\d.]+)"', markup)
        assert all(float(h) >= 0 for h in heights)


def test_each_chart_has_viewbox_title_desc_legend_and_data_table():
    for markup in charts():
        root = parse(markup)
        svg = root.find("{http://www.w3.org/2000/svg}svg")
        assert svg.get("viewBox").startswith("0 0 ")
        assert svg.get("width") is None and svg.get("height") is None  # CSS sizes it
        assert svg.get("role") == "img"
        assert svg.find("{http://www.w3.org/2000/svg}title") is not None
        assert svg.find("{http://www.w3.org/2000/svg}desc") is not None
        assert root.find(".//ul[@class='chart-legend']") is not None
        table = root.find(".//details/table")
        assert table is not None
        assert "style=" not in markup  # the console's CSP forbids inline styles


def test_the_data_table_holds_the_numbers():
    markup = svgchart.grouped_bars(
        chart_id="t",
        title="Flow",
        desc="d",
        labels=["1 Dec", "8 Dec"],
        series=[("Created", [3, 5]), ("Solved", [1, 2])],
    )
    root = parse(markup)
    rows = [[c.text for c in tr] for tr in root.findall(".//tbody/tr")]
    assert rows == [["1 Dec", "3", "1"], ["8 Dec", "5", "2"]]


def test_percent_bars_keep_a_fixed_scale_and_draw_the_target():
    markup = svgchart.horizontal_bars(
        chart_id="p",
        title="SLA",
        desc="d",
        rows=[("Alpha", [33.3]), ("Beta", [100.0])],
        percent=True,
        decimals=1,
        target=90,
        target_label="Target 90 %",
    )
    parse(markup)
    assert ">100<" in markup  # the last tick
    assert "stroke-dasharray" in markup and "Target 90 %" in markup
    assert "33.3 %" in markup


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [(0, [0, 1]), (1, [0, 0.25, 0.5, 0.75, 1]), (7, [0, 2, 4, 6, 8]), (130, [0, 50, 100, 150])],
)
def test_nice_ticks(maximum, ticks):
    assert svgchart.nice_ticks(maximum) == ticks


def test_counts_get_whole_ticks():
    assert svgchart.nice_ticks(1, integer=True) == [0, 1]
    assert svgchart.nice_ticks(3, integer=True) == [0, 1, 2, 3]
