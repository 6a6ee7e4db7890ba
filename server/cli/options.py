"""Option values the commands share: a duration within bounds, quiet hours."""

from __future__ import annotations

import click

from ..automation.quiet_hours import QuietHours
from ..config import parse_duration


def duration_option(text: str, option: str, at_most: float, zero: bool) -> float:
    """The seconds `text` gives, at most `at_most`, and 0 only where `zero` allows it."""
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint=option) from None
    if seconds > at_most or (seconds == 0 and not zero):
        least = "0" if zero else "more than 0"
        raise click.BadParameter(f"{text!r}: from {least} to {at_most / 86400:g} days", param_hint=option)
    return seconds


def quiet_hours_option(text: str) -> QuietHours | None:
    """The span `text` gives (`21:00-08:00`), or None for `off`."""
    if text.strip().lower() in ("off", "none", ""):
        return None
    try:
        return QuietHours.parse(text)
    except ValueError as error:
        raise click.BadParameter(f"{text!r}: {error}", param_hint="--quiet-hours") from None
