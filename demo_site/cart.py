"""The visitor's cart, kept in the Flask session (a signed cookie)."""

from __future__ import annotations

import secrets
from typing import Any

from flask import session, url_for

from demo_site.catalog import CURRENCY, Product, get_product

MAX_QUANTITY = 99


def _new_cart() -> dict[str, Any]:
    """A fresh empty cart with a new random id (8 hex characters)."""
    return {"id": secrets.token_hex(4), "lines": []}


def _raw() -> dict[str, Any]:
    """The session cart, created on first use; lines are ``[slug, quantity]`` pairs in order."""
    cart = session.get("cart")
    if not isinstance(cart, dict) or not isinstance(cart.get("id"), str):
        cart = _new_cart()
        session["cart"] = cart
    return cart


def _save(lines: list[list[Any]]) -> None:
    """Store new lines, dropping unknown products and non-positive quantities."""
    cart = _raw()
    clean = [
        [slug, min(int(qty), MAX_QUANTITY)] for slug, qty in lines if get_product(slug) is not None and int(qty) > 0
    ]
    session["cart"] = {"id": cart["id"], "lines": clean}


def cart_id() -> str:
    """The stable id of the current cart."""
    return str(_raw()["id"])


def lines() -> list[tuple[Product, int]]:
    """The cart's lines as (product, quantity), in the order they were added."""
    out: list[tuple[Product, int]] = []
    for slug, qty in _raw().get("lines", []):
        product = get_product(slug)
        if product is not None and qty > 0:
            out.append((product, int(qty)))
    return out


def add(slug: str, quantity: int = 1) -> None:
    """Add ``quantity`` of a product (merging with an existing line)."""
    current: list[list[Any]] = [[p.slug, q] for p, q in lines()]
    for line in current:
        if line[0] == slug:
            line[1] += quantity
            break
    else:
        current.append([slug, quantity])
    _save(current)


def set_quantities(quantities: dict[str, int]) -> None:
    """Set the quantity of each given line; 0 removes it. Unknown slugs are ignored."""
    _save([[p.slug, quantities.get(p.slug, q)] for p, q in lines()])


def remove(slug: str) -> None:
    """Remove one line."""
    _save([[p.slug, q] for p, q in lines() if p.slug != slug])


def count() -> int:
    """Number of items in the cart."""
    return sum(q for _, q in lines())


def money(value: float) -> int | float:
    """Round to cents; whole amounts become ints so JSON shows 90 rather than 90.0."""
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def snapshot() -> dict[str, Any]:
    """The cart as JSON-ready data with absolute URLs, as the tracking calls need it."""
    items = []
    for product, qty in lines():
        items.append(
            {
                "slug": product.slug,
                "name": product.name,
                "price": product.price,
                "quantity": qty,
                "line_total": money(product.price * qty),
                "url": url_for("shop.product", slug=product.slug, _external=True),
                "image": url_for("static", filename=product.image, _external=True),
            }
        )
    return {
        "id": cart_id(),
        "items": items,
        "count": sum(i["quantity"] for i in items),
        "total": money(sum(p.price * q for p, q in lines())),
        "currency": CURRENCY,
        "url": url_for("shop.cart", _external=True),
    }


def checkout() -> dict[str, Any] | None:
    """Turn the cart into an order and start a new cart; None when the cart is empty."""
    order = snapshot()
    if not order["items"]:
        return None
    session["cart"] = _new_cart()
    session["last_order"] = order
    return order
