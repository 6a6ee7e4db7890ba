"""Cart state: `cart_updated` opens or updates a cart and its timer; an order or a deletion closes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from ..commerce.cart_items import has_lines
from ..contacts.identity import SeenVisitor
from ..models import Cart, Contact, Workflow
from ..values import plain_number
from .states import CartState, CloseReason, closed

CART_UPDATED = "cart_updated"
CLOSING_EVENTS = {"order_completed": CloseReason.ORDERED, "cart_deleted": CloseReason.DELETED}
DEFAULT_CART = "default"
MAX_RESETS = 1_000_000  # a cap on a cart's timer resets; beyond it the deadline stops moving anyway
MAX_DELAY = 30 * 86400  # the longest inactivity before a recovery email
MAX_PERIOD = 365 * 86400  # the longest "one email per contact per period"


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


@dataclass(slots=True)
class CartRow:
    """A cart as one ingest reads and writes it (plain columns: no unit of work on the hot path)."""

    site_id: int
    owner: str
    cart_key: str
    state: CartState
    version: int
    cycle: int
    resets: int
    id: int | None = None
    visitor_id: int | None = None
    contact_id: int | None = None
    snapshot: Any = None
    updated_at: datetime | None = None
    received_at: datetime | None = None
    sent_at: datetime | None = None
    deadline_at: datetime | None = None
    due_at: datetime | None = None
    lease_until: datetime | None = None
    emailed_at: datetime | None = None
    closed_reason: CloseReason | None = None
    order_total: float | None = None


_CARTS = Cart.__table__
_COLUMNS = tuple(field.name for field in fields(CartRow))
_CHANGEABLE = tuple(name for name in _COLUMNS if name != "id")
_FIND = select(*(_CARTS.c[name] for name in _COLUMNS)).where(
    _CARTS.c.site_id == bindparam("site_id"),
    _CARTS.c.owner == bindparam("owner"),
    _CARTS.c.cart_key == bindparam("key"),
)
_OF_OWNER = select(*(_CARTS.c[name] for name in _COLUMNS)).where(
    _CARTS.c.site_id == bindparam("site_id"), _CARTS.c.owner == bindparam("owner")
)
_OF_OWNERS = select(*(_CARTS.c[name] for name in _COLUMNS)).where(
    _CARTS.c.site_id == bindparam("site_id"), _CARTS.c.owner.in_(bindparam("owners", expanding=True))
)
_INSERT = insert(_CARTS).returning(_CARTS.c.id)
_UPDATE = update(_CARTS).where(_CARTS.c.id == bindparam("cart_id"))
_DELETE = delete(_CARTS).where(_CARTS.c.id.in_(bindparam("cart_ids", expanding=True)))
_WORKFLOWS = Workflow.__table__
_SETTINGS = ("enabled", "delay_seconds", "reentry", "max_resets")
_WORKFLOW = select(*(_WORKFLOWS.c[name] for name in _SETTINGS)).where(_WORKFLOWS.c.site_id == bindparam("site_id"))
# The first cart an ingest reads comes with the workflow: one statement instead of two.
_FIND_WITH_WORKFLOW = (
    select(*(_WORKFLOWS.c[name] for name in _SETTINGS), *(_CARTS.c[name].label(f"cart_{name}") for name in _COLUMNS))
    .select_from(
        _WORKFLOWS.outerjoin(
            _CARTS,
            and_(
                _CARTS.c.site_id == _WORKFLOWS.c.site_id,
                _CARTS.c.owner == bindparam("owner"),
                _CARTS.c.cart_key == bindparam("key"),
            ),
        )
    )
    .where(_WORKFLOWS.c.site_id == bindparam("site_id"))
)


@dataclass(frozen=True, slots=True)
class WorkflowSettings:
    """What cart state needs of a site's workflow, as ingest reads it."""

    enabled: bool
    delay_seconds: float
    reentry: bool
    max_resets: int


