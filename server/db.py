"""Database engine, sessions and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, a busy timeout, foreign keys and a small page cache per connection; PostgreSQL's
    connections run without its JIT compiler unless the URL gives options of its own."""
    if not url.startswith("sqlite"):
        # PostgreSQL compiles a plan whose estimated cost is high (the dashboard's month of events at 10,000,000) to
        # machine code first: about 100 ms more for a query that runs in a few hundred. Sibyl's queries are short.
        settings = {} if "options=" in url else {"options": "-c jit=off"}
        return create_engine(url, pool_pre_ping=True, connect_args=settings)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A small page cache of its own (256 KiB): the operating system's page cache holds the file for every process
        # at once, while a private cache per pooled connection of every process is memory that grows with the data.
        cursor.execute("PRAGMA cache_size=-256")
        cursor.close()

    return engine


def insert_for(dialect_name: str) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """The dialect's `insert`, the one with `on_conflict_do_update` (an upsert): PostgreSQL's, else SQLite's."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def writer_turn(engine: Engine) -> AbstractContextManager[None]:
    """On a SQLite file, a turn as the one writer among this machine's processes (an exclusive lock on a file beside
    the database); elsewhere nothing. SQLite lets one transaction write at a time and makes the others poll for it,
    sleeping up to 100 ms between tries; processes queued on a kernel lock instead take over the moment it is free.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return nullcontext()
    return _file_lock(Path(f"{database}-writer.lock"))


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` with the Alembic migrations."""
    command.upgrade(alembic_config(engine), revision)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["sibyl.engine"] = engine
    app.extensions["sibyl.sessions"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_request_session)


def engine() -> Engine:
    current: Engine = current_app.extensions["sibyl.engine"]
    return current


def session() -> Session:
    """The current request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["sibyl.sessions"]()
    opened: Session = g.db_session
    return opened


@contextmanager
def new_session(app: Flask) -> Iterator[Session]:
    """A session outside any request (CLI, background work)."""
    with app.extensions["sibyl.sessions"]() as db_session:
        yield db_session


@contextmanager
def new_connection(app: Flask) -> Iterator[Connection]:
    """A plain connection outside any request, for work that tracks no objects (the worker's sends)."""
    with app.extensions["sibyl.engine"].connect() as connection:
        yield connection


def _close_request_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
