"""SQL that SQLite and PostgreSQL spell differently: time buckets, and the values of a JSON object as text."""
from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

HOUR_FORMAT = "%Y-%m-%d %H:00"
DAY_FORMAT = "%Y-%m-%d"


class hour_of(FunctionElement[str]):  # noqa: N801 (named like the SQL function it is)
    """A timestamp's hour as text: '2026-11-28 14:00'."""

    type = String()
    inherit_cache = True


class day_of(FunctionElement[str]):  # noqa: N801
    """A timestamp's day as text: '2026-11-28'."""

    type = String()
    inherit_cache = True


class json_values(FunctionElement[str]):  # noqa: N801
    """The values of a JSON object, decoded and joined by spaces (to search them, not its keys)."""

    type = String()
    inherit_cache = True


@compiles(hour_of, "sqlite")
def _hour_sqlite(element: hour_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('{HOUR_FORMAT}', {compiler.process(element.clauses, **kw)})"


@compiles(day_of, "sqlite")
def _day_sqlite(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('{DAY_FORMAT}', {compiler.process(element.clauses, **kw)})"


@compiles(hour_of, "postgresql")
def _hour_postgresql(element: hour_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD HH24:00')"


@compiles(day_of, "postgresql")
def _day_postgresql(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


@compiles(json_values, "sqlite")
def _values_sqlite(element: json_values, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(SELECT group_concat(value, ' ') FROM json_each({compiler.process(element.clauses, **kw)}))"


@compiles(json_values, "postgresql")
def _values_postgresql(element: json_values, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(SELECT string_agg(value, ' ') FROM jsonb_each_text({compiler.process(element.clauses, **kw)}))"
