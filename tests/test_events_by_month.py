"""Events kept once by their message ids whatever month they fall in, and PostgreSQL's events table by month:
the migration that partitions it, months made ahead (and late), retention dropping whole months; and the setting its
large reads need (no JIT compilation)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select, text

from server import create_app, db
from server.automation.worker import Worker
from server.contacts.retention import prune_events
from server.ingest import partitions
from server.models import Event, EventId, Site

from .support.browser import BROWSER_HEADERS
from .support.databases import fresh_database_url, on_postgres
from .support.store import Store

postgres_only = pytest.mark.skipif(not on_postgres(), reason="months are PostgreSQL's partitions: PostgreSQL run only")


def collect(client: FlaskClient, site: Site, message_id: str, sent: datetime | None) -> dict[str, Any]:
    message: dict[str, Any] = {"id": message_id, "type": "page", "url": "https://shop.example/"}
    if sent is not None:
        message["ts"] = int(sent.timestamp() * 1000)
    body = {"key": site.client_key, "cuid": "visitor-1", "messages": [message]}
    answer = client.post("/collect", data=json.dumps(body), headers={**BROWSER_HEADERS, "Content-Type": "text/plain"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json or {})


def event_rows(site: Site, name: str, occurred: list[datetime]) -> list[dict[str, Any]]:
    return [
        {
            "site_id": site.id,
            "message_id": f"{name}-{i}",
            "kind": "track",
            "name": name,
            "properties": {},
            "occurred_at": at,
            "received_at": at,
        }
        for i, at in enumerate(occurred)
    ]


def add_events(app: Flask, rows: list[dict[str, Any]]) -> None:
    with db.new_session(app) as session:
        session.execute(insert(Event), rows)
        ids = [{key: row[key] for key in ("site_id", "message_id", "received_at")} for row in rows]
        session.execute(insert(EventId), ids)
        session.commit()


def test_a_copy_sent_again_in_another_month_is_stored_once(client: FlaskClient, store: Store, site: Site) -> None:
    now = datetime.now(UTC)
    assert collect(client, site, "m-1", now - timedelta(days=70)) == {"stored": 1, "duplicates": 0}
    # The retry carries no time of its own: it would fall in this month, not the first copy's.
    assert collect(client, site, "m-1", None) == {"stored": 0, "duplicates": 1}
    assert [event.message_id for event in store.events(site)] == ["m-1"]


def test_retention_forgets_the_message_ids_received_before_it(app: Flask, store: Store, site: Site) -> None:
    now = datetime.now(UTC)
    add_events(app, event_rows(site, "old", [now - timedelta(days=400)] * 3) + event_rows(site, "new", [now]))
    with db.new_session(app) as session:
        assert prune_events(session, now - timedelta(days=365), batch=2) >= 3
        kept = session.scalars(select(EventId.message_id).where(EventId.site_id == site.id)).all()
    assert kept == ["new-0"]
    client = app.test_client()
    assert collect(client, site, "old-0", now) == {"stored": 1, "duplicates": 0}  # gone, so new again
    assert collect(client, site, "new-0", now) == {"stored": 0, "duplicates": 1}


def partition_counts(app: Flask, site: Site) -> dict[str, int]:
    with db.new_session(app) as session:
        rows = session.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM events WHERE site_id = :site GROUP BY 1"),
            {"site": site.id},
        )
        return {name: count for name, count in rows}


@postgres_only
def test_the_migration_puts_each_event_in_its_month_and_keeps_ids_and_duplicates(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    engine = db.make_engine(url)
    db.upgrade(engine, "0020")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sites (id, name, client_key, api_key, origins, created_at) "
                "VALUES (1, 's', 'k', 'a', '[]', now())"
            )
        )
        connection.execute(
            text(
                "INSERT INTO events (site_id, message_id, kind, name, properties, occurred_at, received_at) VALUES "
                "(1, 'a', 'page', 'p', '{}', '2026-09-30 23:59:59', now()), "
                "(1, 'b', 'page', 'p', '{}', '2026-10-01 00:00:00', now()), "
                "(1, 'c', 'page', 'p', '{}', '2026-10-15 12:00:00', now()), "
                "(1, 'd', 'page', 'p', '{}', '1970-01-02 00:00:00', now())"
            )
        )
    db.upgrade(engine)
    engine.dispose()

    app = create_app({"DATABASE_URL": url, "WORKER": "external"})
    site = Site(id=1, client_key="k")
    assert partition_counts(app, site) == {"events_2026_09": 1, "events_2026_10": 2, "events_default": 1}
    with db.new_session(app) as session:
        made = partitions.months(session.connection())
    this_month = partitions.month_of(datetime.now(UTC))
    assert {this_month, partitions.month_after(this_month)} <= made.keys()
    client = app.test_client()
    assert collect(client, site, "c", None) == {"stored": 0, "duplicates": 1}  # stored before the migration
    assert collect(client, site, "e", None) == {"stored": 1, "duplicates": 0}
    with db.new_session(app) as session:
        assert session.scalar(select(Event.id).where(Event.message_id == "e")) == 5  # the sequence goes on

    command.downgrade(db.alembic_config(app.extensions["sibyl.engine"]), "0020")
    with db.new_session(app) as session:
        assert session.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'events'")) == "r"
        assert session.scalar(select(func.count()).select_from(Event)) == 5


@postgres_only
def test_a_month_made_late_takes_its_events_from_the_default_partition(app: Flask, site: Site) -> None:
    add_events(app, event_rows(site, "late", [datetime(2019, 3, day, tzinfo=UTC) for day in (1, 15, 31)]))
    assert partition_counts(app, site) == {"events_default": 3}
    with db.new_session(app) as session:
        partitions.make_month(session.connection(), datetime(2019, 3, 1))
        session.commit()
    assert partition_counts(app, site) == {"events_2019_03": 3}


@postgres_only
def test_the_worker_makes_the_coming_months(app: Flask) -> None:
    later = datetime(2031, 5, 17, tzinfo=UTC)
    Worker(app, clock=lambda: later).tend_events_when_due()
    with db.new_session(app) as session:
        made = partitions.months(session.connection())
    assert {datetime(2031, month, 1) for month in (5, 6, 7, 8)} <= made.keys()


@postgres_only
def test_retention_drops_the_months_that_ended_and_deletes_the_rest(app: Flask, site: Site) -> None:
    with db.new_session(app) as session:
        for month in (1, 2):
            partitions.make_month(session.connection(), datetime(2018, month, 1))
        session.commit()
    occurred = [datetime(2018, 1, 10, tzinfo=UTC)] * 4 + [datetime(2018, 2, 10, tzinfo=UTC)] * 3
    add_events(app, event_rows(site, "old", occurred) + event_rows(site, "recent", [datetime.now(UTC)]))
    with db.new_session(app) as session:
        # Mid-February: January ends before it and goes whole; February's events of the 10th, row by row.
        assert prune_events(session, datetime(2018, 2, 14, tzinfo=UTC), batch=2) == 7
        made = partitions.months(session.connection())
    assert datetime(2018, 1, 1) not in made and datetime(2018, 2, 1) in made
    assert set(partition_counts(app, site)) == {f"events_{partitions.month_of(datetime.now(UTC)):%Y_%m}"}


@postgres_only
def test_postgresql_connections_run_without_the_jit_compiler(app: Flask) -> None:
    with db.new_session(app) as session:
        assert session.scalar(text("SHOW jit")) == "off"
