"""Quiet hours: the part of each night, in the contact's own time zone, when automation emails wait for morning."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SPAN = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)$")
MINUTES_A_DAY = 24 * 60


@dataclass(frozen=True)
class QuietHours:
    """From `start` to `end`, minutes after local midnight; a span that ends earlier than it starts runs overnight."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """`21:00-08:00` (24-hour clock, local time); a ValueError saying how to write it otherwise."""
        match = _SPAN.match(text.strip())
        if match is None:
            raise ValueError("write a span of the 24-hour clock, such as 21:00-08:00")
        start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if start == end:
            raise ValueError("the span starts and ends at the same time")
        return cls(start, end)

    @classmethod
    def stored(cls, start: int | None, end: int | None) -> QuietHours | None:
        """A site's quiet hours as its settings keep them (none when either end is unset)."""
        return None if start is None or end is None else cls(start, end)

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"

    def until(self, now: datetime, zone: tzinfo) -> datetime | None:
        """When the quiet hours `now` falls in end (UTC), or None when it is not inside them."""
        local = now.astimezone(zone)
        minute = local.hour * 60 + local.minute
        overnight = self.end < self.start
        inside = (minute >= self.start or minute < self.end) if overnight else self.start <= minute < self.end
        if not inside:
            return None
        day = local.date() + timedelta(days=1 if overnight and minute >= self.start else 0)
        end = datetime.combine(day, time(self.end // 60, self.end % 60), tzinfo=zone)
        return end.astimezone(UTC)


def zone_named(name: str | None) -> ZoneInfo | None:
    """The IANA zone of that name, or None when it is empty or this server's time-zone database does not know it."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