class CartBook:
    """The carts one ingest touches: each read once, changed in memory, written once by `write`."""

    def __init__(self, connection: Connection, site_id: int) -> None:
        self.connection = connection
        self.site_id = site_id
        self._carts: dict[tuple[str, str], CartRow | None] = {}
        self._owners_read: set[str] = set()  # owners whose every cart is in `_carts`
        self._read: dict[int, tuple[Any, ...]] = {}  # each read cart's columns as read, to write only changes
        self._new: list[CartRow] = []
        self._deleted: list[int] = []
        self._workflow: WorkflowSettings | None = None

    @property
    def workflow(self) -> WorkflowSettings:
        """The site's workflow settings, read only when an event concerns a cart."""
        if self._workflow is None:
            row = self._with_workflow(self.connection.execute(_WORKFLOW, {"site_id": self.site_id}).one_or_none())
            self._workflow = self._settings(row)
        return self._workflow

    def read_owners(self, owners: set[str]) -> None:
        """Read every cart of these owners in one statement, ahead of the events that will ask for them."""
        unread = sorted(owners - self._owners_read)
        if not unread:
            return
        for row in self.connection.execute(_OF_OWNERS, {"site_id": self.site_id, "owners": unread}):
            if (row.owner, row.cart_key) not in self._carts:
                self._carts[row.owner, row.cart_key] = self._remember(row._mapping)
        self._owners_read.update(unread)

    def find(self, cart_owner: str, key: str) -> CartRow | None:
        if (cart_owner, key) not in self._carts and cart_owner in self._owners_read:
            self._carts[cart_owner, key] = None
        if (cart_owner, key) not in self._carts:
            params = {"site_id": self.site_id, "owner": cart_owner, "key": key}
            if self._workflow is None:
                joined = self._with_workflow(self.connection.execute(_FIND_WITH_WORKFLOW, params).one_or_none())
                self._workflow = self._settings(joined)
                found: Mapping[Any, Any] | None = (
                    {name: joined._mapping[f"cart_{name}"] for name in _COLUMNS} if joined.cart_id is not None else None
                )
            else:
                row = self.connection.execute(_FIND, params).one_or_none()
                found = row._mapping if row is not None else None
            self._carts[cart_owner, key] = self._remember(found) if found is not None else None
        return self._carts[cart_owner, key]

    def carts_of(self, cart_owner: str) -> list[CartRow]:
        """Every cart of the owner, as this ingest last left it."""
        self.write()
        for row in self.connection.execute(_OF_OWNER, {"site_id": self.site_id, "owner": cart_owner}):
            if self._carts.get((cart_owner, row.cart_key)) is None:
                self._carts[cart_owner, row.cart_key] = self._remember(row._mapping)
        return [cart for (holder, _), cart in self._carts.items() if holder == cart_owner and cart is not None]

    def add(self, cart: CartRow) -> None:
        self._new.append(cart)
        self._carts[cart.owner, cart.cart_key] = cart

    def move(self, cart: CartRow, new_owner: str) -> None:
        """Give the cart to another owner (the cart it replaces, if any, deleted first)."""
        self._carts[cart.owner, cart.cart_key] = None
        cart.owner = new_owner
        self._carts[new_owner, cart.cart_key] = cart

    def delete(self, cart: CartRow) -> None:
        self._carts[cart.owner, cart.cart_key] = None
        if cart.id is None:
            self._new.remove(cart)
        else:
            self._deleted.append(cart.id)
            del self._read[cart.id]

    def write(self) -> None:
        """Delete, insert the new carts, and update the changed columns of the others."""
        connection = self.connection
        if self._deleted:
            connection.execute(_DELETE, {"cart_ids": self._deleted})
            self._deleted.clear()
        for new in self._new:
            new.id = connection.execute(_INSERT, {name: getattr(new, name) for name in _CHANGEABLE}).scalar_one()
            self._read[new.id] = _values(new)
        self._new.clear()
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # by the columns changed: one statement each
        for cart in self._carts.values():
            if cart is None or cart.id is None:
                continue
            now, before = _values(cart), self._read[cart.id]
            changed = {name: value for name, value, old in zip(_COLUMNS, now, before, strict=True) if value != old}
            if changed:
                updates.setdefault(tuple(changed), []).append({"cart_id": cart.id, **changed})
                self._read[cart.id] = now
        for rows in updates.values():
            connection.execute(_UPDATE, rows)

    def _remember(self, columns: Mapping[Any, Any]) -> CartRow:
        reason = columns["closed_reason"]
        cart = CartRow(
            **{
                **columns,
                "state": CartState(columns["state"]),
                "closed_reason": CloseReason(reason) if reason else None,
            }
        )
        self._read[columns["id"]] = _values(cart)
        return cart

    def _with_workflow(self, row: Row[Any] | None) -> Row[Any]:
        """The row read with the site's workflow settings, which every site has."""
        if row is None:
            raise LookupError(f"site {self.site_id} has no workflow")
        return row

    def _settings(self, row: Row[Any]) -> WorkflowSettings:
        return WorkflowSettings(**{name: getattr(row, name) for name in _SETTINGS})


