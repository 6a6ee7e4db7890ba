"""SQL that SQLite and PostgreSQL spell differently: a timestamp's day, and the values of a JSON object as text."""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class day_of(FunctionElement[date]):  # noqa: N801 (named like the SQL function it is)
    """A timestamp's day, in a form both databases can index (ix_events_site_day_kind_name)."""

    type = Date()
    inherit_cache = True


class json_values(FunctionElement[str]):  # noqa: N801
    """The values of a JSON object, decoded and joined by spaces (to search them, not its keys)."""

    type = String()
    inherit_cache = True


@compiles(day_of, "sqlite")
def _day_sqlite(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(day_of, "postgresql")
def _day_postgresql(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(json_values, "sqlite")
def _values_sqlite(element: json_values, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(SELECT group_concat(value, ' ') FROM json_each({compiler.process(element.clauses, **kw)}))"


@compiles(json_values, "postgresql")
def _values_postgresql(element: json_values, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(SELECT string_agg(value, ' ') FROM jsonb_each_text({compiler.process(element.clauses, **kw)}))"
