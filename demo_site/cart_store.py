"""The shop's carts, kept on the server under an unguessable token: a browser's session and a cart link in an email
both name a cart by it, so the link restores the cart in any browser, as Shopify's and WooCommerce's do."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

Line = tuple[str, int]  # a product's slug and its quantity


@dataclass(frozen=True)
class StoredCart:
    id: str  # the cart's id in tracking calls: not a secret
    lines: tuple[Line, ...]


class CartStore:
    """Carts by token, in this process's memory (the demo runs one process; a restart forgets them, as it forgets
    sessions signed with a new random key)."""

    def __init__(self) -> None:
        self._carts: dict[str, StoredCart] = {}
        self._lock = threading.Lock()

    def new(self) -> str:
        """A new empty cart; its token (about 190 random bits)."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._carts[token] = StoredCart(id=secrets.token_hex(4), lines=())
        return token

    def get(self, token: str) -> StoredCart | None:
        with self._lock:
            return self._carts.get(token)

    def set_lines(self, token: str, lines: tuple[Line, ...]) -> None:
        with self._lock:
            cart = self._carts.get(token)
            if cart is not None:
                self._carts[token] = StoredCart(id=cart.id, lines=lines)

    def forget(self, token: str) -> None:
        """The cart is ordered: its link restores nothing from now on."""
        with self._lock:
            self._carts.pop(token, None)