def _values(cart: CartRow) -> tuple[Any, ...]:
    return tuple(getattr(cart, name) for name in _COLUMNS)


class CartChange(StrEnum):
    """What an event did to a cart, as the runs that follow it read it: its timer started again (a new cart or an
    update within the cap, a new cycle after a close or after an email), it changed without moving its timer, or
    it closed."""

    RESCHEDULED = "rescheduled"
    REOPENED = "reopened"  # a new cycle of a cart closed before (ordered, deleted, emptied, withheld)
    REENTERED = "reentered"  # a new cycle of a cart emailed before (re-entry on)
    KEPT = "kept"
    CLOSED = "closed"


CartChanges = dict[str, CartChange]  # by cart key


def apply_event(book: CartBook, event: Mapping[str, Any], sent_at: datetime | None) -> CartChanges:
    """Move cart state for a stored custom event (its row in `events`, and the client's time for it when it gave
    one not ahead of the server's); other events leave carts alone. What happened to each cart it concerned."""
    if event["kind"] != "track" or (event["name"] != CART_UPDATED and event["name"] not in CLOSING_EVENTS):
        return {}
    cart_owner = owner(event["contact_id"], event["visitor_id"])
    if cart_owner is None:
        return {}
    if event["name"] == CART_UPDATED:
        return update_cart(book, event, cart_owner, sent_at)
    return close_carts(book, event, cart_owner, sent_at, CLOSING_EVENTS[event["name"]])


def arrived_late(sent_at: datetime | None, cart: CartRow) -> bool:
    """An event sent before the cart's last update, received after it: both times the clients' own, never a
    client's time against the server's. Without both, the order of receipt decides: the event is the newer."""
    return sent_at is not None and cart.sent_at is not None and sent_at < cart.sent_at


def update_cart(book: CartBook, event: Mapping[str, Any], cart_owner: str, sent_at: datetime | None) -> CartChanges:
    """Store the snapshot and push the deadline; after an email, a new cycle if re-entry is on.

    The deadline counts from when the update was received; the client's time is only the event's to show.
    """
    key = cart_key(event["eventdata"]) or DEFAULT_CART
    data = (event["eventdata"] or {}).get("data")
    received_at = event["received_at"]
    cart = book.find(cart_owner, key)
    workflow = book.workflow
    opened = CartChange.RESCHEDULED
    if cart is None:
        if not has_lines(data):
            return {}
        cart = CartRow(
            site_id=event["site_id"], owner=cart_owner, cart_key=key, state=CartState.OPEN, version=0, cycle=1, resets=0
        )
        book.add(cart)
    elif arrived_late(sent_at, cart):
        return {key: CartChange.KEPT}  # an older update arriving late changes nothing
    elif cart.state == CartState.EMAILED and not workflow.reentry:
        _record_update(cart, event, sent_at, data)
        return {key: CartChange.KEPT}
    elif cart.state != CartState.OPEN:
        opened = CartChange.REENTERED if cart.state == CartState.EMAILED else CartChange.REOPENED
        cart.state, cart.cycle, cart.resets, cart.closed_reason = CartState.OPEN, cart.cycle + 1, 0, None
        cart.emailed_at, cart.deadline_at, cart.order_total = None, None, None
    else:
        cart.resets += 1
    cart.contact_id, cart.visitor_id, cart.lease_until = event["contact_id"], event["visitor_id"], None
    _record_update(cart, event, sent_at, data)
    if not has_lines(data):
        close(cart, CloseReason.EMPTY)
        return {key: CartChange.CLOSED}
    change = CartChange.KEPT
    if cart.deadline_at is None or cart.resets <= workflow.max_resets:
        cart.deadline_at = received_at + timedelta(seconds=workflow.delay_seconds)
        change = opened
    schedule(cart, workflow)
    return {key: change}


