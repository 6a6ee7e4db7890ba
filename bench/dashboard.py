"""Benchmark the dashboard: every page's response time with 1,000,000 events, 100,000 contacts and 1,000,000
workflow runs in one site.

    .venv/bin/python -m bench.dashboard [--events 1000000] [--contacts EVENTS/10] [--workflow-runs EVENTS]
        [--months 1] [--runs 7] [--pages overview,contact] [--databases sqlite,postgresql]

On SQLite, and on PostgreSQL too when SIBYL_BENCH_POSTGRES_URL names a server, each on a fresh database
(`--databases` picks some of them). Seeds it in bulk (`--months` of page views, cart events and identifications
in time order, carts in every state and their emails, then two months of runs of the three-email cart series
with their emails and step counts: SQLAlchemy Core executemany in large chunks on SQLite, COPY on PostgreSQL),
signs in with Flask's test client and times, per page, the median and slowest of `--runs` requests after one
warm-up request. `--pages` times only the pages whose label or path contains one of its words.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Column, Table, func, insert, select, text
from sqlalchemy.orm import Session

from bench.databases import fresh_database, kinds
from bench.table import Row, render
from server import create_app, db
from server.automation.definitions import PRESETS
from server.automation.library import import_workflow
from server.automation.states import ExitReason, RunState
from server.dashboard.users import create_user
from server.models import Cart, Contact, Event, OutboxEmail, Run, Site, StepCount, Visitor
from server.sites import create_site

PASSWORD = "bench-password"
CHUNK = 50_000  # rows generated and inserted at a time
PAGE_GOAL_MS = 1_000  # no page budget is set; a second is the usual limit for a page to feel immediate
PAGES = ["Home", "Black shoes", "White shirt", "Canvas bag", "Sun hat", "Cart", "Checkout"]
ITEMS = [("Black shoes", 90), ("White shirt", 100), ("Canvas bag", 35), ("Sun hat", 28)]
FIRST_NAMES = ["Thomas", "Emma", "Lucas", "Léa", "Hugo", "Sofia", "Jonas", "Alice", "Noah", "Inès"]
LAST_NAMES = ["Bianchi", "Martin", "Rossi", "Dubois", "Costa", "Nowak", "García", "Moreau", "Jansen", "Ferrari"]


def cart_data(rng: random.Random) -> dict[str, Any]:
    lines = [(name, price, rng.randint(1, 3)) for name, price in rng.sample(ITEMS, rng.randint(1, 3))]
    items = [{"name": name, "price": price, "quantity": quantity} for name, price, quantity in lines]
    total = sum(price * quantity for _, price, quantity in lines)
    return {"total": total, "currency": "USD", "url": "https://shop.example/cart", "items": items}


def python_default(column: Column[Any]) -> Any:
    default: Any = column.default
    return default.arg(None) if default.is_callable else default.arg


def copy_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY, as an INSERT would write the rows: the columns' Python-side defaults filled in, each
    value made by the column's own SQLAlchemy type (naive UTC times, JSON text)."""
    dialect = session.get_bind().dialect
    defaults = {
        column.name: python_default(column)
        for column in table.c
        if column.default is not None and column.name not in rows[0]
    }
    columns = [*rows[0], *defaults]
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]  # checked out: set
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            values = row | defaults
            copy.write_row(
                [
                    process(values[name]) if process else values[name]
                    for name, process in zip(columns, processors, strict=True)
                ]
            )


def bulk(app: Flask, model: Any, chunks: Iterable[list[dict[str, Any]]]) -> list[int]:
    """Insert the rows: COPY on PostgreSQL, executemany on SQLite, a chunk at a time; the new ids in order.

    Nothing else writes to the fresh database, so the ids are the ones above the table's highest before."""
    table = model.__table__
    with db.new_session(app) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        if not postgres:
            session.execute(text("PRAGMA cache_size = -262144"))  # 256 MB: random message ids touch the whole index
        before = session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
        for chunk in chunks:
            if postgres:
                copy_rows(session, table, chunk)
            else:
                session.execute(insert(table), chunk)
        session.commit()
        return list(session.scalars(select(table.c.id).where(table.c.id > before).order_by(table.c.id)))


