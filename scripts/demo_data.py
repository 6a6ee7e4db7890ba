"""A month of realistic shop traffic, stored through the real ingest path and worker: visits, sign-ins, carts, mail."""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from server import db
from server.automation.worker import Worker
from server.ingest.pipeline import IncomingEvent, ingest
from server.models import Contact, Event, OutboxEmail, Site, Visitor
from server.sites import create_site

SHOP = "https://maisonverte.example"
PRODUCTS = [
    ("black-shoes", "Black shoes", 90),
    ("white-shirt", "White shirt", 100),
    ("canvas-bag", "Canvas bag", 35),
    ("linen-trousers", "Linen trousers", 75),
    ("wool-scarf", "Wool scarf", 45),
    ("sun-hat", "Sun hat", 28),
    ("striped-socks", "Striped socks", 12),
]
FIRST_NAMES = [
    "Emma",
    "Lucas",
    "Chloé",
    "Noah",
    "Léa",
    "Hugo",
    "Sofia",
    "Jonas",
    "Alice",
    "Mateo",
    "Inès",
    "Louis",
    "Mila",
    "Arthur",
    "Zoé",
    "Elena",
    "Paul",
    "Nina",
    "Oscar",
    "Julia",
    "Sami",
    "Yara",
]
LAST_NAMES = [
    "Martin",
    "Rossi",
    "Schmidt",
    "Dubois",
    "Costa",
    "Nowak",
    "García",
    "Moreau",
    "Jansen",
    "Ferrari",
    "Lambert",
    "Novak",
    "Fischer",
    "Silva",
    "Laurent",
    "Conti",
    "Berg",
    "Petit",
    "Meyer",
    "Roux",
]
THOMAS = "thomas.bianchi@example.com"
CART_DELAY = 2 * 3600


@dataclass
class Visit:
    """One visitor's session: its events, in order, all stored in one ingest."""

    start: datetime
    cuid: str
    events: list[IncomingEvent]


def _page(moment: datetime, path: str, title: str, email: str | None = None) -> IncomingEvent:
    properties = {"ma_url": SHOP + path, "ma_path": path, "ma_title": title, "ma_referrer": ""}
    return IncomingEvent(uuid.uuid4().hex, "page", title, moment, url=SHOP + path, email=email, properties=properties)


def _identify(moment: datetime, email: str, attributes: dict[str, str]) -> IncomingEvent:
    return IncomingEvent(
        uuid.uuid4().hex, "identify", "identify", moment, email=email, properties=attributes, attributes=attributes
    )


def _track(moment: datetime, name: str, email: str, person: dict[str, str], eventdata: dict[str, Any]) -> IncomingEvent:
    properties = {"email": email, **person}
    return IncomingEvent(uuid.uuid4().hex, "track", name, moment, properties=properties, eventdata=eventdata)


def cart_data(lines: list[tuple[str, str, int, int]]) -> dict[str, Any]:
    items = [
        {
            "name": name,
            "price": price,
            "quantity": quantity,
            "url": f"{SHOP}/products/{slug}",
            "image": f"{SHOP}/static/{slug}.png",
        }
        for slug, name, price, quantity in lines
    ]
    total = sum(price * quantity for _, _, price, quantity in lines)
    return {"total": total, "currency": "USD", "url": f"{SHOP}/cart", "items": items}


def _visit(rng: random.Random, start: datetime, person: tuple[str, str, str] | None, cart_id: str) -> Visit:
    """Browse a few products; an identified visitor may fill a cart, then order, empty it, or leave it."""
    moment = start
    events = [_page(moment, "/", "Maison Verte — Home")]
    seen = rng.sample(PRODUCTS, rng.randint(1, 4))
    for slug, name, _ in seen:
        moment += timedelta(seconds=rng.randint(15, 140))
        events.append(_page(moment, f"/products/{slug}", f"{name} — Maison Verte"))
    if person is None:
        return Visit(start, uuid.uuid4().hex, events)
    email, first, last = person
    attributes = {"FIRSTNAME": first, "LASTNAME": last}
    moment += timedelta(seconds=rng.randint(20, 90))
    events.append(_page(moment, "/signin", "Sign in — Maison Verte"))
    events.append(_identify(moment, email, attributes))
    if rng.random() < 0.55:
        lines = [(slug, name, price, rng.choice([1, 1, 1, 2])) for slug, name, price in seen[: rng.randint(1, 3)]]
        moment += timedelta(seconds=rng.randint(30, 200))
        events.append(_page(moment, "/cart", "Your cart — Maison Verte"))
        events.append(_track(moment, "cart_updated", email, attributes, {"id": cart_id, "data": cart_data(lines)}))
        outcome = rng.random()
        if outcome < 0.35:
            moment += timedelta(seconds=rng.randint(60, 400))
            events.append(_page(moment, "/checkout", "Checkout — Maison Verte"))
            order = {"id": cart_id, "data": cart_data(lines)}
            events.append(_track(moment, "order_completed", email, attributes, order))
        elif outcome < 0.45:
            moment += timedelta(seconds=rng.randint(20, 120))
            events.append(_track(moment, "cart_deleted", email, attributes, {"id": cart_id}))
    return Visit(start, uuid.uuid4().hex, events)


