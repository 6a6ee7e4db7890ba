"""Cart state: `cart_updated` opens or updates a cart and its timer; an order or a deletion closes it."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Cart, Contact, Event, Visitor, Workflow

CART_UPDATED = "cart_updated"
CLOSING_EVENTS = {"order_completed": "ordered", "cart_deleted": "deleted"}
DEFAULT_CART = "default"


def new_workflow(site_id: int, delay_seconds: float) -> Workflow:
    """A new site's workflow: on, with the configured delay, re-entry on."""
    return Workflow(site_id=site_id, enabled=True, delay_seconds=delay_seconds, reentry=True, max_resets=100)


def workflow_of(session: Session, site_id: int) -> Workflow:
    workflow = session.get(Workflow, site_id)
    if workflow is None:
        raise LookupError(f"site {site_id} has no workflow")
    return workflow


def owner(contact_id: int | None, visitor_id: int | None) -> str | None:
    """Who a cart belongs to: the contact once known, else the visitor."""
    if contact_id is not None:
        return f"contact:{contact_id}"
    return f"visitor:{visitor_id}" if visitor_id is not None else None


def cart_key(eventdata: dict[str, Any] | None) -> str | None:
    """The cart an event names (`eventdata.id`), or None for the owner's default or every cart."""
    key = (eventdata or {}).get("id")
    return str(key)[:255] if key not in (None, "") else None


def has_items(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("items"), list) and len(data["items"]) > 0


class CartBook:
    """The carts one ingest has looked up, so that a batch of updates to one cart reads it once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._carts: dict[tuple[str, str], Cart | None] = {}

    def find(self, site_id: int, cart_owner: str, key: str) -> Cart | None:
        if (cart_owner, key) not in self._carts:
            self._carts[cart_owner, key] = _find(self.session, site_id, cart_owner, key)
        return self._carts[cart_owner, key]

    def add(self, cart: Cart) -> None:
        self.session.add(cart)
        self._carts[cart.owner, cart.cart_key] = cart

    def forget(self) -> None:
        """After carts changed hands (identification), look them up afresh."""
        self._carts.clear()


def apply_event(book: CartBook, workflow: Workflow, event: Event) -> None:
    """Move cart state for a stored custom event; other events leave carts alone."""
    cart_owner = owner(event.contact_id, event.visitor_id)
    if event.kind != "track" or cart_owner is None:
        return
    if event.name == CART_UPDATED:
        update_cart(book, workflow, event, cart_owner)
    elif event.name in CLOSING_EVENTS:
        close_carts(book.session, event, cart_owner, CLOSING_EVENTS[event.name])


def update_cart(book: CartBook, workflow: Workflow, event: Event, cart_owner: str) -> None:
    """Store the snapshot and push the deadline; after an email, a new cycle if re-entry is on."""
    key = cart_key(event.eventdata) or DEFAULT_CART
    data = (event.eventdata or {}).get("data")
    cart = book.find(event.site_id, cart_owner, key)
    if cart is None:
        if not has_items(data):
            return
        cart = Cart(site_id=event.site_id, owner=cart_owner, cart_key=key, state="open", version=0, cycle=1, resets=0)
        book.add(cart)
    elif event.occurred_at < cart.updated_at:
        return  # an older update arriving late changes nothing
    elif cart.state == "emailed" and not workflow.reentry:
        cart.snapshot, cart.updated_at, cart.version = data, event.occurred_at, cart.version + 1
        return
    elif cart.state != "open":
        cart.state, cart.cycle, cart.resets, cart.closed_reason, cart.emailed_at = "open", cart.cycle + 1, 0, None, None
        cart.deadline_at = None
    else:
        cart.resets += 1
    cart.contact_id, cart.visitor_id, cart.lease_until = event.contact_id, event.visitor_id, None
    cart.snapshot, cart.updated_at, cart.version = data, event.occurred_at, cart.version + 1
    if not has_items(data):
        _close(cart, "empty")
        return
    if cart.deadline_at is None or cart.resets <= workflow.max_resets:
        cart.deadline_at = event.occurred_at + timedelta(seconds=workflow.delay_seconds)
    schedule(cart, workflow)


def close_carts(session: Session, event: Event, cart_owner: str, reason: str) -> None:
    """Close the named cart, or with no id every open cart of the owner: no email."""
    query = select(Cart).where(Cart.site_id == event.site_id, Cart.owner == cart_owner, Cart.state != "closed")
    key = cart_key(event.eventdata)
    if key is not None:
        query = query.where(Cart.cart_key == key)
    for cart in session.scalars(query):
        if event.occurred_at >= cart.updated_at:
            cart.version += 1
            _close(cart, reason)


def schedule(cart: Cart, workflow: Workflow) -> None:
    """Due at the deadline while open, owned by a contact and the workflow is on; else not due."""
    waiting = cart.state == "open" and cart.contact_id is not None and workflow.enabled
    cart.due_at = cart.deadline_at if waiting else None


def reconfigure(session: Session, workflow: Workflow) -> None:
    """After a change of delay or on/off, put every open cart of the site on its new timer."""
    for cart in session.scalars(select(Cart).where(Cart.site_id == workflow.site_id, Cart.state == "open")):
        cart.deadline_at = cart.updated_at + timedelta(seconds=workflow.delay_seconds)
        schedule(cart, workflow)


def adopt_visitor_carts(session: Session, workflow: Workflow, visitor: Visitor, contact: Contact) -> None:
    """On identification the visitor's carts become the contact's (the newer wins a clash of ids)."""
    theirs = f"contact:{contact.id}"
    for cart in session.scalars(select(Cart).where(Cart.site_id == visitor.site_id, Cart.owner == f"visitor:{visitor.id}")):
        clash = _find(session, cart.site_id, theirs, cart.cart_key)
        if clash is not None:
            if clash.updated_at >= cart.updated_at:
                session.delete(cart)
                continue
            session.delete(clash)
            session.flush()
        cart.owner, cart.contact_id = theirs, contact.id
        schedule(cart, workflow)


def _find(session: Session, site_id: int, cart_owner: str, key: str) -> Cart | None:
    query = select(Cart).where(Cart.site_id == site_id, Cart.owner == cart_owner, Cart.cart_key == key)
    return session.scalar(query)


def _close(cart: Cart, reason: str) -> None:
    cart.state, cart.closed_reason, cart.due_at = "closed", reason, None
