"""The guide's shopper and cart as tracker messages, and the carts and outbox rows they lead to."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from server import db
from server.models import Cart, OutboxEmail, Site

from .guide import GUIDE_CART
from .store import Store

THOMAS = "thomas@example.com"
DELAY = timedelta(hours=2)


def at(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def track(
    name: str, moment: datetime, eventdata: dict[str, Any] | None = None, email: str | None = THOMAS, **properties: Any
) -> dict[str, Any]:
    if email:
        properties = {"email": email, **properties}
    message = {"id": str(uuid.uuid4()), "type": "track", "name": name, "ts": at(moment), "properties": properties}
    if eventdata is not None:
        message["eventdata"] = eventdata
    return message


def cart_updated(
    moment: datetime, data: dict[str, Any] = GUIDE_CART, cart: str = "cart:42", **kwargs: Any
) -> dict[str, Any]:
    return track("cart_updated", moment, {"id": cart, "data": data}, **kwargs)


def outbox(store: Store, site: Site) -> list[OutboxEmail]:
    with db.new_session(store.app) as session:
        return list(session.scalars(select(OutboxEmail).where(OutboxEmail.site_id == site.id).order_by(OutboxEmail.id)))


def carts(store: Store, site: Site) -> list[Cart]:
    with db.new_session(store.app) as session:
        return list(session.scalars(select(Cart).where(Cart.site_id == site.id).order_by(Cart.id)))
