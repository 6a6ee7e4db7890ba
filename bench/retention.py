"""Benchmark retention: the time to delete a month of old events, by dropping the month (PostgreSQL, where events
are kept by month) against deleting the same rows in batches (SQLite, and PostgreSQL's default partition: what
every database did before), with a month of newer events kept beside them.

    .venv/bin/python -m bench.retention [--events 1000000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import func, select, text

from bench.databases import fresh_database, kinds
from bench.table import Row, render
from server import create_app, db
from server.contacts.retention import prune_events
from server.ingest import partitions
from server.models import Event
from server.sites import create_site

# Old events: a month long ago. The same SQL makes rows on both databases: ids from a recursive count.
SEED = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO {table} (site_id, message_id, kind, name, url, properties, occurred_at, received_at)
SELECT :site, :prefix || i, 'page', 'Home', 'https://shop.example/', '{{}}', :start, :start FROM n
"""
IDS = "INSERT INTO event_ids SELECT site_id, message_id, received_at FROM events WHERE received_at = :start"


def seed(app: Flask, prefix: str, count: int, start: datetime) -> None:
    """`count` events at `start`, and their message ids (which retention forgets with them)."""
    with db.new_session(app) as session:
        site = session.scalar(text("SELECT id FROM sites"))
        naive = start.astimezone(UTC).replace(tzinfo=None)
        session.execute(
            text(SEED.format(table="events")), {"count": count, "site": site, "prefix": prefix, "start": naive}
        )
        session.execute(text(IDS), {"start": naive})
        session.commit()


def pruned(app: Flask, before: datetime) -> tuple[int, float]:
    with db.new_session(app) as session:
        started = time.perf_counter()
        deleted = prune_events(session, before)
        return deleted, time.perf_counter() - started


def measure(kind: str, events: int) -> list[Row]:
    area = f"retention ({kind})"
    rows = []
    with fresh_database(kind) as url:
        app = create_app({"DATABASE_URL": url, "WORKER": "external"})
        with db.new_session(app) as session:
            create_site(session, "bench", ["https://shop.example"], 7200)
            session.commit()
        seed(app, "new-", events, datetime.now(UTC))
        ways = [("events in a month long ago (2018-01)", datetime(2018, 1, 1, tzinfo=UTC))]
        if kind == "PostgreSQL":
            ways.append(("events kept by month: the month dropped", datetime(2019, 1, 1, tzinfo=UTC)))
            ways[0] = ("events in the default partition: deleted in batches", ways[0][1])
            with db.new_session(app) as session:
                partitions.make_month(session.connection(), datetime(2019, 1, 1))
                session.commit()
        for _, start in ways:
            seed(app, f"old-{start:%Y}-", events, start + timedelta(days=10))
        for label, start in sorted(ways, key=lambda way: way[1]):
            deleted, seconds = pruned(app, start + timedelta(days=40))
            rows.append(Row(area, f"{deleted:,} {label}", f"{seconds:,.2f} s ({deleted / seconds:,.0f} events/s)"))
        with db.new_session(app) as session:
            left = session.scalar(select(func.count()).select_from(Event))
        assert left == events, left  # the newer month is whole
        app.extensions["sibyl.engine"].dispose()
    return rows


def rows(events: int = 1_000_000) -> list[Row]:
    return [row for kind in kinds() for row in measure(kind, events)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    print(render(rows(args.events)))


if __name__ == "__main__":
    main()
