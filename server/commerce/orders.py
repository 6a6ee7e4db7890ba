"""The shop's orders: stored by the shop's id, and a paid order posted live closes its contact's open carts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import ApiError
from ..ingest.pipeline import IncomingEvent, event_time, ingest
from ..models import Contact, Order, Site, utcnow
from . import schemas

_ATTEMPTS = 3


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
    for attempt in range(_ATTEMPTS):
        try:
            write(session)
            session.commit()
            return
        except IntegrityError:
            session.rollback()
            if attempt == _ATTEMPTS - 1:
                raise ApiError(
                    503, "the same orders are being written at once; retry", "service_unavailable", retry_after=1
                ) from None


def _contact_id(session: Session, site: Site, order: schemas.Order) -> int | None:
    for column, value in ((Contact.email, order.contact_email), (Contact.ext_id, order.contact_ext_id)):
        if value is not None:
            found = session.scalar(select(Contact.id).where(Contact.site_id == site.id, column == value))
            if found is not None:
                return found
    return None


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
