"""The shop's fixed product catalogue."""

from __future__ import annotations

from dataclasses import dataclass

CURRENCY = "USD"


@dataclass(frozen=True)
class Product:
    """One product for sale; ``image`` is a file name under static/."""

    slug: str
    name: str
    price: int | float
    image: str
    description: str


PRODUCTS: tuple[Product, ...] = (
    Product("black-shoes", "Black shoes", 90, "black-shoes.png", "Smart leather lace-ups that go with everything."),
    Product("white-shirt", "White shirt", 100, "white-shirt.png", "A crisp cotton shirt with a classic collar."),
    Product("sun-hat", "Sun hat", 35, "sun-hat.png", "A wide-brimmed straw hat for bright days."),
    Product("canvas-bag", "Canvas bag", 45, "canvas-bag.png", "A sturdy tote with room for a laptop and lunch."),
    Product("striped-socks", "Striped socks", 12.5, "striped-socks.png", "Soft cotton socks in cheerful stripes."),
)

_BY_SLUG = {p.slug: p for p in PRODUCTS}


def get_product(slug: str) -> Product | None:
    """Return the product with this slug, or None."""
    return _BY_SLUG.get(slug)
