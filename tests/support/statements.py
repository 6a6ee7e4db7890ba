"""The SQL an app runs while a test watches, and how SQLite plans it: for the tests that pin a query to its index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event


@contextmanager
def statements(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters) the app runs meanwhile."""
    seen: list[tuple[str, Any]] = []

    def record(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = app.extensions["sibyl.engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def sqlite_plan(app: Flask, statement: str, parameters: Any) -> list[str]:
    """SQLite's query plan of a statement, one line per step (`SEARCH runs USING INDEX …`)."""
    with app.extensions["sibyl.engine"].connect() as connection:
        return [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