def _comeback(rng: random.Random, after: datetime, person: tuple[str, str, str], cart_id: str) -> Visit:
    """A customer back a day later from the recovery email, ordering what the cart held."""
    email, first, last = person
    moment = after + timedelta(hours=rng.randint(3, 30))
    lines = [(slug, name, price, 1) for slug, name, price in rng.sample(PRODUCTS, 2)]
    attributes = {"FIRSTNAME": first, "LASTNAME": last}
    events = [
        _page(moment, "/cart", "Your cart — Maison Verte", email),
        _page(moment + timedelta(seconds=50), "/checkout", "Checkout — Maison Verte", email),
        _track(
            moment + timedelta(seconds=50),
            "order_completed",
            email,
            attributes,
            {"id": cart_id, "data": cart_data(lines)},
        ),
    ]
    return Visit(moment, uuid.uuid4().hex, events)


def _thomas(now: datetime) -> list[Visit]:
    """The guide's customer: signs in, fills the guide's cart (280 USD) and leaves it; it is emailed."""
    person = {"FIRSTNAME": "Thomas", "LASTNAME": "Bianchi"}
    start = now - timedelta(hours=3, minutes=12)
    cart = cart_data([("black-shoes", "Black shoes", 90, 2), ("white-shirt", "White shirt", 100, 1)])
    earlier = now - timedelta(days=6, hours=4)
    first_visit = [
        _page(earlier, "/", "Maison Verte — Home"),
        _page(earlier + timedelta(seconds=40), "/products/sun-hat", "Sun hat — Maison Verte"),
    ]
    events = [
        _page(start, "/", "Maison Verte — Home"),
        _page(start + timedelta(seconds=30), "/signin", "Sign in — Maison Verte"),
        _identify(start + timedelta(seconds=45), THOMAS, {**person, "SMS": "+39 333 123 4567"}),
        _page(start + timedelta(seconds=70), "/products/black-shoes", "Black shoes — Maison Verte"),
        _page(start + timedelta(seconds=130), "/products/white-shirt", "White shirt — Maison Verte"),
        _page(start + timedelta(seconds=160), "/cart", "Your cart — Maison Verte"),
        _track(start + timedelta(seconds=190), "cart_updated", THOMAS, person, {"id": "cart:1042", "data": cart}),
    ]
    cuid = uuid.uuid4().hex
    return [Visit(earlier, cuid, first_visit), Visit(start, cuid, events)]


def _still_shopping(rng: random.Random, now: datetime, people: list[tuple[str, str, str]]) -> list[Visit]:
    """Customers whose carts, filled in the last two hours, still wait for their deadline."""
    visits = []
    for minutes, (email, first, last) in zip((18, 35, 52, 77, 104), people, strict=True):
        start = now - timedelta(minutes=minutes)
        lines = [
            (slug, name, price, rng.choice([1, 2])) for slug, name, price in rng.sample(PRODUCTS, rng.randint(1, 3))
        ]
        attributes = {"FIRSTNAME": first, "LASTNAME": last}
        events = [
            _page(start, "/signin", "Sign in — Maison Verte"),
            _identify(start + timedelta(seconds=20), email, attributes),
            _page(start + timedelta(seconds=90), "/cart", "Your cart — Maison Verte"),
            _track(
                start + timedelta(seconds=95),
                "cart_updated",
                email,
                attributes,
                {"id": f"cart:{rng.randint(1000, 9999)}", "data": cart_data(lines)},
            ),
        ]
        visits.append(Visit(start, uuid.uuid4().hex, events))
    return visits