def settle(app: Flask) -> None:
    """What autovacuum (or SQLite's optimize) does after a bulk load: statistics, and on PostgreSQL the visibility
    map too (autovacuum vacuums a table after many inserts), which lets an index-only scan skip the table."""
    engine = app.extensions["sibyl.engine"]
    postgres = engine.dialect.name == "postgresql"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))


def chunked(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    return (rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK))


def seed(app: Flask, contacts: int, events: int, now: datetime, months: int = 1) -> dict[str, int]:
    """One site's `months` of traffic; the ids of a busy contact, a site and an email to open."""
    rng = random.Random(1)
    with db.new_session(app) as session:
        site = create_site(session, "bench", ["https://shop.example"], 7200)
    span = months * 30 * 86400

    def moment() -> datetime:
        return now - timedelta(seconds=rng.random() ** 1.3 * span)

    contact_rows = []
    for n in range(contacts):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = moment()
        contact_rows.append(
            {
                "site_id": site.id,
                "email": f"{first}.{last}.{n}@example.com".lower(),
                "attributes": {"FIRSTNAME": first, "LASTNAME": last},
                "created_at": created,
                "modified_at": created + (now - created) * rng.random(),
            }
        )
    contact_ids = bulk(app, Contact, chunked(contact_rows))
    visitor_rows = [
        {
            "site_id": site.id,
            "cuid": f"{rng.getrandbits(128):032x}",
            "contact_id": contact_ids[n] if n < contacts else None,
            "first_seen_at": now - timedelta(seconds=span),
            "last_seen_at": now,
        }
        for n in range(contacts + contacts // 2)
    ]
    visitor_ids = bulk(app, Visitor, chunked(visitor_rows))
    times = sorted(moment() for _ in range(events))  # stored in the order they arrive

    def event(n: int) -> dict[str, Any]:
        visitor = 0 if n % 200 == 0 else rng.randrange(len(visitor_ids))  # contact 0 is the busiest: 1 event in 200
        contact = contact_ids[visitor] if visitor < contacts else None
        kind = rng.choices(["page", "track", "identify"], [75, 20, 5])[0]
        row: dict[str, Any] = {
            "site_id": site.id,
            "message_id": f"{rng.getrandbits(128):032x}",
            "kind": kind,
            "visitor_id": visitor_ids[visitor],
            "contact_id": contact,
            "occurred_at": times[n],
            "received_at": times[n],
            "eventdata": None,
        }
        if kind == "page":
            page = rng.choice(PAGES)
            row |= {
                "name": page,
                "url": f"https://shop.example/{page.lower().replace(' ', '-')}",
                "properties": {"ma_title": page, "ma_path": "/" + page.lower().replace(" ", "-"), "ma_referrer": ""},
            }
        elif kind == "track":
            name = rng.choices(["cart_updated", "order_completed", "cart_deleted", "newsletter_signup"], [6, 2, 1, 1])[
                0
            ]
            row |= {
                "name": name,
                "url": None,
                "properties": {"email": contact_rows[visitor]["email"] if contact else None},
                "eventdata": {"id": f"cart:{rng.randint(1, 99999)}", "data": cart_data(rng)},
            }
        else:
            row |= {"name": "identify", "url": None, "properties": {"FIRSTNAME": rng.choice(FIRST_NAMES)}}
        return row

    bulk(
        app, Event, ([event(n) for n in range(start, min(start + CHUNK, events))] for start in range(0, events, CHUNK))
    )

    cart_rows = []
    for n in range(contacts // 3):
        updated = moment()
        state = rng.choices(["open", "emailed", "closed"], [2, 3, 5])[0]
        emailed_too = state == "emailed" or (state == "closed" and rng.random() < 0.4)
        emailed = updated + timedelta(hours=2) if emailed_too else None
        reason = rng.choice(["ordered", "deleted", "empty"]) if state == "closed" else None
        cart_rows.append(
            {
                "site_id": site.id,
                "owner": f"contact:{contact_ids[n]}",
                "cart_key": "cart:1",
                "contact_id": contact_ids[n],
                "state": state,
                "snapshot": cart_data(rng),
                "version": 1,
                "cycle": 1,
                "resets": 0,
                "updated_at": updated,
                "received_at": updated,
                "deadline_at": updated + timedelta(hours=2),
                "due_at": updated + timedelta(hours=2) if state == "open" else None,
                "emailed_at": emailed,
                "closed_reason": reason,
            }
        )
    cart_ids = bulk(app, Cart, chunked(cart_rows))
    email_rows = [
        {
            "site_id": site.id,
            "cart_id": cart_id,
            "contact_id": row["contact_id"],
            "dedupe_key": f"cart-{cart_id}-cycle-1",
            "message_id": f"<{cart_id}@bench>",
            "sender": "shop@localhost",
            "recipient": f"{row['contact_id']}@example.com",
            "subject": "You left something in your cart",
            "html": "<p>Your cart</p>" * 50,
            "text": "Your cart",
            "status": rng.choices(["sent", "failed", "held"], [90, 3, 7])[0],
            "attempts": 1,
            "created_at": row["emailed_at"],
        }
        for cart_id, row in zip(cart_ids, cart_rows, strict=True)
        if row["emailed_at"] is not None
    ]
    email_ids = bulk(app, OutboxEmail, chunked(email_rows))
    with db.new_session(app) as session:
        create_user(session, "bench@example.com", PASSWORD)
        session.commit()
    settle(app)
    return {
        "site": site.id,
        "contact": contact_ids[0],
        "email": email_ids[0],
        "carts": len(cart_ids),
        "emails": len(email_ids),
    }


# The cart series preset (three emails, after 1h, 24h and 48h more) with a tenth of its runs held out, as a shop
# measuring its lift would run it; its waits, each with the email step that follows and when the wait begins and
# ends after the run's start.
SERIES_DOCUMENT = json.loads((PRESETS / "cart-series.json").read_text()) | {"holdout": 0.1}
SERIES = [
    ("steps[0]", "steps[1]", timedelta(hours=0), timedelta(hours=1)),
    ("steps[2]", "steps[3]", timedelta(hours=1), timedelta(hours=25)),
    ("steps[4]", "steps[5]", timedelta(hours=25), timedelta(hours=73)),
]
EMAILED_AFTER = {email: ends for _, email, _, ends in SERIES}  # when each email step is written, after the start
RUNS_SPAN = timedelta(days=60)  # runs start at an even rate over the last two months
GOAL = timedelta(days=7)  # the preset's goal: an order within 7 days of the start converts the run
ANONYMOUS = 0.03  # runs of a visitor never identified: they wait at the first email for an address
ORDERS = {False: 0.05, True: 0.035}  # an order during each wait, sent and held out: exits on it and converts
LEAVES = 0.03  # a cart deleted or emptied during each wait: the run exits
REFUSED = 0.04  # a sent run's email withheld (no address, unsubscribed, emailed recently)
LATE_ORDERS = {False: 0.02, True: 0.015}  # an order after the last email, within the goal's 7 days

Tally = defaultdict[tuple[str, bool], defaultdict[str, float]]


def series_run(rng: random.Random, started: datetime, now: datetime, holdout: bool, known: bool) -> dict[str, Any]:
    """Where a run of the series started at `started` is at `now`: exited by an order or a closed cart during a
    wait, waiting at a wait (an anonymous run at the first email, for an address), or done after its last email;
    converted when its contact ordered within the goal. Its columns, with `emailed` and `withheld` paths added."""
    age = now - started
    run: dict[str, Any] = {"emailed": [], "withheld": [], "converted_at": None, "revenue": None}
    history: list[str] = []
    for wait, email, begins, ends in SERIES:
        history.append(wait)
        draw, at = rng.random(), begins + (ends - begins) * rng.random()
        if draw < ORDERS[holdout] + LEAVES and at <= age:
            ordered = draw < ORDERS[holdout]
            reason = ExitReason.EVENT if ordered or rng.random() < 0.5 else ExitReason.CART_CLOSED
            ended = started + at
            if ordered and known:
                run |= {"converted_at": ended}
            exited = {"state": RunState.EXITED, "step": wait, "cursor": None, "due_at": None, "history": history}
            return run | exited | {"exit_reason": reason, "updated_at": ended, "ended_at": ended}
        if age < ends or not known:
            due = started + ends if known else None  # an anonymous run waits at the email until it has an address
            waiting = {"state": RunState.WAITING, "step": wait, "cursor": email, "due_at": due, "history": history}
            return run | waiting | {"exit_reason": None, "updated_at": started + begins, "ended_at": None}
        history.append(email)
        run["emailed" if not holdout and rng.random() >= REFUSED else "withheld"].append(email)
    ended = started + SERIES[-1][3]
    late = ended + (GOAL - SERIES[-1][3]) * rng.random()
    if rng.random() < LATE_ORDERS[holdout] and late <= now:
        run |= {"converted_at": late}
    done = {"state": RunState.DONE, "step": SERIES[-1][1], "cursor": None, "due_at": None, "history": history}
    return run | done | {"exit_reason": None, "updated_at": ended, "ended_at": ended}


def count_run(tally: Tally, run: dict[str, Any]) -> None:
    """Add the run to the step counts as the worker and ingest would have: its start, each step it entered, its
    emails sent and withheld, and its conversion on the workflow and each step it passed."""
    holdout = run["holdout"]
    for path in ["", *run["history"]]:
        tally[path, holdout]["entered"] += 1
    for path in run["emailed"]:
        tally[path, holdout]["emailed"] += 1
    for path in run["withheld"]:
        tally[path, holdout]["withheld"] += 1
    if run["converted_at"] is not None:
        for path in ["", *run["history"]]:
            tally[path, holdout]["converted"] += 1
            tally[path, holdout]["revenue"] += run["revenue"]


def run_emails(
    site_id: int, run_ids: list[int], emailed: list[tuple[datetime, int | None, list[str]]]
) -> Iterator[list[dict[str, Any]]]:
    """The outbox rows of the runs' emails (each run's start, contact and email steps), each written when its step
    was due, a chunk at a time."""
    chunk: list[dict[str, Any]] = []
    for run_id, (started, contact, paths) in zip(run_ids, emailed, strict=True):
        for path in paths:
            key = f"run-{run_id}-1-{path}"
            chunk.append(
                {
                    "site_id": site_id,
                    "run_id": run_id,
                    "step": path,
                    "contact_id": contact,
                    "dedupe_key": key,
                    "message_id": f"<{key}@bench>",
                    "sender": "shop@localhost",
                    "recipient": f"{contact}@example.com",
                    "subject": "You left something in your cart",
                    "html": "<p>Your cart</p>" * 50,
                    "text": "Your cart",
                    "status": "sent",
                    "attempts": 1,
                    "created_at": started + EMAILED_AFTER[path],
                }
            )
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seed_workflow(app: Flask, site_id: int, count: int, now: datetime) -> dict[str, int]:
    """The cart series with `count` runs of the site's contacts (a few of anonymous visitors) over two months, in
    the order they started, their emails, and the step counts they add up to; the workflow's id, a run in the
    middle and how many runs wait, are held out and converted, and how many emails they were sent."""
    rng = random.Random(2)
    with db.new_session(app) as session:
        site = session.get_one(Site, site_id)
        workflow_id = import_workflow(session, site, SERIES_DOCUMENT, now - RUNS_SPAN).definition.id
        session.commit()
        contact_ids = list(session.scalars(select(Contact.id).where(Contact.site_id == site_id)))
        anonymous = list(session.scalars(select(Visitor.id).where(Visitor.contact_id.is_(None))))
    carts = [cart_data(rng) for _ in range(64)]
    starts = sorted(now - RUNS_SPAN * rng.random() for _ in range(count))
    tally: Tally = defaultdict(lambda: defaultdict(float))
    emailed: list[tuple[datetime, int | None, list[str]]] = []

    def row(started: datetime) -> dict[str, Any]:
        visitor = rng.choice(anonymous) if anonymous and rng.random() < ANONYMOUS else None
        contact = rng.choice(contact_ids) if visitor is None else None
        holdout = rng.random() < SERIES_DOCUMENT["holdout"]
        cart = rng.choice(carts)
        run = series_run(rng, started, now, holdout, contact is not None) | {"holdout": holdout, "data": cart}
        if run["converted_at"] is not None:
            run["revenue"] = float(cart["total"])
        count_run(tally, run)
        emailed.append((started, contact, run.pop("emailed")))
        del run["withheld"]
        return run | {
            "site_id": site_id,
            "workflow_id": workflow_id,
            "owner": f"contact:{contact}" if contact is not None else f"visitor:{visitor}",
            "key": f"cart:{len(emailed)}",  # a cart of its own: no two runs open for one cart
            "contact_id": contact,
            "visitor_id": visitor,
            "waiting_for": None,
            "lease_until": None,
            "version": 1,
            "cycle": 1,
            "properties": {},
            "started_at": started,
        }

    run_ids = bulk(
        app, Run, ([row(started) for started in starts[part : part + CHUNK]] for part in range(0, count, CHUNK))
    )
    email_ids = bulk(app, OutboxEmail, run_emails(site_id, run_ids, emailed))
    with db.new_session(app) as session:
        session.execute(
            insert(StepCount),
            [
                {"workflow_id": workflow_id, "path": path, "holdout": holdout, **values}
                for (path, holdout), values in sorted(tally.items())
            ],
        )
        session.commit()
    settle(app)
    with db.new_session(app) as session:
        waiting_runs = select(func.count()).where(Run.workflow_id == workflow_id, Run.state == RunState.WAITING)
        waiting = session.scalar(waiting_runs) or 0
    return {
        "workflow": workflow_id,
        "middle_run": run_ids[len(run_ids) // 2],
        "runs": len(run_ids),
        "waiting": waiting,
        "held_out": int(tally["", True]["entered"]),
        "converted": int(tally["", False]["converted"] + tally["", True]["converted"]),
        "run_emails": len(email_ids),
    }


def signed_in_client(app: Flask) -> Any:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post(
        "/login", data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 302, answer.status_code
    return client


def pages(ids: dict[str, int], contacts: int, events: int) -> list[tuple[str, str]]:
    site = ids["site"]
    return [
        ("/", "overview"),
        ("/contacts", "contacts, page 1"),
        (f"/contacts?page={max(1, contacts // 50)}", "contacts, last page"),
        ("/contacts?q=bianchi", "contacts, search a name"),
        ("/contacts?q=no-such-contact", "contacts, search, no match"),
        (f"/contacts/{ids['contact']}", f"a contact with ~{(events + 199) // 200:,} events"),
        ("/automation", "automation, all runs"),
        ("/automation?status=failed", "automation, failed runs"),
        ("/automation?status=cancelled&page=10", "automation, cancelled, page 10"),
        (f"/workflows?site={site}", "workflows"),
        (f"/workflows/{ids['workflow']}", f"a workflow with {ids['runs']:,} runs"),
        (f"/workflows/{ids['workflow']}?before={ids['middle_run']}", "its runs older than the middle one"),
        ("/outbox", "outbox"),
        ("/outbox?status=failed", "outbox, failed"),
        (f"/outbox/{ids['email']}", "one email"),
        ("/live", "live events"),
        (f"/live/events.json?site={site}&after=0", "live feed (JSON)"),
        ("/sites", "sites"),
        (f"/sites/{site}", "one site"),
    ]


def chosen(page: tuple[str, str], words: list[str] | None) -> bool:
    return words is None or any(word in page[0] or word in page[1] for word in words)


def seeded(
    app: Flask, events: int, contacts: int, workflow_runs: int, months: int, area: str
) -> tuple[dict[str, int], list[Row]]:
    """Seed the app's empty database; the ids of what the pages open, and the rows saying how long it took."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    ids = seed(app, contacts, events, now, months)
    seeded = time.perf_counter()
    ids |= seed_workflow(app, ids["site"], workflow_runs, now)
    return ids, [
        Row(
            area,
            f"seed {events:,} events over {months} month{'s' if months > 1 else ''}, {contacts:,} contacts, "
            f"{ids['carts']:,} carts, {ids['emails']:,} emails",
            f"{seeded - started:.0f} s",
        ),
        Row(
            area,
            f"seed {ids['runs']:,} runs of one workflow ({ids['waiting']:,} waiting, {ids['held_out']:,} held out, "
            f"{ids['converted']:,} converted) and their {ids['run_emails']:,} emails",
            f"{time.perf_counter() - seeded:.0f} s",
        ),
    ]


def timed(
    app: Flask, ids: dict[str, int], area: str, events: int, contacts: int, runs: int, words: list[str] | None
) -> list[Row]:
    """Each chosen page's median and slowest of `runs` requests after a warm-up, signed in."""
    client = signed_in_client(app)
    result = []
    for path, label in (page for page in pages(ids, contacts, events) if chosen(page, words)):
        assert client.get(path).status_code == 200, path
        timings = []
        for _ in range(runs):
            begun = time.perf_counter()
            answer = client.get(path)
            timings.append((time.perf_counter() - begun) * 1000)
            assert answer.status_code == 200, path
        median = statistics.median(timings)
        result.append(
            Row(
                area,
                f"{label} `{path}`",
                f"{median:,.0f} ms (slowest {max(timings):,.0f})",
                f"≤ {PAGE_GOAL_MS:,} ms",
                median <= PAGE_GOAL_MS,
            )
        )
    return result


def measure(
    kind: str, events: int, contacts: int, workflow_runs: int, months: int, runs: int, words: list[str] | None = None
) -> list[Row]:
    area = f"dashboard ({kind})"
    with fresh_database(kind) as url:
        app = create_app({"DATABASE_URL": url, "WORKER": "external"})
        ids, result = seeded(app, events, contacts, workflow_runs, months, area)
        result += timed(app, ids, area, events, contacts, runs, words)
        app.extensions["sibyl.engine"].dispose()  # before the database is dropped
    return result


def rows(
    events: int = 1_000_000,
    contacts: int | None = None,
    runs: int = 7,
    words: list[str] | None = None,
    workflow_runs: int | None = None,
    months: int = 1,
    databases: list[str] | None = None,
) -> list[Row]:
    """Every page (or those `words` choose) on SQLite, then on PostgreSQL when SIBYL_BENCH_POSTGRES_URL names one
    (those of them whose name starts with one of `databases`, when given)."""
    contacts = contacts if contacts is not None else max(events // 10, 100)
    workflow_runs = workflow_runs if workflow_runs is not None else events
    chosen_kinds = [
        kind for kind in kinds() if databases is None or any(kind.lower().startswith(name) for name in databases)
    ]
    return [row for kind in chosen_kinds for row in measure(kind, events, contacts, workflow_runs, months, runs, words)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, help="default: a tenth of --events")
    parser.add_argument("--workflow-runs", type=int, help="runs of the one workflow; default: as many as --events")
    parser.add_argument("--months", type=int, default=1, help="how many months the events are spread over")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pages", help="comma-separated words: time only the pages whose label or path has one")
    parser.add_argument("--databases", help="comma-separated: sqlite, postgresql (default: every one available)")
    args = parser.parse_args()
    words = [word.strip() for word in args.pages.split(",")] if args.pages else None
    databases = [name.strip().lower() for name in args.databases.split(",")] if args.databases else None
    print(render(rows(args.events, args.contacts, args.runs, words, args.workflow_runs, args.months, databases)))


if __name__ == "__main__":
    main()
