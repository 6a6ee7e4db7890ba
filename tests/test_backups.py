"""Backups and restores as docs/deployment.md gives them: `flask db backup` copies a SQLite database while Sibyl runs,
pg_dump and pg_restore a PostgreSQL one, and a new instance restored from the copy finds the shop's contacts, events
and emails."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, make_url, select

from server import create_app, db
from server.automation.worker import Worker
from server.models import Contact, Event, OutboxEmail

from .support.browser import BROWSER_HEADERS
from .support.carts import DELAY, THOMAS, cart_updated
from .support.cli import cli
from .support.clock import Clock
from .support.databases import fresh_database_url

SHOP = "https://shop.example"
TABLES = (Contact, Event, OutboxEmail)


def instance(database_url: str) -> Flask:
    """A Sibyl on `database_url`, migrated on start as a fresh install is."""
    return create_app({"DATABASE_URL": database_url, "WORKER": "external"})


def keys(created: str) -> dict[str, str]:
    """The keys `sites create` prints last."""
    return dict(line.split("=", 1) for line in created.splitlines() if line.startswith(("client_key=", "api_key=")))


def a_left_cart_emailed(app: Flask) -> str:
    """A site whose shopper left a cart: the contact, the events and the recovery email in the outbox (no SMTP server
    is set, so it stays there); the site's api key."""
    created = cli(app, "sites", "create", f"backed-up-{uuid.uuid4().hex[:6]}", "--origin", SHOP)
    assert created.exit_code == 0, created.output
    site_keys = keys(created.stdout)
    clock = Clock()
    batch = {"key": site_keys["client_key"], "cuid": uuid.uuid4().hex, "messages": [cart_updated(clock.now)]}
    posted = app.test_client().post("/collect", data=json.dumps(batch), headers=BROWSER_HEADERS | {"Origin": SHOP})
    assert posted.status_code == 200, posted.text
    clock.advance(DELAY + timedelta(minutes=1))
    Worker(app, clock).run_pass()
    return site_keys["api_key"]


def counts(app: Flask) -> dict[str, int]:
    with db.new_session(app) as session:
        return {table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0 for table in TABLES}


def assert_restored(restored: Flask, api_key: str, before: dict[str, int]) -> None:
    """What the shop checks after a restore: the same rows, the contact through the API, the email in the outbox."""
    assert counts(restored) == before and all(before.values())
    contact = restored.test_client().get(f"/v3/contacts/{THOMAS}", headers={"api-key": api_key})
    assert contact.status_code == 200 and contact.json is not None and contact.json["email"] == THOMAS
    listed = cli(restored, "outbox", "list")
    assert listed.exit_code == 0 and THOMAS in listed.stdout


def test_a_sqlite_backup_restored_into_a_new_instance_holds_the_contacts_events_and_emails(tmp_path: Path) -> None:
    (tmp_path / "live").mkdir()
    original = instance(f"sqlite:///{tmp_path / 'live' / 'sibyl.db'}")
    api_key = a_left_cart_emailed(original)
    before = counts(original)

    backed_up = cli(original, "db", "backup", str(tmp_path / "sibyl-backup.db"))
    assert backed_up.exit_code == 0, backed_up.output
    assert "Backed up to" in backed_up.stdout

    (tmp_path / "restored").mkdir()
    shutil.copyfile(tmp_path / "sibyl-backup.db", tmp_path / "restored" / "sibyl.db")
    assert_restored(instance(f"sqlite:///{tmp_path / 'restored' / 'sibyl.db'}"), api_key, before)


def test_a_backup_taken_during_a_write_holds_what_was_committed(tmp_path: Path) -> None:
    database = tmp_path / "sibyl.db"
    app = instance(f"sqlite:///{database}")
    assert cli(app, "sites", "create", "committed").exit_code == 0
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE sites SET name = 'uncommitted' WHERE name = 'committed'")
        backed_up = cli(app, "db", "backup", str(tmp_path / "copy.db"))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert backed_up.exit_code == 0, backed_up.output
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        assert copy.execute("SELECT name FROM sites").fetchall() == [("committed",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        copy.close()


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    app = instance(f"sqlite:///{tmp_path / 'sibyl.db'}")
    earlier = tmp_path / "earlier-backup.db"
    earlier.write_bytes(b"last night's backup")
    refused = cli(app, "db", "backup", str(earlier))
    assert refused.exit_code != 0 and f"{earlier} already exists" in refused.output
    assert earlier.read_bytes() == b"last night's backup"
    missing = cli(app, "db", "backup", str(tmp_path / "no-such-folder" / "backup.db"))
    assert missing.exit_code != 0 and "is not a directory" in missing.output


def libpq(database_url: str) -> str:
    """The URL as pg_dump and pg_restore read it (libpq's), without SQLAlchemy's driver name."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_postgresql_dump_restored_into_a_new_database_holds_the_contacts_events_and_emails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not os.environ.get("SIBYL_TEST_POSTGRES_URL"):
        pytest.skip("set SIBYL_TEST_POSTGRES_URL to a PostgreSQL server to test pg_dump and pg_restore")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not on PATH (Debian: apt-get install postgresql-client)")
    monkeypatch.setenv("SIBYL_TEST_DATABASE", "postgres")  # new databases on that server, dropped after the run
    original_url = fresh_database_url(tmp_path)
    original = instance(original_url)
    api_key = a_left_cart_emailed(original)
    before = counts(original)
    refused = cli(original, "db", "backup", str(tmp_path / "sibyl.db"))
    assert refused.exit_code != 0 and "pg_dump" in refused.output

    dump = tmp_path / "sibyl.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), libpq(original_url)], check=True, timeout=120)
    restored_url = fresh_database_url(tmp_path)
    subprocess.run(["pg_restore", "--no-owner", "-d", libpq(restored_url), str(dump)], check=True, timeout=120)
    assert_restored(instance(restored_url), api_key, before)
