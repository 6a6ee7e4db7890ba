"""The filters a template may use: Django's, each bounded in what it takes and gives; dates read from ISO text.

Every filter checks the render's time, and refuses a string or list longer than MAX_VALUE_CHARS going in or coming
out. Those that could make one far longer in a single call are checked before it: `add` (strings and lists
concatenated, which doubles at each nested `with`), `join` (the separator repeated), `floatformat` (decimals) and
`date`/`time` (the format). Filters that Brevo's engine has and Django's does not, or that pad to any width
(`ljust`, `rjust`, `center`, `stringformat`), are not offered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.template import defaultfilters

from server.email_templates import limits
from server.email_templates.limits import (
    MAX_DATE_FORMAT_CHARS,
    MAX_FLOATFORMAT_DECIMALS,
    MAX_VALUE_CHARS,
    LimitExceeded,
)

Filter = Callable[..., Any]

# Django's filters offered as they are (bounded like all the others).
_AS_IS = (
    "capfirst",
    "cut",
    "default",
    "default_if_none",
    "escape",
    "length",
    "linebreaks",
    "linebreaksbr",
    "lower",
    "pluralize",
    "slice",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordcount",
    "yesno",
)


@functools.wraps(defaultfilters.add)
def _add(value: Any, arg: Any) -> Any:
    """Django's `add`, but a fraction is added as one (Django would cut it to a whole number first, Brevo does not);
    refused when it would join two strings or lists into one longer than MAX_VALUE_CHARS."""
    terms = (value, arg)
    if any(isinstance(term, float) for term in terms) and all(_is_number(term) for term in terms):
        return value + arg
    sizes_add_up = isinstance(value, str | list) and isinstance(arg, str | list)
    if sizes_add_up and _content_size(value) + _content_size(arg) > MAX_VALUE_CHARS:
        raise LimitExceeded(f"add: result longer than {MAX_VALUE_CHARS:,} characters")
    return defaultfilters.add(value, arg)


@functools.wraps(defaultfilters.join)
def _join(value: Any, arg: Any, autoescape: bool = True) -> Any:
    """Django's `join`, refused when the separator alone would make the result longer than MAX_VALUE_CHARS."""
    separated = isinstance(value, str | list | dict) and isinstance(arg, str)
    if separated and (len(value) - 1) * len(arg) > MAX_VALUE_CHARS:
        raise LimitExceeded(f"join: result longer than {MAX_VALUE_CHARS:,} characters")
    return defaultfilters.join(value, arg, autoescape=autoescape)


@functools.wraps(defaultfilters.floatformat)
def _floatformat(text: Any, arg: Any = -1) -> Any:
    """Django's `floatformat`, with at most MAX_FLOATFORMAT_DECIMALS decimals."""
    decimals = arg.rstrip("gu") if isinstance(arg, str) else arg
    if _past(decimals, MAX_FLOATFORMAT_DECIMALS):
        raise LimitExceeded(f"floatformat: more than {MAX_FLOATFORMAT_DECIMALS:,} decimals")
    return defaultfilters.floatformat(text, arg)


@functools.wraps(defaultfilters.date)
def _date(value: Any, arg: Any = None) -> Any:
    """Django's `date` (Django's format letters), also for a date written as ISO 8601 text, as tracked values are."""
    _check_format(arg, "date")
    return defaultfilters.date(_moment(value), arg)


@functools.wraps(defaultfilters.time)
def _time(value: Any, arg: Any = None) -> Any:
    """Django's `time`, also for a time or a date and time written as ISO 8601 text."""
    _check_format(arg, "time")
    return defaultfilters.time(_moment(value), arg)


@functools.wraps(defaultfilters.divisibleby)
def _divisibleby(value: Any, arg: Any) -> Any:
    """Django's `divisibleby`, false for what is not a whole number (or for zero) instead of failing the render."""
    try:
        return defaultfilters.divisibleby(value, arg)
    except (ArithmeticError, TypeError, ValueError):
        return False


@functools.wraps(defaultfilters.first)
def _first(value: Any) -> Any:
    """Django's `first`, empty for a value that has no first item (a number, a mapping)."""
    try:
        return defaultfilters.first(value)
    except (LookupError, TypeError):
        return ""


@functools.wraps(defaultfilters.last)
def _last(value: Any) -> Any:
    """Django's `last`, empty for a value that has no last item (a number, a mapping)."""
    try:
        return defaultfilters.last(value)
    except (LookupError, TypeError):
        return ""


@functools.wraps(defaultfilters.striptags)
def _striptags(value: Any) -> Any:
    """Django's `striptags`; a value whose tags nest too deeply for it fails the render with a clear message."""
    try:
        return defaultfilters.striptags(value)
    except SuspiciousOperation:
        raise LimitExceeded("striptags: the value's tags are nested too deeply") from None


def _safe(value: Any) -> Any:
    """Brevo's `safe`, read but not obeyed: a value printed is escaped all the same."""
    return value


class FilterFailed(Exception):
    """A filter that could not work on what it was given (an argument of the wrong type, say)."""


def _bounded(name: str, django_filter: Filter) -> Filter:
    @functools.wraps(django_filter)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        limits.current().check_time()
        _check_size(value, name)
        try:
            result = django_filter(value, *args, **kwargs)
        except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as error:
            raise FilterFailed(f"{name}: {error}") from error
        _check_size(result, name)
        return result

    return bounded


FILTERS: dict[str, Filter] = {
    name: _bounded(name, django_filter)
    for name, django_filter in {
        **{name: defaultfilters.register.filters[name] for name in _AS_IS},
        "add": _add,
        "date": _date,
        "divisibleby": _divisibleby,
        "first": _first,
        "floatformat": _floatformat,
        "join": _join,
        "last": _last,
        "safe": _safe,
        "striptags": _striptags,
        "time": _time,
    }.items()
}


def _moment(value: Any) -> Any:
    """A date and time, or a time, read from ISO 8601 text; any other value as it is."""
    if not isinstance(value, str):
        return value
    for read in (datetime.fromisoformat, time.fromisoformat):
        try:
            return read(value.strip())
        except ValueError:
            continue
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_format(arg: Any, filter_name: str) -> None:
    if isinstance(arg, str) and len(arg) > MAX_DATE_FORMAT_CHARS:
        raise LimitExceeded(f"{filter_name}: format longer than {MAX_DATE_FORMAT_CHARS:,} characters")


def _check_size(value: Any, filter_name: str) -> None:
    if isinstance(value, str | list) and len(value) > MAX_VALUE_CHARS:
        raise LimitExceeded(f"{filter_name}: value longer than {MAX_VALUE_CHARS:,} characters")


def _past(count: Any, limit: int) -> bool:
    """Whether a size argument (a number, or the text of one) is past `limit`; not a number is not past it."""
    try:
        return abs(Decimal(str(count).strip())) > limit
    except ArithmeticError:
        return False


def _content_size(value: Any) -> int:
    """The characters of the strings inside `value` plus one per other item, counted until past MAX_VALUE_CHARS."""
    size = 0
    pending = [value]
    while pending and size <= MAX_VALUE_CHARS:
        item = pending.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, list | tuple):
            size += 1
            pending += item
        elif isinstance(item, dict):
            size += 1
            pending += [*item.keys(), *item.values()]
        else:
            size += 1
    return size
