"""A cart's lines as shops send them, read under the names of Brevo's guide (`items`: `id`, `name`, `image`, `url`,
`price`, `quantity`) and completed from the site's catalogue where a line only names its product."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from .catalogue import enrich_items

# `items` in Brevo's guide and every shop plugin; `products` in Segment's e-commerce spec, as RudderStack forwards it.
LINE_KEYS = ("items", "products")
# Other spellings of a line's fields: Segment's (and RudderStack's) and Brevo's catalogue's.
_SPELLINGS = {"id": ("product_id", "productId"), "name": ("product_name",), "image": ("image_url", "imageUrl")}
_SHOWN = ("name", "image", "price", "url")
MAX_LINES = 50  # the lines a recovery email shows


def cart_lines(data: Any) -> list[Any] | None:
    """The cart's lines, or None when the snapshot holds no list of them."""
    if not isinstance(data, dict):
        return None
    for key in LINE_KEYS:
        if isinstance(data.get(key), list):
            return list(data[key])
    return None


def has_lines(data: Any) -> bool:
    return bool(cart_lines(data))


def _missing(value: Any) -> bool:
    """A field a shop left out: absent, empty, or WooCommerce's `false` for a product without an image."""
    return value is None or value == "" or value is False


def in_brevo_names(line: Any) -> Any:
    """The line with Brevo's names filled from the other spellings (its own values win); other values as they are."""
    if not isinstance(line, dict):
        return line
    named = dict(line)
    for name, others in _SPELLINGS.items():
        if _missing(named.get(name)):
            for other in others:
                if not _missing(line.get(other)):
                    named[name] = line[other]
                    break
    return named


def readable_cart(connection: Connection | Session, site_id: int, data: Any) -> Any:
    """The snapshot as the recovery email reads it: its lines under `items` in Brevo's names, a line that only names
    its product completed from the catalogue (read only when a line lacks something it could give)."""
    lines = cart_lines(data)
    if lines is None:
        return data
    named = [in_brevo_names(line) for line in lines[:MAX_LINES]]
    if any(isinstance(line, dict) and any(_missing(line.get(key)) for key in _SHOWN) for line in named):
        named = enrich_items(connection, site_id, named)
    return {**data, "items": named}
