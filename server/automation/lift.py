"""What a workflow's emails earn: the difference in conversion rates between runs that sent and held-out runs,
with a 95 % interval by Newcombe's hybrid score method (Wilson intervals per group), which stays sensible for the
small counts of a small shop where the plain Wald interval does not."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval


@dataclass(frozen=True)
class Lift:
    """Sent minus held-out conversion rate, and its 95 % interval (absolute differences, between -1 and 1)."""

    value: float
    low: float
    high: float


def wilson(conversions: int, runs: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a conversion rate."""
    rate = conversions / runs
    spread = z * z / runs
    centre = (rate + spread / 2) / (1 + spread)
    half = z * math.sqrt(rate * (1 - rate) / runs + spread / (4 * runs)) / (1 + spread)
    return max(0.0, centre - half), min(1.0, centre + half)


def lift(sent_runs: int, sent_conversions: int, holdout_runs: int, holdout_conversions: int) -> Lift | None:
    """The lift of sending, or None while either group has no runs (nothing to compare yet)."""
    if sent_runs <= 0 or holdout_runs <= 0:
        return None
    if not (0 <= sent_conversions <= sent_runs and 0 <= holdout_conversions <= holdout_runs):
        raise ValueError("conversions must be between 0 and the group's runs")
    sent, held = sent_conversions / sent_runs, holdout_conversions / holdout_runs
    (sent_low, sent_high), (held_low, held_high) = (
        wilson(sent_conversions, sent_runs),
        wilson(holdout_conversions, holdout_runs),
    )
    difference = sent - held
    return Lift(
        value=difference,
        low=difference - math.sqrt((sent - sent_low) ** 2 + (held_high - held) ** 2),
        high=difference + math.sqrt((sent_high - sent) ** 2 + (held - held_low) ** 2),
    )
