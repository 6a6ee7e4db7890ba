"""A contact's data: erased entirely (v3 DELETE, dashboard, CLI), exported whole, and IP addresses kept if asked."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import ColumnElement, func, or_, select

from server import create_app, db
from server.automation.worker import Worker
from server.ingest.ip_addresses import stored_ip
from server.models import Base, Cart, Contact, Event, OutboxEmail, Site, Visitor

from .support.carts import DELAY, cart_updated
from .support.cli import cli
from .support.clock import Clock
from .support.collect import send
from .support.servers import Process, start_receiver
from .support.store import Store

ANNA = "anna@example.com"


def page_view(**fields: object) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "type": "page", "url": "https://shop.example/", **fields}


def shopper(receiver: Process, site: Site, email: str, clock: Clock, store: Store) -> str:
    """An anonymous visit, an identification, a cart left long enough to be emailed: every kind of row."""
    cuid = uuid.uuid4().hex
    send(receiver, site, page_view(), cuid=cuid)
    send(
        receiver,
        site,
        {"id": str(uuid.uuid4()), "type": "identify", "email": email, "properties": {"FIRSTNAME": "Anna"}},
        cuid=cuid,
    )
    send(receiver, site, cart_updated(clock.now, email=None), cuid=cuid)
    store.receive_carts_at(site, clock.now - DELAY * 2)
    return cuid


def rows_of(store: Store, site: Site, email: str, cuid: str) -> dict[str, int]:
    """How many rows of each table still concern the contact or its browser."""
    with db.new_session(store.app) as session:
        contact_ids = select(Contact.id).where(Contact.site_id == site.id, Contact.email == email).scalar_subquery()
        visitor_ids = select(Visitor.id).where(Visitor.site_id == site.id, Visitor.cuid == cuid).scalar_subquery()

        def count(model: type[Base], *where: ColumnElement[bool]) -> int:
            return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

        return {
            "contacts": count(Contact, Contact.id.in_(contact_ids)),
            "visitors": count(Visitor, Visitor.id.in_(visitor_ids)),
            "events": count(Event, or_(Event.contact_id.in_(contact_ids), Event.visitor_id.in_(visitor_ids))),
            "carts": count(Cart, or_(Cart.contact_id.in_(contact_ids), Cart.visitor_id.in_(visitor_ids))),
            "emails": count(OutboxEmail, OutboxEmail.contact_id.in_(contact_ids)),
        }


@pytest.fixture
def queued(store: Store, site: Site) -> Worker:
    """A worker without SMTP: recovery emails stay in the outbox."""
    store.leave_only_carts_of(site)
    app = create_app({"DATABASE_URL": store.app.config["DATABASE_URL"], "WORKER": "external", "SMTP_URL": None})
    return Worker(app, Clock())


def test_deleting_a_contact_through_v3_leaves_no_row_behind(
    receiver: Process, site: Site, store: Store, queued: Worker
) -> None:
    clock = Clock()
    anna = shopper(receiver, site, ANNA, clock, store)
    thomas = shopper(receiver, site, "thomas@example.com", clock, store)
    queued.run_pass()
    before = rows_of(store, site, ANNA, anna)
    assert before == {"contacts": 1, "visitors": 1, "events": 3, "carts": 1, "emails": 1}

    answer = requests.delete(f"{receiver.url}/v3/contacts/{ANNA}", headers={"api-key": site.api_key}, timeout=5)
    assert answer.status_code == 204
    assert rows_of(store, site, ANNA, anna) == dict.fromkeys(before, 0)
    assert rows_of(store, site, "thomas@example.com", thomas) == before  # nobody else's data went with it
    answer = requests.get(f"{receiver.url}/v3/contacts/{ANNA}", headers={"api-key": site.api_key}, timeout=5)
    assert answer.status_code == 404


def test_the_cli_exports_everything_about_a_contact_then_erases_it(
    receiver: Process, site: Site, store: Store, queued: Worker, app: Flask
) -> None:
    anna = shopper(receiver, site, ANNA, Clock(), store)
    queued.run_pass()
    exported = cli(app, "contacts", "export", site.name, ANNA)
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.stdout)
    assert document["contact"]["email"] == ANNA and document["contact"]["attributes"] == {"FIRSTNAME": "Anna"}
    assert [browser["cookie"] for browser in document["browsers"]] == [anna]
    # The anonymous page view too.
    assert sorted(event["kind"] for event in document["events"]) == ["identify", "page", "track"]
    assert document["carts"][0]["snapshot"]["items"] and document["carts"][0]["state"] == "emailed"
    assert [email["recipient"] for email in document["emails"]] == [ANNA]

    refused = cli(app, "contacts", "delete", site.name, ANNA, stdin="n\n")
    assert refused.exit_code != 0 and rows_of(store, site, ANNA, anna)["contacts"] == 1
    deleted = cli(app, "contacts", "delete", site.name, ANNA, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert set(rows_of(store, site, ANNA, anna).values()) == {0}


def test_ip_addresses_are_not_stored_by_default(receiver: Process, site: Site, store: Store) -> None:
    send(receiver, site, page_view())
    assert [event.ip for event in store.events(site)] == [None]


@pytest.fixture
def truncating_receiver(built_tracker: Path, database_url: str) -> Iterator[Process]:
    process = start_receiver(database_url, built_tracker, worker="external", store_ip="truncated")
    yield process
    process.stop()


def test_with_the_setting_ip_addresses_are_stored_truncated(
    truncating_receiver: Process, site: Site, store: Store
) -> None:
    send(truncating_receiver, site, page_view())
    assert [event.ip for event in store.events(site)] == ["127.0.0.0"]


@pytest.mark.parametrize(
    ("address", "mode", "kept"),
    [
        ("203.0.113.77", "off", None),
        ("203.0.113.77", "truncated", "203.0.113.0"),
        ("203.0.113.77", "full", "203.0.113.77"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "truncated", "2001:db8:85a3::"),
        ("not an address", "full", None),
    ],
)
def test_stored_ip(address: str, mode: str, kept: str | None) -> None:
    assert stored_ip(address, mode) == kept


def test_a_shared_browser_never_mixes_two_contacts_data_in_export_or_erasure(
    receiver: Process, site: Site, store: Store, queued: Worker, app: Flask
) -> None:
    clock = Clock()
    computer = shopper(receiver, site, ANNA, clock, store)  # Anna's visit, identification and cart
    bob = "bob@example.com"
    send(receiver, site, {"id": str(uuid.uuid4()), "type": "identify", "email": bob}, cuid=computer)  # then Bob's
    send(receiver, site, page_view(url="https://shop.example/bob"), cuid=computer)
    send(receiver, site, cart_updated(clock.now, email=None, cart="cart:bob"), cuid=computer)
    store.receive_carts_at(site, clock.now - DELAY * 2, "cart:bob")
    queued.run_pass()
    anna_before = rows_of(store, site, ANNA, "no such browser")
    assert anna_before == {"contacts": 1, "visitors": 0, "events": 3, "carts": 1, "emails": 1}
    with db.new_session(store.app) as session:
        anna_events = sorted(
            (e.message_id, e.visitor_id)
            for e in session.scalars(
                select(Event).join(Contact).where(Contact.site_id == site.id, Contact.email == ANNA)
            )
        )

    exported = cli(app, "contacts", "export", site.name, bob)
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.stdout)
    assert [browser["cookie"] for browser in document["browsers"]] == [computer]
    assert sorted(event["kind"] for event in document["events"]) == ["identify", "page", "track"]
    assert "https://shop.example/bob" in [event["url"] for event in document["events"]]
    assert [cart["cart_id"] for cart in document["carts"]] == ["cart:bob"]

    deleted = cli(app, "contacts", "delete", site.name, bob, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert rows_of(store, site, bob, "no such browser") == dict.fromkeys(anna_before, 0)
    assert rows_of(store, site, ANNA, "no such browser") == anna_before  # Anna's rows, all of them
    with db.new_session(store.app) as session:
        assert (
            sorted(
                (e.message_id, e.visitor_id)
                for e in session.scalars(
                    select(Event).join(Contact).where(Contact.site_id == site.id, Contact.email == ANNA)
                )
            )
            == anna_events
        )  # still on the browser she used
        browser = session.scalar(select(Visitor).where(Visitor.site_id == site.id, Visitor.cuid == computer))
        assert browser is not None and browser.contact_id is None  # kept for Anna's events, no longer Bob's
