"""SQL that SQLite and PostgreSQL spell differently: a timestamp's day, and the values and keys of a JSON object."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Boolean, Date, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class day_of(FunctionElement[date]):  # noqa: N801 (named like the SQL function it is)
    """A timestamp's day, in a form both databases can index (ix_events_site_day_kind_name)."""

    type = Date()
    inherit_cache = True


class json_values(FunctionElement[str]):  # noqa: N801 (as day_of)
    """The values of a JSON object, decoded and joined by spaces (to search them, not its keys)."""

    type = String()
    inherit_cache = True


class json_has_key(FunctionElement[bool]):  # noqa: N801 (as day_of)
    """Whether a JSON object has the key (whatever its value, null included)."""

    type = Boolean()
    inherit_cache = True


class json_without_key(FunctionElement[Any]):  # noqa: N801 (as day_of)
    """A JSON object without the key."""

    type = JSON()
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


def _document_and_key(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    document, key = element.clauses.clauses
    return compiler.process(document, **kw), compiler.process(key, **kw)


@compiles(json_has_key, "sqlite")
def _has_key_sqlite(element: json_has_key, compiler: SQLCompiler, **kw: Any) -> str:
    document, key = _document_and_key(element, compiler, **kw)
    return f"(json_type({document}, '$.\"' || {key} || '\"') IS NOT NULL)"


@compiles(json_has_key, "postgresql")
def _has_key_postgresql(element: json_has_key, compiler: SQLCompiler, **kw: Any) -> str:
    document, key = _document_and_key(element, compiler, **kw)
    return f"({document} ? CAST({key} AS TEXT))"


@compiles(json_without_key, "sqlite")
def _without_key_sqlite(element: json_without_key, compiler: SQLCompiler, **kw: Any) -> str:
    document, key = _document_and_key(element, compiler, **kw)
    return f"json_remove({document}, '$.\"' || {key} || '\"')"


@compiles(json_without_key, "postgresql")
def _without_key_postgresql(element: json_without_key, compiler: SQLCompiler, **kw: Any) -> str:
    document, key = _document_and_key(element, compiler, **kw)
    return f"({document} - CAST({key} AS TEXT))"
