"""Benchmark the dashboard: every page's response time with 100,000 events and 10,000 contacts in one site.

    .venv/bin/python -m bench.dashboard [--events 100000] [--contacts 10000] [--runs 7] [--database-url URL]

Seeds a fresh database in bulk (a month of page views, cart events and identifications, carts in every
state and their emails), signs in with Flask's test client and prints, per page, the median and slowest
of `--runs` requests after one warm-up request.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask
from sqlalchemy import insert, text

from server import create_app, db
from server.dashboard.users import create_user
from server.models import Cart, Contact, Event, OutboxEmail, Visitor
from server.sites import create_site

PASSWORD = "bench-password"
BATCH = 5_000
PAGES = ["Home", "Black shoes", "White shirt", "Canvas bag", "Sun hat", "Cart", "Checkout"]
ITEMS = [("Black shoes", 90), ("White shirt", 100), ("Canvas bag", 35), ("Sun hat", 28)]
FIRST_NAMES = ["Thomas", "Emma", "Lucas", "Léa", "Hugo", "Sofia", "Jonas", "Alice", "Noah", "Inès"]
LAST_NAMES = ["Bianchi", "Martin", "Rossi", "Dubois", "Costa", "Nowak", "García", "Moreau", "Jansen", "Ferrari"]


def cart_data(rng: random.Random) -> dict[str, Any]:
    lines = [(name, price, rng.randint(1, 3)) for name, price in rng.sample(ITEMS, rng.randint(1, 3))]
    items = [{"name": name, "price": price, "quantity": quantity} for name, price, quantity in lines]
    total = sum(price * quantity for _, price, quantity in lines)
    return {"total": total, "currency": "USD", "url": "https://shop.example/cart", "items": items}


def bulk(app: Flask, model: Any, rows: list[dict[str, Any]], ids: bool = True) -> list[int]:
    """Insert rows in batches (small ones when their ids are wanted: RETURNING batches cost more); the ids in order."""
    table, size = model.__table__, BATCH if not ids else 500
    inserted: list[int] = []
    with db.new_session(app) as session:
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            if ids:
                returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
                inserted += session.execute(returning, batch).scalars().all()
            else:
                session.execute(insert(table), batch)
        session.commit()
    return inserted


def seed(app: Flask, contacts: int, events: int, now: datetime) -> dict[str, int]:
    """One site's month; the ids of a busy contact, a site and an email to open."""
    rng = random.Random(1)
    with db.new_session(app) as session:
        site = create_site(session, "bench", ["https://shop.example"], 7200)
    month = 30 * 86400

    def moment() -> datetime:
        return now - timedelta(seconds=rng.random() ** 1.3 * month)

    contact_rows = []
    for n in range(contacts):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = moment()
        contact_rows.append({"site_id": site.id, "email": f"{first}.{last}.{n}@example.com".lower(),
                             "attributes": {"FIRSTNAME": first, "LASTNAME": last}, "created_at": created,
                             "modified_at": created + (now - created) * rng.random()})
    contact_ids = bulk(app, Contact, contact_rows)
    visitor_rows = [{"site_id": site.id, "cuid": uuid.uuid4().hex, "contact_id": contact_ids[n] if n < contacts else None,
                     "first_seen_at": now - timedelta(days=30), "last_seen_at": now} for n in range(contacts + contacts // 2)]
    visitor_ids = bulk(app, Visitor, visitor_rows)
    busy = contact_ids[0]
    event_rows = []
    for n in range(events):
        visitor = 0 if n % 200 == 0 else rng.randrange(len(visitor_ids))  # contact 0 is the busiest: 500 events
        contact = contact_ids[visitor] if visitor < contacts else None
        kind = rng.choices(["page", "track", "identify"], [75, 20, 5])[0]
        row: dict[str, Any] = {"site_id": site.id, "message_id": uuid.uuid4().hex, "kind": kind,
                               "visitor_id": visitor_ids[visitor], "contact_id": contact, "occurred_at": moment(),
                               "received_at": now, "eventdata": None}
        if kind == "page":
            page = rng.choice(PAGES)
            row |= {"name": page, "url": f"https://shop.example/{page.lower().replace(' ', '-')}",
                    "properties": {"ma_title": page, "ma_path": "/" + page.lower().replace(" ", "-"), "ma_referrer": ""}}
        elif kind == "track":
            name = rng.choices(["cart_updated", "order_completed", "cart_deleted", "newsletter_signup"], [6, 2, 1, 1])[0]
            row |= {"name": name, "url": None, "properties": {"email": contact_rows[visitor]["email"] if contact else None},
                    "eventdata": {"id": f"cart:{rng.randint(1, 99999)}", "data": cart_data(rng)}}
        else:
            row |= {"name": "identify", "url": None, "properties": {"FIRSTNAME": rng.choice(FIRST_NAMES)}}
        event_rows.append(row)
    bulk(app, Event, event_rows, ids=False)

    cart_rows = []
    for n in range(contacts // 3):
        updated = moment()
        state = rng.choices(["open", "emailed", "closed"], [2, 3, 5])[0]
        emailed = updated + timedelta(hours=2) if state == "emailed" or (state == "closed" and rng.random() < 0.4) else None
        reason = rng.choice(["ordered", "deleted", "empty"]) if state == "closed" else None
        cart_rows.append({"site_id": site.id, "owner": f"contact:{contact_ids[n]}", "cart_key": "cart:1",
                          "contact_id": contact_ids[n], "state": state, "snapshot": cart_data(rng), "version": 1,
                          "cycle": 1, "resets": 0, "updated_at": updated, "deadline_at": updated + timedelta(hours=2),
                          "due_at": updated + timedelta(hours=2) if state == "open" else None,
                          "emailed_at": emailed, "closed_reason": reason})
    cart_ids = bulk(app, Cart, cart_rows)
    email_rows = [
        {"site_id": site.id, "cart_id": cart_id, "contact_id": row["contact_id"], "dedupe_key": f"cart-{cart_id}-cycle-1",
         "message_id": f"<{cart_id}@bench>", "sender": "shop@localhost", "recipient": f"{row['contact_id']}@example.com",
         "subject": "You left something in your cart", "html": "<p>Your cart</p>" * 50, "text": "Your cart",
         "status": rng.choices(["sent", "failed", "held"], [90, 3, 7])[0], "attempts": 1, "created_at": row["emailed_at"]}
        for cart_id, row in zip(cart_ids, cart_rows, strict=True) if row["emailed_at"] is not None
    ]
    email_ids = bulk(app, OutboxEmail, email_rows)
    with db.new_session(app) as session:
        create_user(session, "bench@example.com", PASSWORD)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE"))  # as autovacuum would after a bulk load: the planner's statistics
            session.commit()
    return {"site": site.id, "contact": busy, "email": email_ids[0], "carts": len(cart_ids), "emails": len(email_ids)}


def signed_in_client(app: Flask) -> Any:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post("/login", data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 302, answer.status_code
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = create_app({"DATABASE_URL": url, "WORKER": "external"})
    started = time.perf_counter()
    ids = seed(app, args.contacts, args.events, datetime.now(timezone.utc))
    seeded = time.perf_counter() - started
    client = signed_in_client(app)
    site = ids["site"]
    pages = [
        ("/", "overview"),
        ("/contacts", "contacts, page 1"),
        (f"/contacts?page={args.contacts // 50}", "contacts, last page"),
        ("/contacts?q=bianchi", "contacts, search a name"),
        ("/contacts?q=no-such-contact", "contacts, search, no match"),
        (f"/contacts/{ids['contact']}", "contact with 500 events"),
        ("/automation", "automation, all runs"),
        ("/automation?status=failed", "automation, failed runs"),
        ("/automation?status=cancelled&page=10", "automation, cancelled, page 10"),
        ("/outbox", "outbox"),
        ("/outbox?status=failed", "outbox, failed"),
        (f"/outbox/{ids['email']}", "one email"),
        ("/live", "live events"),
        (f"/live/events.json?site={site}&after=0", "live feed (JSON)"),
        ("/sites", "sites"),
        (f"/sites/{site}", "one site"),
    ]
    database = url.split(":")[0]
    print(f"Seeded {args.events:,} events, {args.contacts:,} contacts, {ids['carts']:,} carts, "
          f"{ids['emails']:,} emails in {seeded:.1f} s ({database}).\n")
    print(f"| page ({database}) | path | median | slowest |")
    print("|---|---|---:|---:|")
    for path, label in pages:
        assert client.get(path).status_code == 200, path
        timings = []
        for _ in range(args.runs):
            begun = time.perf_counter()
            answer = client.get(path)
            timings.append((time.perf_counter() - begun) * 1000)
            assert answer.status_code == 200, path
        print(f"| {label} | `{path}` | {statistics.median(timings):.1f} ms | {max(timings):.1f} ms |")


if __name__ == "__main__":
    main()
