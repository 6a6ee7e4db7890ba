"""Fresh databases for a test run: a SQLite file, or a new PostgreSQL database when the run asks for one.

`SIBYL_TEST_DATABASE=postgres` runs the suite on PostgreSQL; each run creates its own database
on the server named by `SIBYL_TEST_POSTGRES_URL` (which `.ci/run` sets) and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from server import db

_created: list[str] = []


def on_postgres() -> bool:
    return os.environ.get("SIBYL_TEST_DATABASE") == "postgres"


def fresh_database_url(directory: Path) -> str:
    """A new, empty database for this run."""
    if not on_postgres():
        return f"sqlite:///{directory / 'sibyl.db'}"
    server = os.environ.get("SIBYL_TEST_POSTGRES_URL")
    if not server:
        raise pytest.UsageError(
            "SIBYL_TEST_DATABASE=postgres needs SIBYL_TEST_POSTGRES_URL (a server to create databases on)"
        )
    name = f"sibyl_test_{uuid.uuid4().hex[:12]}"
    with create_engine(server, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    _created.append(name)
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_created() -> None:
    """Drop the databases this run created (ending any connection still open to them)."""
    server = os.environ.get("SIBYL_TEST_POSTGRES_URL")
    if not server or not _created:
        return
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for name in _created:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
    _created.clear()


def sqlite_at(path: Path, revision: str, statements: tuple[str, ...], now: str = "2026-11-01 10:00:00") -> Engine:
    """A SQLite database migrated up to `revision` only, holding the rows `statements` insert (`:now` their time):
    what an older Sibyl left behind, for a migration test to upgrade."""
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine, revision)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), {"now": now})
    return engine
