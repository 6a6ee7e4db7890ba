"""Bar charts as geometry for server-rendered SVG: bars, gridlines at round numbers, axis labels.

The SVG holds only shapes and stretches to its box; the axis labels are HTML around it, so their text
keeps its size at any width.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 720
HEIGHT = 200
GAP = 0.2  # of each slot, between bars


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # the tooltip: "Tue 3 Nov: 12 events"
    label: str  # shown under the axis for every few bars, else ""


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    gridlines: list[float]  # y of each gridline, bottom (0) first
    ticks: list[str]  # their labels, top first
    total: int
    description: str


def axis(peak: int) -> tuple[int, int]:
    """The axis top and gridline step: a step of 1, 2 or 5 × 10ⁿ, at most 5 steps up to the peak (at least 4)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            steps = -(-max(peak, 4) // (step * factor))
            if steps <= 5:
                return steps * step * factor, step * factor
        step *= 10


def bar_chart(points: list[tuple[str, str, int]], label_every: int, unit: str = "events") -> BarChart:
    """A chart of (axis label, tooltip label, count) points, drawn left to right; the last bar is labelled."""
    peak = max((count for _, _, count in points), default=0)
    top, step = axis(peak)
    slot = WIDTH / max(1, len(points))
    bars = [
        Bar(
            x=round(index * slot + slot * GAP / 2, 2),
            y=round(HEIGHT - HEIGHT * count / top, 2),
            width=round(slot * (1 - GAP), 2),
            height=round(HEIGHT * count / top, 2),
            title=f"{tip_label}: {count:,} {unit}",
            label=axis_label if (len(points) - 1 - index) % label_every == 0 else "",
        )
        for index, (axis_label, tip_label, count) in enumerate(points)
    ]
    values = range(0, top + 1, step)
    total = sum(count for _, _, count in points)
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        gridlines=[round(HEIGHT - HEIGHT * value / top, 2) for value in values],
        ticks=[f"{value:,}" for value in reversed(values)],
        total=total,
        description=f"{total:,} {unit} in all, at most {peak:,} in one bar",
    )