def _record_update(cart: CartRow, event: Mapping[str, Any], sent_at: datetime | None, data: Any) -> None:
    cart.snapshot, cart.updated_at, cart.received_at = data, event["occurred_at"], event["received_at"]
    cart.sent_at, cart.version = sent_at, cart.version + 1


def close_carts(
    book: CartBook, event: Mapping[str, Any], cart_owner: str, sent_at: datetime | None, reason: CloseReason
) -> CartChanges:
    """Close the named cart, or with no id every open cart of the owner (unless it was sent before their last
    update and arrived late): no email. An order's revenue stays with the carts it closed."""
    key = cart_key(event["eventdata"])
    changes: CartChanges = {}
    for cart in [book.find(cart_owner, key)] if key is not None else book.carts_of(cart_owner):
        if cart is not None and cart.state != CartState.CLOSED and not arrived_late(sent_at, cart):
            close(cart, reason)
            changes[cart.cart_key] = CartChange.CLOSED
            if reason is CloseReason.ORDERED:
                cart.order_total = order_revenue((event["eventdata"] or {}).get("data"))
    return changes


def order_revenue(data: Any) -> float | None:
    """What an order brought in: its `revenue` (Brevo's plugins) or else its `total`, when either is a number."""
    if not isinstance(data, dict):
        return None
    for key in ("revenue", "total"):
        amount = plain_number(data.get(key))
        if amount is not None:
            return float(amount)
    return None


def schedule(cart: Cart | CartRow, workflow: Workflow | WorkflowSettings) -> None:
    """Due at the deadline while open, owned by a contact and the workflow is on; else not due."""
    waiting = cart.state == CartState.OPEN and cart.contact_id is not None and workflow.enabled
    cart.due_at = cart.deadline_at if waiting else None


def reconfigure(session: Session, workflow: Workflow) -> None:
    """After a change of delay or on/off, put every open cart of the site on its new timer (from its last receipt)."""
    for cart in session.scalars(select(Cart).where(Cart.site_id == workflow.site_id, Cart.state == CartState.OPEN)):
        cart.deadline_at = cart.received_at + timedelta(seconds=workflow.delay_seconds)
        schedule(cart, workflow)


def adopt_visitor_carts(book: CartBook, visitor: SeenVisitor, contact: Contact) -> None:
    """On identification the visitor's carts become the contact's (the one updated last wins a clash of ids)."""
    theirs = f"contact:{contact.id}"
    for cart in book.carts_of(f"visitor:{visitor.id}"):
        clash = book.find(theirs, cart.cart_key)
        if clash is not None:
            if clash.received_at >= cart.received_at:  # type: ignore[operator]  # stored carts have both times
                book.delete(cart)
                continue
            book.delete(clash)
        book.move(cart, theirs)
        cart.contact_id = contact.id
        schedule(cart, book.workflow)


def close(cart: CartRow, reason: CloseReason) -> None:
    """Close the cart for `reason`, by the one rule every closing follows."""
    for name, value in closed(reason, cart.version).items():
        setattr(cart, name, value)
