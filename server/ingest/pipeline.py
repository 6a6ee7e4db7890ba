"""The one ingest path: every entry point hands normalised events here to be stored once."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Insert, bindparam, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..automation import runs
from ..automation.carts import CartBook, adopt_visitor_carts, apply_event, owner
from ..contacts.addresses import normalise_email
from ..contacts.identity import ContactBook, SeenVisitor, contact_by_id, link_visitor, see_visitors
from ..contacts.time_zones import known_zone
from ..db import insert_for, writer_turn
from ..models import Contact, Event, EventId, Site, utcnow
from ..sites import traffic
from .group_commit import GroupCommit

MAX_CLOCK_SKEW = timedelta(minutes=5)
_ATTEMPTS = 3


@dataclass(frozen=True)
class IncomingEvent:
    """An event in the shape every entry point produces, whichever door it came in by."""

    message_id: str
    kind: str  # "page", "track", "identify" or "link"
    name: str
    occurred_at: datetime
    url: str | None = None
    cuid: str | None = None
    email: str | None = None
    ext_id: str | None = None
    contact_id: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    eventdata: dict[str, Any] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    ip: str | None = None
    time_zone: str | None = None  # the sender's IANA time zone, as a browser gives it with an identification
    sent_at: datetime | None = None  # the client's own time for the event, when comparable (see client_time)
    vouched: bool = False  # sent with the secret key: the shop itself stands behind this contact
    identifies: bool = True  # False once the abuse limits refused its identification: it changes no contact


@dataclass(frozen=True)
class IngestResult:
    stored: int
    duplicates: int


def event_time(ms: int | None, now: datetime) -> datetime:
    """When the event happened, as shown: the client's time (ms since the epoch), unless missing or ahead of the
    server's clock by more than the skew allowed. A display time only: no deadline counts from it."""
    if ms is None:
        return now
    sent = datetime.fromtimestamp(ms / 1000, now.tzinfo)
    return now if sent > now + MAX_CLOCK_SKEW else sent


def client_time(ms: int | None, now: datetime) -> datetime | None:
    """The client's time for an event, to order it among the same client's events: None when it gave none, or one
    ahead of the server's clock (such a time would make every later event of a correct clock look older)."""
    if ms is None:
        return None
    sent = datetime.fromtimestamp(ms / 1000, now.tzinfo)
    return sent if sent <= now else None