def _customer(
    rng: random.Random, people: list[tuple[str, str, str]], known: list[tuple[str, str, str]]
) -> tuple[str, str, str]:
    """A returning customer now and then, else someone new."""
    if known and (rng.random() < 0.3 or not people):
        return rng.choice(known)
    known.append(people.pop())
    return known[-1]


def seed(app: Flask, now: datetime, visits_per_day: int = 60, seed_value: int = 7) -> Site:
    """Create the shop's site and store a month of its traffic, the worker emailing carts as time passes."""
    rng = random.Random(seed_value)
    with db.new_session(app) as session:
        site = create_site(session, "Maison Verte", [SHOP], CART_DELAY)
    people = [
        (
            unicodedata.normalize("NFKD", f"{first}.{last}@example.com".lower()).encode("ascii", "ignore").decode(),
            first,
            last,
        )
        for first in FIRST_NAMES
        for last in LAST_NAMES
    ]
    rng.shuffle(people)
    shoppers = [people.pop() for _ in range(5)]
    known: list[tuple[str, str, str]] = []
    visits: list[Visit] = []
    for day in range(30, -1, -1):
        growth = 0.55 + 0.45 * (30 - day) / 30
        weekend = 1.25 if (now - timedelta(days=day)).weekday() >= 5 else 1.0
        for _ in range(int(visits_per_day * growth * weekend * rng.uniform(0.8, 1.2))):
            hour = min(23, max(0, int(rng.gauss(19, 4))))
            start = (now - timedelta(days=day)).replace(hour=hour, minute=rng.randint(0, 59), second=rng.randint(0, 59))
            if start > now - timedelta(minutes=20):
                continue
            person = _customer(rng, people, known) if rng.random() < 0.3 else None
            cart_id = f"cart:{rng.randint(1000, 9999)}"
            visit = _visit(rng, start, person, cart_id)
            visits.append(visit)
            left_cart = visit.events[-1].name == "cart_updated"
            if person is not None and left_cart and rng.random() < 0.3 and start < now - timedelta(days=2):
                visits.append(_comeback(rng, start + timedelta(seconds=CART_DELAY), person, cart_id))
    visits.extend(_thomas(now))
    visits.extend(_still_shopping(rng, now, shoppers))
    _store(app, site, sorted(visits, key=lambda visit: visit.start), now)
    _deliveries(app, site, rng)
    return site


def _store(app: Flask, site: Site, visits: list[Visit], now: datetime) -> None:
    """Ingest visit by visit; before each, the worker (its clock at the visit's start) emails what is due."""
    clock = [now]
    worker = Worker(app, clock=lambda: clock[0])
    with db.new_session(app) as session:
        stored = session.get_one(Site, site.id)
        for visit in visits:
            clock[0] = visit.start
            worker.advance_due_runs()
            received = max(event.occurred_at for event in visit.events)
            ingest(session, stored, [replace(event, cuid=visit.cuid) for event in visit.events], now=received)
    clock[0] = now
    worker.advance_due_runs()
    with db.new_session(app) as session:  # a contact's dates are its events', not this script's run's
        for model, column, start, end in (
            (Contact, Event.contact_id, "created_at", "modified_at"),
            (Visitor, Event.visitor_id, "first_seen_at", "last_seen_at"),
        ):
            first, last = (
                select(f(Event.occurred_at)).where(column == model.id).scalar_subquery() for f in (func.min, func.max)
            )
            session.execute(update(model).where(model.site_id == site.id).values({start: first, end: last}))
        session.commit()


def _deliveries(app: Flask, site: Site, rng: random.Random) -> None:
    """As if an SMTP server were set: most emails sent a few seconds after they were written, one refused."""
    with db.new_session(app) as session:
        emails = list(
            session.scalars(select(OutboxEmail).where(OutboxEmail.site_id == site.id).order_by(OutboxEmail.id))
        )
        for email in emails:
            email.status, email.attempts = "sent", 1
            email.sent_at = email.created_at + timedelta(seconds=rng.randint(1, 4))
        if len(emails) > 3:
            failed = emails[len(emails) // 2]
            failed.status, failed.attempts, failed.sent_at = "failed", 1, None
            failed.last_error = f"550 5.1.1 <{failed.recipient}>: Recipient address rejected: User unknown"
        session.commit()
