"""Quiet hours on the contact's clock: which moments fall inside, and when they end, across midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from server.automation.quiet_hours import QuietHours, zone_named

PARIS = ZoneInfo("Europe/Paris")
NIGHT = QuietHours.parse("21:00-08:00")


def paris(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("moment", "ends"),
    [
        (paris(2026, 6, 10, 20, 59), None),
        (paris(2026, 6, 10, 21, 0), paris(2026, 6, 11, 8, 0)),
        (paris(2026, 6, 10, 23, 30), paris(2026, 6, 11, 8, 0)),
        (paris(2026, 6, 11, 0, 0), paris(2026, 6, 11, 8, 0)),
        (paris(2026, 6, 11, 7, 59), paris(2026, 6, 11, 8, 0)),
        (paris(2026, 6, 11, 8, 0), None),
        # The night clocks go forward (29 March 2026, 02:00 → 03:00): the night is an hour shorter in UTC.
        (paris(2026, 3, 28, 23, 30), datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),
        # And back (25 October 2026): an hour longer.
        (paris(2026, 10, 24, 23, 30), datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),
    ],
)
def test_a_night_span_ends_the_next_morning_on_the_contacts_clock(moment: datetime, ends: datetime | None) -> None:
    assert NIGHT.until(moment.astimezone(UTC), PARIS) == ends


def test_a_span_within_one_day_ends_that_day() -> None:
    lunch = QuietHours.parse("12:00-14:00")
    assert lunch.until(paris(2026, 6, 10, 13, 0).astimezone(UTC), PARIS) == paris(2026, 6, 10, 14, 0)
    assert lunch.until(paris(2026, 6, 10, 14, 0).astimezone(UTC), PARIS) is None
    assert lunch.until(paris(2026, 6, 10, 23, 0).astimezone(UTC), PARIS) is None


def test_the_same_moment_is_quiet_in_one_zone_and_not_in_another() -> None:
    moment = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo, 16:00 in Paris
    assert NIGHT.until(moment, ZoneInfo("Asia/Tokyo")) == datetime(2026, 6, 10, 23, 0, tzinfo=UTC)
    assert NIGHT.until(moment, PARIS) is None


@pytest.mark.parametrize("text", ["21:00-08:00", "9:05-17:30", " 00:00 - 06:00 "])
def test_spans_read_back_as_written(text: str) -> None:
    span = QuietHours.parse(text)
    assert QuietHours.parse(str(span)) == span


@pytest.mark.parametrize("text", ["", "21-08", "24:00-08:00", "21:60-08:00", "21:00-21:00", "21:00-08:00 or so"])
def test_spans_that_are_not_a_clock_span_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        QuietHours.parse(text)


def test_only_zones_the_server_knows_are_zones() -> None:
    assert zone_named("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    assert zone_named("Mars/Olympus_Mons") is None
    assert zone_named("../etc/passwd") is None
    assert zone_named(None) is None
