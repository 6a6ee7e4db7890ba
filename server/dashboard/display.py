"""Template filters: times, durations, and tracked values shown readably (always as escaped text)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, request, url_for
from jinja2 import pass_context
from jinja2.runtime import Context

from ..commerce.cart_items import LINE_KEYS, cart_lines, in_brevo_names
from ..email_templates.money import DEFAULT_LOCALE, format_money
from ..models import utcnow
from ..values import is_scalar, plain_number


def when(moment: datetime | None) -> str:
    """'28 Nov 2026, 14:05 UTC'."""
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC" if moment else "—"


def iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 days ago'; 'in 20 min' for a time still to come."""
    if moment is None:
        return "never"
    seconds = ((now or utcnow()) - moment).total_seconds()
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 45:
        return "in a few seconds" if future else "just now"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = round(seconds / size)
            text = f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "in a minute" if future else "a minute ago"


def duration(seconds: float) -> str:
    """Seconds as the shortest of '2h', '15m', '90s' that is exact (what parse_duration reads)."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def number(value: int) -> str:
    return f"{value:,}"


def url_with(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None removes one): for tabs and pages."""
    args = {**request.args.to_dict(), **changes}
    values = {key: value for key, value in args.items() if value is not None}
    return url_for(request.endpoint or "dashboard.overview", **(request.view_args or {}), **values)


def pretty_json(value: Any) -> str:
    """Indented JSON as plain text: autoescaping shows `<script>` in it as text."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ItemRow:
    name: str
    quantity: str
    price: str
    total: str


@dataclass(frozen=True)
class CartView:
    """Event or cart data that has a list of items, split into an item table and the other fields."""

    items: list[ItemRow]
    fields: dict[str, Any]


def cart_view(data: Any) -> CartView | None:
    """`{items: [{name, quantity, price}, …], total, currency, …}` (or Segment's `products`) as a table and fields;
    None for other data."""
    lines = cart_lines(data)
    if not lines or not all(isinstance(item, dict) for item in lines):
        return None
    rows = []
    for item in map(in_brevo_names, lines):
        quantity, price = plain_number(item.get("quantity")), plain_number(item.get("price"))
        line = f"{quantity * price:,.2f}" if quantity is not None and price is not None else ""
        name = item.get("name", item.get("id", ""))
        rows.append(ItemRow(_text(name), _text(item.get("quantity", "")), _text(item.get("price", "")), line))
    return CartView(rows, {key: value for key, value in data.items() if key not in LINE_KEYS})


@pass_context
def money(context: Context, amount: Any, currency: Any = None) -> str:
    """An amount as the shown site's locale writes it (as its emails do); in its display currency when it set one and
    the amount says none (revenue, summed from orders)."""
    site = context.get("site")
    locale = getattr(site, "locale", None) or DEFAULT_LOCALE
    return format_money(
        amount, currency if isinstance(currency, str) else getattr(site, "display_currency", None), locale
    )


def _text(value: Any) -> str:
    return scalar_text(value) if is_scalar(value) else pretty_json(value)


def init_app(app: Flask) -> None:
    for function in (when, iso, ago, duration, number, pretty_json, scalar_text, money):
        app.add_template_filter(function)
    app.add_template_test(is_scalar, "scalar")
    app.add_template_global(cart_view)
    app.add_template_global(url_with)
