"""Server-rendered SVG charts: series in, shapes with axes and labels out.

No chart library and no script: the page draws `Chart` with the macro in
`templates/dashboard/_chart.html`, which writes the SVG (autoescaped, so a
company-written stage or tier name is only ever text), a `<title>` on every bar
for the number on hover, and the same numbers as a `<table>` under it.

Geometry is in a fixed `viewBox` that the stylesheet scales to the column's
width. Right-to-left pages mirror it: bars grow from the right and time runs
from right to left, as Arabic readers scan. Text anchors are in the reading
direction (the SVG takes the page's `direction`), so a label's "end" is its
right edge in English and its left edge in Arabic, and mixed Arabic text with
digits keeps its natural order. Every number shown is formatted by the page's
formatter, so digits, separators and currency follow the reader.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

Number = int | Decimal

WIDTH = 400
ROW_HEIGHT = 30
BAR_THICKNESS = 18
LABEL_SPACE = 150  # horizontal bars: room for the category name
VALUE_SPACE = 90  # horizontal bars: room for the number after the bar
COLUMN_HEIGHT = 220
AXIS_SPACE = 56  # columns: room for the tick labels
BASELINE_SPACE = 34  # columns: room for the period labels under the axis
TOP_SPACE = 12
MAX_PERIOD_LABELS = 6
MAX_TICKS = 4
SHORT_LABEL = 22
MAX_COLUMN_WIDTH = 36


@dataclass(frozen=True)
class Point:
    """One category or period: its label, its value, and the value as the reader sees it."""

    label: str
    value: Number
    shown: str
    axis_label: str = ""  # a shorter label under a column (the table keeps the full one)

    @property
    def short(self) -> str:
        """What fits beside the bar; the `<title>` and the table carry the whole label."""
        label = self.axis_label or self.label
        return label if len(label) <= SHORT_LABEL else label[: SHORT_LABEL - 1] + "…"


@dataclass(frozen=True)
class Mark:
    """A drawn bar (or column) with the places of its texts."""

    x: float
    y: float
    width: float
    height: float
    point: Point
    label_x: float
    label_y: float
    label_anchor: str
    value_x: float
    value_y: float
    value_anchor: str
    show_label: bool = True


@dataclass(frozen=True)
class Tick:
    """A value line across a column chart, with its label."""

    y: float
    shown: str
    label_x: float
    label_anchor: str


@dataclass(frozen=True)
class Chart:
    """What the template draws: the shapes, the axes, and the numbers for the table."""

    id: str
    kind: str  # "bars" (horizontal categories) or "columns" (a series over time)
    width: int
    height: int
    marks: list[Mark]
    ticks: list[Tick]
    axis_x: float  # where the value axis starts (the bars' base line)
    grid_from: float  # the plot's horizontal extent, for the tick lines
    grid_to: float
    points: list[Point]
    label_heading: str
    value_heading: str

    @property
    def empty(self) -> bool:
        """Nothing to draw: no points, or every value zero."""
        return not any(point.value for point in self.points)


def points_of(pairs: Sequence[tuple[str, Number]], shown: Callable[[Number], str]) -> list[Point]:
    """(label, value) pairs as points, each value formatted for the reader."""
    return [Point(label, value, shown(value)) for label, value in pairs]


def _mirror(x: float, width: float, rtl: bool) -> float:
    """The left edge of a shape `width` wide at `x`, mirrored on right-to-left pages."""
    return WIDTH - x - width if rtl else x


def bar_chart(
    chart_id: str,
    points: list[Point],
    *,
    rtl: bool,
    label_heading: str,
    value_heading: str,
) -> Chart:
    """Horizontal bars, one row per category, longest value full width."""
    largest = max((float(p.value) for p in points), default=0.0) or 1.0
    room = WIDTH - LABEL_SPACE - VALUE_SPACE
    marks = []
    for row, point in enumerate(points):
        length = max(float(point.value), 0.0) / largest * room
        top = TOP_SPACE + row * ROW_HEIGHT
        middle = top + BAR_THICKNESS / 2 + 5
        bar_end = LABEL_SPACE + length + 6
        marks.append(
            Mark(
                x=_mirror(LABEL_SPACE, length, rtl),
                y=top,
                width=length,
                height=BAR_THICKNESS,
                point=point,
                label_x=_mirror(LABEL_SPACE - 8, 0, rtl),
                label_y=middle,
                label_anchor="end",
                value_x=_mirror(bar_end, 0, rtl),
                value_y=middle,
                value_anchor="start",
            )
        )
    height = TOP_SPACE * 2 + max(len(points), 1) * ROW_HEIGHT
    return Chart(
        chart_id,
        "bars",
        WIDTH,
        height,
        marks,
        [],
        _mirror(LABEL_SPACE, 0, rtl),
        0,
        0,
        points,
        label_heading,
        value_heading,
    )


def nice_step(largest: float, ticks: int = MAX_TICKS) -> float:
    """A round step (1, 2 or 5 × a power of ten) giving at most `ticks` lines to `largest`."""
    if largest <= 0:
        return 1.0
    raw = largest / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def column_chart(
    chart_id: str,
    points: list[Point],
    *,
    rtl: bool,
    shown: Callable[[Number], str],
    label_heading: str,
    value_heading: str,
) -> Chart:
    """Vertical columns for a series over time (oldest first; on the right in right-to-left)."""
    step = nice_step(max((float(p.value) for p in points), default=0.0))
    top_value = step * max(1, math.ceil(max((float(p.value) for p in points), default=0.0) / step))
    plot_height = COLUMN_HEIGHT - TOP_SPACE - BASELINE_SPACE
    baseline = TOP_SPACE + plot_height
    room = WIDTH - AXIS_SPACE - 8
    slot = room / max(len(points), 1)
    every = max(1, math.ceil(len(points) / MAX_PERIOD_LABELS))
    marks = []
    for index, point in enumerate(points):
        height = max(float(point.value), 0.0) / top_value * plot_height
        width = min(slot * 0.7, MAX_COLUMN_WIDTH)
        left = AXIS_SPACE + index * slot + (slot - width) / 2
        centre = _mirror(left + width / 2, 0, rtl)
        marks.append(
            Mark(
                x=_mirror(left, width, rtl),
                y=baseline - height,
                width=width,
                height=height,
                point=point,
                label_x=centre,
                label_y=baseline + 20,
                label_anchor="middle",
                value_x=centre,
                value_y=baseline - height - 4,
                value_anchor="middle",
                show_label=(len(points) - 1 - index) % every == 0,
            )
        )
    ticks = [
        Tick(
            y=baseline - (step * n) / top_value * plot_height,
            shown=shown(_tick_value(step * n)),
            label_x=_mirror(AXIS_SPACE - 6, 0, rtl),
            label_anchor="end",
        )
        for n in range(round(top_value / step) + 1)
    ]
    return Chart(
        chart_id,
        "columns",
        WIDTH,
        COLUMN_HEIGHT,
        marks,
        ticks,
        _mirror(AXIS_SPACE, 0, rtl),
        _mirror(AXIS_SPACE, room, rtl),
        _mirror(AXIS_SPACE, room, rtl) + room,
        points,
        label_heading,
        value_heading,
    )


def _tick_value(value: float) -> Number:
    return int(value) if float(value).is_integer() else Decimal(str(round(value, 2)))
