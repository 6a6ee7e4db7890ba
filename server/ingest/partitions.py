"""PostgreSQL's events by month: a partition for each month, made ahead of time, and whole months dropped.

The events table is partitioned by the month of `occurred_at`, a partition named `events_YYYY_MM` each, and a
default partition for any month not made (yet): an event is always stored, and a month made later takes its rows
from the default one. Reads of a range of days touch only the months they cover; retention drops a month in one
statement instead of deleting its rows.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import Connection, text

AHEAD = 3  # months made beyond the current one
_NAME = re.compile(r"events_(\d{4})_(\d{2})")
_LOCK = 0x51B7_E7E5  # an advisory lock: one process at a time makes or drops months


def month_of(moment: datetime) -> datetime:
    """The first instant of the moment's month, as the table stores times (naive UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None, day=1, hour=0, minute=0, second=0, microsecond=0)


def month_after(start: datetime) -> datetime:
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def partitioned(connection: Connection) -> bool:
    """Whether this database keeps its events by month (PostgreSQL does, from migration 0021 on)."""
    return connection.dialect.name == "postgresql"


def months(connection: Connection) -> dict[datetime, str]:
    """The months made, by their first instant: their partitions' names."""
    names = connection.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
    )
    found = {}
    for name in names:
        if match := _NAME.fullmatch(name):
            found[datetime(int(match[1]), int(match[2]), 1)] = name
    return found


def make_months_ahead(connection: Connection, now: datetime) -> list[str]:
    """The current month and the next `AHEAD` made where missing (in the caller's transaction); those made."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    made = months(connection)
    start, wanted = month_of(now), []
    for _ in range(AHEAD + 1):
        if start not in made:
            wanted.append(make_month(connection, start))
        start = month_after(start)
    return wanted


def make_month(connection: Connection, start: datetime) -> str:
    """Make the month's partition, moving into it what the default partition holds of that month."""
    name, end = f"events_{start:%Y_%m}", month_after(start)
    bounds = {"start": start, "end": end}
    connection.execute(text(f"CREATE TABLE {name} (LIKE events INCLUDING DEFAULTS)"))
    connection.execute(
        text(
            f"WITH moved AS (DELETE FROM events_default WHERE occurred_at >= :start AND occurred_at < :end "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    )
    connection.execute(
        text(f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ('{start:%Y-%m-%d}') TO ('{end:%Y-%m-%d}')")
    )
    return name


def drop_months_before(connection: Connection, before: datetime) -> int:
    """Drop every month that ended by `before` (in the caller's transaction); the events they held."""
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    cutoff, dropped = before.astimezone(UTC).replace(tzinfo=None), 0
    for start, name in sorted(months(connection).items()):
        if month_after(start) > cutoff:
            break
        dropped += connection.scalar(text(f"SELECT count(*) FROM {name}")) or 0
        connection.execute(text(f"DROP TABLE {name}"))
    return dropped
