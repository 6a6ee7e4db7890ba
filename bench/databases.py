"""Fresh, empty databases for one measurement: a SQLite file, or a PostgreSQL database created on the server
that SIBYL_BENCH_POSTGRES_URL names and dropped afterwards."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text

POSTGRES_SERVER = "SIBYL_BENCH_POSTGRES_URL"


def kinds() -> list[str]:
    """SQLite always; PostgreSQL too when a server is named."""
    return ["SQLite", "PostgreSQL"] if os.environ.get(POSTGRES_SERVER) else ["SQLite"]


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """The URL of a new, empty database of `kind` ("SQLite" or "PostgreSQL"), removed after use."""
    if kind == "SQLite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    server = create_engine(os.environ[POSTGRES_SERVER], isolation_level="AUTOCOMMIT")
    name = f"sibyl_bench_{uuid.uuid4().hex[:8]}"
    with server.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(os.environ[POSTGRES_SERVER]).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()
