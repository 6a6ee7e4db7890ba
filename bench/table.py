"""One benchmark result (area, measure, value, goal, met) and the Markdown table that prints many."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    area: str
    measure: str
    value: str
    goal: str = ""
    met: bool | None = None  # None: a reference figure, no goal to meet


def render(rows: list[Row]) -> str:
    lines = ["| area | measure | value | goal | met |", "|---|---|---:|---|:---:|"]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.area} | {row.measure} | {row.value} | {row.goal} | {met} |")
    return "\n".join(lines)
