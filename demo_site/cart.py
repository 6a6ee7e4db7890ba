"""The visitor's cart: its token in the Flask session (a signed cookie), its lines in the shop's cart store."""

from __future__ import annotations

from typing import Any

from flask import current_app, session, url_for

from demo_site.cart_store import CartStore, Line, StoredCart
from demo_site.catalog import CURRENCY, Product, get_product

MAX_QUANTITY = 99


def store() -> CartStore:
    found: CartStore = current_app.extensions["demo_carts"]
    return found


def _token() -> str:
    """The session's cart token; a new empty cart when it has none, or one the store no longer holds."""
    token = session.get("cart_token")
    if not isinstance(token, str) or store().get(token) is None:
        token = store().new()
        session["cart_token"] = token
    return token


def _stored() -> StoredCart | None:
    """The session's cart, without making one: a page view alone stores nothing."""
    token = session.get("cart_token")
    return store().get(token) if isinstance(token, str) else None


def _save(lines: list[Line]) -> None:
    """Store new lines, dropping unknown products and non-positive quantities."""
    clean = tuple((slug, min(int(qty), MAX_QUANTITY)) for slug, qty in lines if get_product(slug) and int(qty) > 0)
    store().set_lines(_token(), clean)


def restore(token: str) -> bool:
    """Make the cart a link names this browser's cart (False when the store has no such cart)."""
    if store().get(token) is None:
        return False
    session["cart_token"] = token
    return True


def cart_id() -> str:
    """The stable id of the current cart."""
    found = store().get(_token())
    assert found is not None  # _token() made sure of it
    return found.id


def lines() -> list[tuple[Product, int]]:
    """The cart's lines as (product, quantity), in the order they were added."""
    out: list[tuple[Product, int]] = []
    stored = _stored()
    for slug, qty in stored.lines if stored else ():
        product = get_product(slug)
        if product is not None:
            out.append((product, qty))
    return out


def add(slug: str, quantity: int = 1) -> None:
    """Add ``quantity`` of a product (merging with an existing line)."""
    current = [(p.slug, q + quantity if p.slug == slug else q) for p, q in lines()]
    if all(line_slug != slug for line_slug, _ in current):
        current.append((slug, quantity))
    _save(current)


def set_quantities(quantities: dict[str, int]) -> None:
    """Set the quantity of each given line; 0 removes it. Unknown slugs are ignored."""
    _save([(p.slug, quantities.get(p.slug, q)) for p, q in lines()])


def remove(slug: str) -> None:
    """Remove one line."""
    _save([(p.slug, q) for p, q in lines() if p.slug != slug])


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
        # The cart's link for emails: it restores this cart in any browser, the phone the email is read on too.
        "url": url_for("shop.restore_cart", token=_token(), _external=True),
    }


def checkout() -> dict[str, Any] | None:
    """Turn the cart into an order and start a new cart; None when the cart is empty."""
    order = snapshot()
    if not order["items"]:
        return None
    store().forget(_token())
    session.pop("cart_token")
    session["last_order"] = order
    return order
