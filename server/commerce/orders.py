"""The shop's orders: stored by the shop's id, and a paid order posted live closes its contact's open carts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from ..contacts.identity import contact_by_email, contact_by_ext_id
from ..ingest.pipeline import IncomingEvent, event_time, ingest
from ..models import Order, Site, utcnow
from . import schemas
from .retries import committed


class PaidStatus(StrEnum):
    """The order statuses, in any case, that mean the shopper bought: the abandoned cart is no longer abandoned."""

    PAID = "paid"
    PROCESSING = "processing"
    COMPLETED = "completed"
    COMPLETE = "complete"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


def is_paid(status: str) -> bool:
    return status.strip().lower() in set(PaidStatus)


def record_orders(
    session: Session, site: Site, orders: Sequence[tuple[schemas.Order, dict[str, Any]]], live: bool
) -> None:
    """Save the orders (a later one with the same id is a new status of it) in one transaction.

    Live (not a historical import), each paid order of a known contact passes one `order_completed` event with no
    cart id through the ingest path, which closes every open cart of that contact. An order for an unknown contact
    is only stored: it creates no contact.
    """
    contacts = {order.id: _contact_id(session, site, order) for order, _ in orders}
    events = [
        _order_completed(order, contact_id)
        for order, _ in orders
        if live and is_paid(order.status) and (contact_id := contacts[order.id]) is not None
    ]

    def write(session: Session) -> None:
        _save(session, site.id, orders, contacts)

    if events:
        ingest(session, site, events, also=write)
        return
    committed(session, write, "orders")


def _contact_id(session: Session, site: Site, order: schemas.Order) -> int | None:
    """The site's contact the order names, by email first, then by ext_id; None for one Sibyl does not know."""
    email, ext_id = order.contact_email, order.contact_ext_id
    contact = (contact_by_email(session, site.id, email) if email is not None else None) or (
        contact_by_ext_id(session, site.id, ext_id) if ext_id is not None else None
    )
    return contact.id if contact is not None else None


def _save(
    session: Session,
    site_id: int,
    orders: Sequence[tuple[schemas.Order, dict[str, Any]]],
    contacts: dict[str, int | None],
) -> None:
    now = utcnow()
    rows: dict[str, Order] = {}
    for order, raw in orders:
        row = rows.get(order.id) or session.get(Order, (site_id, order.id))
        if row is None:
            row = Order(site_id=site_id, id=order.id, created_at=now)
            session.add(row)
        rows[order.id] = row
        row.status, row.amount, row.contact_id = order.status, order.amount, contacts[order.id]
        row.email, row.ext_id = order.contact_email, order.contact_ext_id
        row.ordered_at, row.status_at, row.document, row.modified_at = order.createdAt, order.updatedAt, raw, now
    session.flush()


def _order_completed(order: schemas.Order, contact_id: int) -> IncomingEvent:
    """The event a paid order passes: no cart id (every open cart of the contact), the order in its data.

    Its message id comes from the order's, so a paid order closes carts once, not again on each later status.
    """
    now = utcnow()
    return IncomingEvent(
        message_id="order-" + hashlib.sha256(order.id.encode()).hexdigest()[:48],
        kind="track",
        name="order_completed",
        occurred_at=event_time(int(order.updatedAt.timestamp() * 1000), now),
        contact_id=contact_id,
        eventdata={
            "data": {
                "order_id": order.id,
                "status": order.status,
                "total": order.amount,
                "products": [product.model_dump(exclude_unset=True) for product in order.products],
            }
        },
        vouched=True,
    )
