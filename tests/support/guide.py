"""Brevo's abandoned-cart guide, the data many tests share: Thomas's cart of 2 Black shoes and 1 White shirt."""

from __future__ import annotations

from typing import Any

GUIDE_CART: dict[str, Any] = {
    "total": 280,
    "currency": "USD",
    "url": "https://shop.example/cart",
    "items": [
        {
            "name": "Black shoes",
            "price": 90,
            "quantity": 2,
            "url": "https://shop.example/p/black-shoes",
            "image": "https://shop.example/img/black-shoes.png",
        },
        {
            "name": "White shirt",
            "price": 100,
            "quantity": 1,
            "url": "https://shop.example/p/white-shirt",
            "image": "https://shop.example/img/white-shirt.png",
        },
    ],
}