def ingest(
    session: Session,
    site: Site,
    events: list[IncomingEvent],
    also: Callable[[Session], None] | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Store each event not stored before, in one transaction; a concurrent writer means a retry.

    Requests arriving together share one transaction (a group commit, see `group_commit`); each is answered once
    the transaction holding its events has committed. `also` writes what belongs in the same transaction (the
    order an event reports), again on each retry; `now` is the time of receipt, the server's clock unless a replay
    of past traffic (the demo data) gives its own. Either keeps the request in a transaction of its own.
    """
    if session.in_transaction():
        session.commit()  # what the request read before ends here: a waiting request holds no transaction open
    if also is None and now is None:
        return _group(session).submit(session, _Batch(site, events))

    def store(careful: bool) -> IngestResult:
        if also is not None:
            also(session)
        return _answers([_Batch(site, events)], _store(session, site, events, now or utcnow(), careful))[0]

    return _in_transaction(session, store)


@dataclass(frozen=True)
class _Batch:
    """One request's events for one site."""

    site: Site
    events: list[IncomingEvent]


_GROUPS: weakref.WeakKeyDictionary[Engine, GroupCommit[_Batch, IngestResult]] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()


def _group(session: Session) -> GroupCommit[_Batch, IngestResult]:
    """The group commit of the session's database, one per process and engine."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _GROUPS_LOCK:
        if engine not in _GROUPS:
            _GROUPS[engine] = GroupCommit(_store_group)
        return _GROUPS[engine]


def _store_group(session: Session, batches: list[_Batch]) -> list[IngestResult | BaseException]:
    """The requests' events stored together; when that fails, each request alone, so that only the one at fault
    (if any) sees the error. On SQLite the group waits its turn among the processes writing first."""
    with writer_turn(session.get_bind()):  # type: ignore[arg-type]  # sessions here are bound to an engine
        return _store_group_now(session, batches)


def _store_group_now(session: Session, batches: list[_Batch]) -> list[IngestResult | BaseException]:
    try:
        return list(_in_transaction(session, lambda careful: _store_batches(session, batches, careful)))
    except Exception as error:
        session.rollback()
        if len(batches) == 1:
            return [error]
    outcomes: list[IngestResult | BaseException] = []
    for batch in batches:
        try:
            outcomes += _in_transaction(
                session,
                lambda careful, batch=batch: _store_batches(session, [batch], careful),  # type: ignore[misc]
            )
        except Exception as error:
            session.rollback()
            outcomes.append(error)
    return outcomes


T = TypeVar("T")


def _in_transaction(session: Session, write: Callable[[bool], T]) -> T:
    """`write` committed, tried again from the start when a concurrent writer got there first. `write` is first
    told it may bet on runs unchanged since read (see `RunBook`), and told to be careful once that bet was lost."""
    careful = False
    attempt = 0
    while True:
        try:
            result = write(careful)
            session.commit()
            return result
        except runs.RunsRaced:
            session.rollback()
            careful = True
        except IntegrityError:
            session.rollback()
            attempt += 1
            if attempt == _ATTEMPTS:
                raise


def _store_batches(session: Session, batches: list[_Batch], careful: bool) -> list[IngestResult]:
    """Each site's events of all the requests stored as one batch, in the order the requests came."""
    now = utcnow()
    by_site: dict[int, list[_Batch]] = {}
    for batch in batches:
        by_site.setdefault(batch.site.id, []).append(batch)
    stored: set[tuple[int, str]] = set()
    for site_batches in by_site.values():
        events = [event for batch in site_batches for event in batch.events]
        stored |= _store(session, site_batches[0].site, events, now, careful)
    return _answers(batches, stored)


def _answers(batches: list[_Batch], stored: set[tuple[int, str]]) -> list[IngestResult]:
    """Each request's count of events stored and of duplicates: an event stored by this transaction counts for the
    first request that carried it; a second copy, in the same request or another, is a duplicate."""
    claimed: set[tuple[int, str]] = set()
    answers = []
    for batch in batches:
        mine = {(batch.site.id, event.message_id) for event in batch.events} & (stored - claimed)
        claimed |= mine
        answers.append(IngestResult(stored=len(mine), duplicates=len(batch.events) - len(mine)))
    return answers


def _store(
    session: Session, site: Site, events: list[IncomingEvent], now: datetime, careful: bool
) -> set[tuple[int, str]]:
    """Store the site's events not stored before; the (site, message id) of each one stored. Unless `careful`, the
    runs' moves are written together at the end (see `RunBook`)."""
    connection = session.connection()
    firsts = _first_copies(events)
    claimed = _claim_ids(connection, site.id, [event.message_id for event in firsts], now)
    book = ContactBook(session, site)
    carts = CartBook(connection, site.id)
    workflow_runs = runs.RunBook(connection, site, deferred=not careful)
    new = [event for event in firsts if event.message_id in claimed]
    visitors = see_visitors(connection, site.id, {event.cuid for event in new if event.cuid}, now)
    _read_ahead(carts, workflow_runs, new, visitors)
    rows: list[dict[str, Any]] = []
    stored: set[tuple[int, str]] = set()
    for incoming in new:
        visitor = visitors[incoming.cuid] if incoming.cuid else None
        contact_id = _identify(session, book, carts, workflow_runs, incoming, visitor, rows)
        row = {
            "site_id": site.id,
            "message_id": incoming.message_id,
            "kind": incoming.kind,
            "name": incoming.name,
            "url": incoming.url,
            "visitor_id": visitor.id if visitor else None,
            "contact_id": contact_id,
            "properties": incoming.properties,
            "eventdata": incoming.eventdata,
            "ip": incoming.ip,
            "occurred_at": incoming.occurred_at,
            "received_at": now,
        }
        rows.append(row)
        changes = apply_event(carts, row, incoming.sent_at)
        runs.apply_event(workflow_runs, row, changes, created_contact=_newly_created(book, contact_id))
        stored.add((site.id, incoming.message_id))
    _insert_events(connection, rows)
    workflow_runs.write()
    carts.write()
    traffic.saw(session, site.id, now)
    session.flush()
    return stored


_EVENTS = Event.__table__
_INSERT_EVENTS = insert(_EVENTS)


def _claim(dialect: str) -> Insert:
    """Each message id written unless the site already has it; the ids written, which are the events to store."""
    table = EventId.__table__
    statement = insert_for(dialect)(table).values(
        site_id=bindparam("site_id"), message_id=bindparam("message_id"), received_at=bindparam("now")
    )
    return statement.on_conflict_do_nothing(index_elements=[table.c.site_id, table.c.message_id]).returning(
        table.c.message_id
    )


_CLAIMS = {dialect: _claim(dialect) for dialect in ("postgresql", "sqlite")}


def _claim_ids(connection: Connection, site_id: int, message_ids: list[str], now: datetime) -> set[str]:
    """The message ids new to the site, now taken by this transaction: one statement, in id order, so that two
    transactions claiming the same ids wait for each other rather than deadlock (the second then finds them taken)."""
    if not message_ids:
        return set()
    params = [{"site_id": site_id, "message_id": message_id, "now": now} for message_id in sorted(message_ids)]
    return set(connection.scalars(_CLAIMS[connection.dialect.name], params))


def _insert_events(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Write the events gathered so far in one statement (Core: no unit of work for rows never read back)."""
    if rows:
        connection.execute(_INSERT_EVENTS, rows)
        rows.clear()


def _first_copies(events: list[IncomingEvent]) -> list[IncomingEvent]:
    """The events in order, each message id once (a batch may carry a retried copy of its own event)."""
    firsts: dict[str, IncomingEvent] = {}
    for event in events:
        firsts.setdefault(event.message_id, event)
    return list(firsts.values())


def _read_ahead(
    carts: CartBook, workflow_runs: runs.RunBook, events: list[IncomingEvent], visitors: dict[str, SeenVisitor]
) -> None:
    """Read the carts and waiting runs of the owners the events most likely concern (the contact an event names,
    else its visitor's contact, else its visitor) in one statement each, rather than one per owner as each comes.
    An identification may still change an event's owner: the books then read that owner when asked."""
    owners = set()
    for event in events:
        visitor = visitors.get(event.cuid) if event.cuid else None
        contact_id = event.contact_id if event.contact_id is not None else visitor.contact_id if visitor else None
        likely = owner(contact_id, visitor.id if visitor else None)
        if likely is not None:
            owners.add(likely)
    if owners:
        carts.read_owners(owners)
        workflow_runs.read_owners(owners)


def _newly_created(book: ContactBook, contact_id: int | None) -> bool:
    """Whether this ingest created the contact and no earlier event of it has said so yet (once per contact)."""
    if contact_id is None or contact_id not in book.created:
        return False
    book.created.discard(contact_id)
    return True


def _identify(
    session: Session,
    book: ContactBook,
    carts: CartBook,
    workflow_runs: runs.RunBook,
    incoming: IncomingEvent,
    visitor: SeenVisitor | None,
    pending: list[dict[str, Any]],
) -> int | None:
    """The id of the contact the event belongs to: the one its contact id names; else the one its email names (the
    visitor becomes that contact's); else its visitor's contact; else the one its ext_id names.

    The contact itself is read only when the event changes it.
    """
    if not incoming.identifies:
        return visitor.contact_id if visitor is not None else None
    email = identified_email(incoming)
    contact: Contact | None
    if incoming.contact_id is not None:
        contact = contact_by_id(session, book.site.id, incoming.contact_id)
    elif email:
        contact = book.find_or_create_by_email(email)
        _hand_over_visitor(session, carts, workflow_runs, visitor, contact, pending)
        _store_time_zone(contact, incoming.time_zone)
    elif visitor is not None and visitor.contact_id is not None:
        if not _changes_contact(book, incoming):
            return visitor.contact_id
        contact = session.get(Contact, visitor.contact_id)
    elif incoming.ext_id is not None:
        contact = book.find_or_create_by_ext_id(incoming.ext_id)
    else:
        return None
    if contact is None:
        return None
    _record_ext_id(book, contact, incoming.ext_id)
    _confirm_when_vouched(contact, incoming)
    _store_attributes(book, contact, incoming)
    return contact.id


def _hand_over_visitor(
    session: Session,
    carts: CartBook,
    workflow_runs: runs.RunBook,
    visitor: SeenVisitor | None,
    contact: Contact,
    pending: list[dict[str, Any]],
) -> None:
    """A visitor identified as another contact than its own becomes this one's, with its anonymous events (those
    not yet written too), its open carts and its workflow runs."""
    if visitor is None or visitor.contact_id == contact.id:
        return
    _insert_events(session.connection(), pending)
    link_visitor(session, visitor, contact)
    adopt_visitor_carts(carts, visitor, contact)
    workflow_runs.adopt(visitor.id, contact.id)


def _store_time_zone(contact: Contact, time_zone: str | None) -> None:
    """The time zone an identification gives becomes its contact's, the latest one winning, when this server's zone
    database knows it (an unknown zone leaves the contact's as it was)."""
    if time_zone is not None and time_zone != contact.time_zone and known_zone(time_zone):
        contact.time_zone = time_zone
        contact.modified_at = utcnow()


def _changes_contact(book: ContactBook, incoming: IncomingEvent) -> bool:
    """Whether an event of an identified visitor has something for its contact: an ext_id or attribute values."""
    if incoming.ext_id is not None:
        return True
    return bool(book.matching_attributes(incoming.attributes) or book.matching_attributes(incoming.properties))


def _record_ext_id(book: ContactBook, contact: Contact, ext_id: str | None) -> None:
    """The event's ext_id becomes the contact's when it has none (and no other contact holds it)."""
    if ext_id is not None and contact.ext_id is None:
        book.give_ext_id(contact, ext_id)


def _confirm_when_vouched(contact: Contact, incoming: IncomingEvent) -> None:
    """An event sent with the secret key confirms its contact: the shop itself stands behind it."""
    if incoming.vouched and contact.confirmed_at is None:
        contact.confirmed_at = utcnow()


def _store_attributes(book: ContactBook, contact: Contact, incoming: IncomingEvent) -> None:
    """The event's values of the site's attributes, given as attributes or among its properties, go on the contact."""
    book.set_attributes(contact, incoming.attributes)
    book.set_attributes(contact, incoming.properties)


def identified_email(incoming: IncomingEvent) -> str | None:
    """The email an event identifies its sender by: its own, or `email` among its properties.

    The doors' schemas have refused either when it is not an address; this reads their stored form (cached).
    """
    email_property = next((value for key, value in incoming.properties.items() if key.lower() == "email"), None)
    return normalise_email(incoming.email) or normalise_email(email_property)


def identified_emails(events: list[IncomingEvent]) -> set[str]:
    return {email for email in map(identified_email, events) if email is not None}


def without_identification(events: list[IncomingEvent]) -> list[IncomingEvent]:
    """The events as anonymous ones of their browser: an identification refused, the rest still stored."""
    return [
        replace(event, email=None, attributes={}, time_zone=None, identifies=False)
        if identified_email(event)
        else event
        for event in events
    ]
