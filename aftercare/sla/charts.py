"""Server-side bar charts: geometry computed here, drawn as SVG by ``sla/_bars.html``.

No JavaScript and no inline styles, so the charts work under a strict CSP and print.
"""

from __future__ import annotations

from dataclasses import dataclass

ROW = 22
LABEL_W = 90
BAR_W = 200


@dataclass
class Bar:
    label: str
    value_text: str
    y: int
    width: int
    text_y: int
    tone: str


def bars(
    rows: list[tuple[str, float | None, str]], maximum: float, warn_below: float | None = None
) -> dict:
    """``rows``: (label, value, value text). Width is value / maximum of the bar area."""
    out = []
    for i, (label, value, text) in enumerate(rows):
        width = 0 if not value or maximum <= 0 else round(BAR_W * min(value, maximum) / maximum)
        tone = (
            "bad" if warn_below is not None and value is not None and value < warn_below else "good"
        )
        out.append(Bar(label, text, i * ROW + 4, width, i * ROW + 17, tone))
    return {
        "bars": out,
        "height": max(len(rows), 1) * ROW + 4,
        "label_w": LABEL_W,
        "bar_x": LABEL_W + 6,
        "bar_w": BAR_W,
        "value_x": LABEL_W + BAR_W + 12,
        "width": LABEL_W + BAR_W + 70,
    }
