"""The 12-month trend as server-rendered SVG geometry (drawn by ``_trend.html``).

No JavaScript and no inline styles (CSP); the classes are the SLA charts' ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from aftercare.availability.reports import Figures

PLOT_H = 120
TOP = 8
BAR_W = 26
GAP = 10
AXIS_W = 44
LABEL_H = 34


@dataclass
class Column:
    figures: Figures
    x: int
    y: int
    height: int
    text_x: int
    tone: str  # good / bad / none


def trend(months: list[Figures], target: Decimal | None) -> dict:
    """Bars from a floor to 100 %: the floor is a whole percent below every value and the
    target, so small differences near 100 % stay visible and no month's bar is empty."""
    values = [f.exact for f in months if f.exact is not None]
    lowest = min([*values, *([target] if target is not None else [])], default=Decimal(99))
    floor = max(0, min(99, math.floor(lowest) - 1))
    span = Decimal(100 - floor)
    columns = []
    for i, fig in enumerate(months):
        x = AXIS_W + i * (BAR_W + GAP)
        exact = fig.exact
        if exact is None:
            height, tone = 0, "none"
        else:
            height = round(PLOT_H * max(Decimal(0), exact - floor) / span)
            tone = "bad" if fig.met is False else "good"
        columns.append(Column(fig, x, TOP + PLOT_H - height, height, x + BAR_W // 2, tone))
    target_y = None
    if target is not None:
        target_y = TOP + PLOT_H - round(PLOT_H * max(Decimal(0), target - floor) / span)
    width = AXIS_W + len(months) * (BAR_W + GAP)
    return {
        "columns": columns,
        "floor": floor,
        "bar_w": BAR_W,
        "top": TOP,
        "plot_h": PLOT_H,
        "base_y": TOP + PLOT_H,
        "label_y": TOP + PLOT_H + 14,
        "label2_y": TOP + PLOT_H + 27,
        "axis_x": AXIS_W - 4,
        "target_y": target_y,
        "target": target,
        "width": width,
        "height": TOP + PLOT_H + LABEL_H,
    }
