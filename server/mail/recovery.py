"""The abandoned-cart recovery email's context, built from an untrusted cart snapshot."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from ..email_templates.money import DEFAULT_LOCALE, format_money
from ..values import one_line, plain_number

MAX_ITEMS = 50
MAX_URL = 2048
# Controls and spaces, and the backslash: browsers read it as a slash, so `https://evil.example\@shop.example/`
# goes to evil.example while Python's URL parser names shop.example its host.
UNSAFE_URL_CHARS = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


@dataclass(frozen=True)
class _Line:
    name: str
    url: str | None
    image: str | None
    quantity: str | None
    price: str | None
    total: str | None


def web_url(value: Any, hosts: Collection[str]) -> str | None:
    """The URL when it is a plain http(s) URL on one of the shop's `hosts`; None for `javascript:`, other hosts
    and the rest (the cart comes from the public key: a link elsewhere would make the shop's email a phishing one)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > MAX_URL or UNSAFE_URL_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname in hosts else None


def _quantity_text(value: Any) -> str | None:
    amount = plain_number(value)
    if amount is None:
        return one_line(value, 20)
    return f"{amount.normalize():f}" if amount == amount.to_integral_value() else f"{amount:f}"


def _cart_lines(
    items: Any, currency: str | None, hosts: Collection[str], locale: str
) -> tuple[list[_Line], list[Decimal]]:
    """The displayable lines, and the line totals that could be computed."""
    lines: list[_Line] = []
    totals: list[Decimal] = []
    for item in items[:MAX_ITEMS] if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        price, quantity = plain_number(item.get("price")), plain_number(item.get("quantity"))
        total = price * quantity if price is not None and quantity is not None else None
        if total is not None:
            totals.append(total)
        lines.append(
            _Line(
                name=one_line(item.get("name")) or "Item",
                url=web_url(item.get("url"), hosts),
                image=web_url(item.get("image"), hosts),
                quantity=_quantity_text(item.get("quantity")),
                price=format_money(price, currency, locale) if price is not None else one_line(item.get("price"), 40),
                total=format_money(total, currency, locale) if total is not None else None,
            )
        )
    return lines, totals


def recovery_context(
    *,
    shop_name: str,
    subject: str,
    firstname: str | None,
    cart: dict[str, Any],
    unsubscribe_url: str,
    hosts: Collection[str],
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """What the `recovery` templates show of a cart snapshot (`eventdata.data` of `cart_updated`): its lines and
    money as text written for the shop's `locale`, links and images only on the shop's `hosts`."""
    cart = cart if isinstance(cart, dict) else {}
    currency = one_line(cart.get("currency"), 12)
    lines, totals = _cart_lines(cart.get("items"), currency, hosts, locale)
    total = plain_number(cart.get("total"))
    if total is None and totals:
        total = sum(totals, Decimal(0))
    return {
        "subject": subject,
        "shop_name": one_line(shop_name) or "our shop",
        "firstname": one_line(firstname, 100),
        "lines": lines,
        "total": format_money(total, currency, locale) if total is not None else None,
        "cart_url": web_url(cart.get("url"), hosts),
        "unsubscribe_url": unsubscribe_url,
        "pixel_url": None,
    }


def tracked_context(context: dict[str, Any], link: Callable[[str], str], pixel_url: str | None) -> dict[str, Any]:
    """The recovery email's context with its links to the shop made by `link` (the click redirect) and the open
    pixel's URL, when the site has it on."""
    return {
        **context,
        "lines": [replace(line, url=link(line.url) if line.url else None) for line in context["lines"]],
        "cart_url": link(context["cart_url"]) if context["cart_url"] else None,
        "pixel_url": pixel_url,
    }
