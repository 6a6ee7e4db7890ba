"""Template filters: times in the signed-in user's time zone, durations, amounts, and tracked values shown readably
(always as escaped text)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import Flask, g, has_request_context, request, url_for
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context

from ..automation.quiet_hours import zone_named
from ..commerce.cart_items import LINE_KEYS, cart_lines, in_brevo_names
from ..email_templates.money import site_money
from ..models import utcnow
from ..values import is_scalar, plain_number


@cache
def zone_names() -> list[str]:
    """The IANA zones a user may choose, `Area/City` and UTC (not `localtime`, `Factory` or other aliases)."""
    return sorted(name for name in available_timezones() if "/" in name or name == "UTC")


def viewer_zone() -> ZoneInfo:
    """The signed-in user's time zone: UTC when it set none, and outside a request."""
    if not has_request_context():
        return ZoneInfo("UTC")
    if "viewer_zone" not in g:
        name = getattr(current_user, "time_zone", None) if current_user.is_authenticated else None
        g.viewer_zone = zone_named(name) or ZoneInfo("UTC")
    zone: ZoneInfo = g.viewer_zone
    return zone


def local(moment: datetime) -> datetime:
    return moment.astimezone(viewer_zone())


def when(moment: datetime | None) -> str:
    """'28 Nov 2026, 15:05' in the user's time zone (named once per page, by `zone_label`)."""
    if moment is None:
        return "—"
    shown = local(moment)
    return f"{shown.day} {shown:%b %Y, %H:%M}"


def when_exact(moment: datetime | None) -> str:
    """'28 Nov 2026, 15:05:09' in the user's time zone: for timelines, where seconds order the events."""
    if moment is None:
        return "—"
    shown = local(moment)
    return f"{shown.day} {shown:%b %Y, %H:%M:%S}"


def zone_label(now: datetime | None = None) -> str:
    """The user's time zone as the page names it once: 'Europe/Paris (CET, UTC+01:00)', or 'UTC'."""
    zone = viewer_zone()
    if zone.key == "UTC":
        return "UTC"
    shown = (now or utcnow()).astimezone(zone)
    offset = shown.strftime("%z")
    return f"{zone.key} ({shown:%Z}, UTC{offset[:3]}:{offset[3:]})"


def iso(moment: datetime | None) -> str:
    """UTC, ISO 8601: for `<time datetime>`, files and feeds."""
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


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
class CartSize:
    """How many items a cart holds, counted as a shop does (a line of 2 is two items), and in how many lines."""

    items: Decimal
    lines: int

    def __str__(self) -> str:
        words = f"{self.items.normalize():,f} item{'' if self.items == 1 else 's'}"
        return words if self.items == self.lines else f"{words} · {self.lines} line{'' if self.lines == 1 else 's'}"


def cart_size(data: Any) -> CartSize | None:
    """The items and lines of `{items: [{quantity}, …]}` (or Segment's `products`): a line that gives no quantity
    holds one item; None for data with no list of lines."""
    lines = cart_lines(data)
    return None if lines is None else _size_of(lines)


def _size_of(lines: list[Any]) -> CartSize:
    quantities = [plain_number(line.get("quantity")) if isinstance(line, dict) else None for line in lines]
    items = sum((Decimal(1) if quantity is None else quantity for quantity in quantities), Decimal(0))
    return CartSize(items, len(lines))


@dataclass(frozen=True)
class CartView:
    """Event or cart data that has a list of items, split into an item table and the other fields."""

    items: list[ItemRow]
    fields: dict[str, Any]
    size: CartSize


MONEY_FIELDS = ("total", "revenue", "subtotal", "shipping", "tax", "discount")  # amounts beside the lines


@pass_context
def cart_view(context: Context, data: Any) -> CartView | None:
    """`{items: [{name, quantity, price}, …], total, currency, …}` (or Segment's `products`) as a table, with
    amounts as the site's locale writes them, and fields; None for other data."""
    lines = cart_lines(data)
    if not lines or not all(isinstance(item, dict) for item in lines):
        return None
    currency = data.get("currency")
    rows = []
    for item in map(in_brevo_names, lines):
        quantity, price = plain_number(item.get("quantity")), plain_number(item.get("price"))
        shown_price = money(context, price, currency) if price is not None else _text(item.get("price", ""))
        line = money(context, quantity * price, currency) if quantity is not None and price is not None else ""
        name = item.get("name", item.get("id", ""))
        rows.append(ItemRow(_text(name), _text(item.get("quantity", "")), shown_price, line))
    fields = {key: value for key, value in data.items() if key not in LINE_KEYS}
    for key in MONEY_FIELDS:
        if plain_number(fields.get(key)) is not None:
            fields[key] = money(context, fields[key], currency)
    return CartView(rows, fields, _size_of(lines))


@pass_context
def money(context: Context, amount: Any, currency: Any = None) -> str:
    """An amount as the page's site writes it (`site_money`): amounts that are no number are shown as sent. The site is
    the template's, or in a macro (imported without the template's variables) the request's."""
    site = context.get("site") or (g.get("dashboard_site") if has_request_context() else None)
    return site_money(site, amount if isinstance(amount, Decimal | float | int | str) else "", currency)


def _text(value: Any) -> str:
    return scalar_text(value) if is_scalar(value) else pretty_json(value)


def init_app(app: Flask) -> None:
    for function in (when, when_exact, iso, ago, duration, number, pretty_json, scalar_text, money):
        app.add_template_filter(function)
    app.add_template_test(is_scalar, "scalar")
    app.add_template_global(cart_view)
    app.add_template_global(cart_size)
    app.add_template_global(zone_label)
    app.add_template_global(url_with)
