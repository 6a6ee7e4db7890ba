"""A contact's data rights: export everything stored about it, or erase all of it in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from ..models import Cart, Contact, Event, FeedbackReport, Order, OutboxEmail, Visitor


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _visitor_ids(contact: Contact) -> Any:
    return select(Visitor.id).where(Visitor.contact_id == contact.id).scalar_subquery()


def _events(contact: Contact) -> Any:
    """The contact's own events and the anonymous events of its browsers; never those of another contact who used
    one of its browsers before (a shared computer)."""
    return or_(
        Event.contact_id == contact.id, and_(Event.contact_id.is_(None), Event.visitor_id.in_(_visitor_ids(contact)))
    )


def _carts(contact: Contact) -> Any:
    """The contact's carts and the anonymous carts of its browsers, as for events."""
    return or_(
        Cart.contact_id == contact.id, and_(Cart.contact_id.is_(None), Cart.visitor_id.in_(_visitor_ids(contact)))
    )


def _orders(contact: Contact) -> Any:
    """The contact's orders: linked to it, or naming its email or ext_id (an order stored before the contact was)."""
    named = [Order.contact_id == contact.id]
    named += [Order.email == contact.email] if contact.email is not None else []
    named += [Order.ext_id == contact.ext_id] if contact.ext_id is not None else []
    return and_(Order.site_id == contact.site_id, or_(*named))


def export_contact(session: Session, contact: Contact) -> dict[str, Any]:
    """Everything Sibyl keeps about the contact, as one JSON-ready document."""
    visitors = session.scalars(select(Visitor).where(Visitor.contact_id == contact.id).order_by(Visitor.id))
    events = session.scalars(select(Event).where(_events(contact)).order_by(Event.occurred_at, Event.id))
    carts = session.scalars(select(Cart).where(_carts(contact)).order_by(Cart.id))
    emails = session.scalars(select(OutboxEmail).where(OutboxEmail.contact_id == contact.id).order_by(OutboxEmail.id))
    return {
        "contact": {
            "id": contact.id,
            "email": contact.email,
            "ext_id": contact.ext_id,
            "attributes": contact.attributes or {},
            "time_zone": contact.time_zone,
            "emailBlacklisted": contact.email_blacklisted,
            "emailBlacklistReason": contact.email_blacklist_reason,
            "smsBlacklisted": contact.sms_blacklisted,
            "confirmed_at": _stamp(contact.confirmed_at),
            "created_at": _stamp(contact.created_at),
            "modified_at": _stamp(contact.modified_at),
        },
        "browsers": [
            {"cookie": v.cuid, "first_seen_at": _stamp(v.first_seen_at), "last_seen_at": _stamp(v.last_seen_at)}
            for v in visitors
        ],
        "events": [
            {
                "id": e.message_id,
                "kind": e.kind,
                "name": e.name,
                "url": e.url,
                "properties": e.properties or {},
                "eventdata": e.eventdata,
                "ip": e.ip,
                "occurred_at": _stamp(e.occurred_at),
                "received_at": _stamp(e.received_at),
            }
            for e in events
        ],
        "carts": [
            {
                "cart_id": c.cart_key,
                "state": c.state,
                "closed_reason": c.closed_reason,
                "snapshot": c.snapshot,
                "updated_at": _stamp(c.updated_at),
                "deadline_at": _stamp(c.deadline_at),
                "emailed_at": _stamp(c.emailed_at),
            }
            for c in carts
        ],
        "emails": [
            {
                "subject": m.subject,
                "recipient": m.recipient,
                "status": m.status,
                "created_at": _stamp(m.created_at),
                "sent_at": _stamp(m.sent_at),
                "feedback": m.feedback,
                "text": m.text,
            }
            for m in emails
        ],
    }


def erase_contact(session: Session, contact: Contact) -> None:
    """Delete the contact with its emails (and the bounces and complaints about them), carts, events, orders and
    browsers, and commit: all of it or none.

    A browser that another contact's events or carts still name (a shared computer) is kept for them, unlinked.
    """
    cart_ids = select(Cart.id).where(_carts(contact)).scalar_subquery()
    ours = Visitor.contact_id == contact.id
    named_by_others = or_(exists().where(Event.visitor_id == Visitor.id), exists().where(Cart.visitor_id == Visitor.id))
    for statement in (
        delete(FeedbackReport).where(FeedbackReport.contact_id == contact.id),
        delete(OutboxEmail).where(or_(OutboxEmail.contact_id == contact.id, OutboxEmail.cart_id.in_(cart_ids))),
        delete(Cart).where(_carts(contact)),
        delete(Event).where(_events(contact)),
        delete(Order).where(_orders(contact)),
        delete(Visitor).where(ours, ~named_by_others),
        update(Visitor).where(ours).values(contact_id=None),
        delete(Contact).where(Contact.id == contact.id),
    ):
        session.execute(statement.execution_options(synchronize_session=False))
    session.commit()
    session.expunge(contact)
