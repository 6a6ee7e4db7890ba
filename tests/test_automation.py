"""The abandoned-cart workflow: the receiver stores events, the real worker emails a real SMTP server."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import text

from server import create_app, db
from server.automation.worker import Worker
from server.models import Site

from .support.carts import DELAY, THOMAS, cart_updated, carts, outbox, track
from .support.cli import set_workflow
from .support.clicks import link_targets
from .support.clock import Clock
from .support.collect import send
from .support.databases import sqlite_at
from .support.guide import GUIDE_CART
from .support.servers import ROOT, Process
from .support.smtp_sink import SmtpSink, body
from .support.store import Store
from .support.waiting import wait_until

SMTP_CONNECTIONS = 4
WORKER_START_SECONDS = 60  # a worker process imports the app (Django's template engine, lxml, Babel) first


@pytest.fixture
def worker(store: Store, site: Site, smtp_sink: SmtpSink, clock: Clock) -> Worker:
    store.leave_only_carts_of(site)
    app = create_app(
        {
            "DATABASE_URL": store.app.config["DATABASE_URL"],
            "SMTP_URL": smtp_sink.url,
            "WORKER": "external",
            "SMTP_RETRY": 60.0,
        }
    )
    return Worker(app, clock)


def test_the_guides_cart_is_emailed_once_after_the_delay(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    send(receiver, site, cart_updated(clock.now, FIRSTNAME="Thomas", LASTNAME="Bianchi"))
    (clock.now,) = store.received(site)
    worker.run_pass()
    clock.advance(DELAY - timedelta(seconds=1))
    worker.run_pass()
    assert smtp_sink.messages == []
    clock.advance(timedelta(seconds=2))
    worker.run_pass()
    worker.run_pass()
    (message,) = smtp_sink.wait_for(1)
    assert message["To"] == THOMAS
    html, text = body(message, "html"), body(message, "plain")
    for part in (html, text):
        assert "Thomas" in part
        assert "Black shoes" in part and "White shirt" in part
        assert "180.00" in part and "100.00" in part
        assert "$280.00" in part
        assert "https://shop.example/cart" in link_targets(part, store.app.config["SECRET_KEY"])  # counted
    (row,) = outbox(store, site)
    assert (row.status, row.attempts, row.recipient) == ("sent", 1, THOMAS)
    assert message["Message-ID"] == row.message_id


def test_an_update_pushes_the_deadline_back(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    send(receiver, site, cart_updated(clock.now, data={**GUIDE_CART, "total": 1}))
    send(receiver, site, cart_updated(clock.now))
    first, second = store.received(site)
    clock.now = first + DELAY  # the first update's deadline has come, the second's not
    worker.run_pass()
    assert outbox(store, site) == []
    clock.now = second + DELAY
    worker.run_pass()
    (message,) = smtp_sink.wait_for(1)
    assert "$280.00" in body(message, "plain")


def v3_event(receiver: Process, site: Site, name: str, event_date: datetime | None = None, **properties: Any) -> None:
    """A custom event for Thomas from the shop's own server (Brevo's v3 API)."""
    event: dict[str, Any] = {"event_name": name, "identifiers": {"email_id": THOMAS}, "event_properties": properties}
    if event_date is not None:
        event["event_date"] = event_date.isoformat()
    response = requests.post(f"{receiver.url}/v3/events", json=event, headers={"api-key": site.api_key}, timeout=10)
    assert response.status_code == 204, response.text


BACKDATED = {
    "tracker ts": lambda receiver, site, moment: send(receiver, site, cart_updated(moment)),
    "v3 event_date": lambda receiver, site, moment: v3_event(
        receiver, site, "cart_updated", moment, id="cart:42", data=GUIDE_CART
    ),
}


@pytest.mark.parametrize("door", BACKDATED)
def test_a_backdated_update_waits_the_whole_delay_from_its_receipt(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store, door: str
) -> None:
    sent = clock.now - timedelta(hours=3)
    BACKDATED[door](receiver, site, sent)  # "updated 3 h ago", says the client
    (received,) = store.received(site)
    clock.now = received + DELAY - timedelta(seconds=1)
    worker.run_pass()
    assert outbox(store, site) == []
    clock.now = received + DELAY
    worker.run_pass()
    (message,) = smtp_sink.wait_for(1)
    assert "$280.00" in body(message, "plain")
    (event,) = store.events(site)
    assert abs(event.occurred_at - sent) < timedelta(milliseconds=1)  # shown when the client says it happened


def test_an_update_from_a_clock_running_ahead_does_not_hold_back_later_ones(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    ahead = datetime.now(UTC) + timedelta(minutes=4)  # within the clock skew the receiver tolerates
    send(receiver, site, cart_updated(ahead, data={**GUIDE_CART, "total": 1}))
    send(receiver, site, cart_updated(datetime.now(UTC)))  # a correct clock, a moment later
    _ahead, latest = store.received(site)
    clock.now = latest + DELAY
    worker.run_pass()
    (message,) = smtp_sink.wait_for(1)
    assert "$280.00" in body(message, "plain")


def test_an_order_from_the_shops_server_closes_a_cart_whose_browser_clock_runs_ahead(
    receiver: Process, site: Site, worker: Worker, clock: Clock, store: Store
) -> None:
    send(receiver, site, cart_updated(datetime.now(UTC) + timedelta(minutes=4)))
    v3_event(receiver, site, "order_completed", id="cart:42")
    clock.advance(DELAY * 2)
    worker.run_pass()
    assert outbox(store, site) == []
    assert [(cart.state, cart.closed_reason) for cart in carts(store, site)] == [("closed", "ordered")]


def test_an_older_update_arriving_late_changes_nothing(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    now = datetime.now(UTC)
    send(receiver, site, cart_updated(now))
    send(receiver, site, cart_updated(now - timedelta(minutes=1), data={**GUIDE_CART, "total": 1}))  # sent before
    first, _late = store.received(site)
    clock.now = first + DELAY
    worker.run_pass()
    (message,) = smtp_sink.wait_for(1)
    assert "$280.00" in body(message, "plain")


def test_a_new_delay_counts_from_each_carts_receipt(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store, app: Flask
) -> None:
    send(receiver, site, cart_updated(clock.now - timedelta(hours=3)))
    set_workflow(app, site, "--delay", "30m")
    (received,) = store.received(site)
    clock.now = received + timedelta(minutes=29)
    worker.run_pass()
    assert outbox(store, site) == []
    clock.now = received + timedelta(minutes=30)
    worker.run_pass()
    smtp_sink.wait_for(1)


@pytest.mark.parametrize(
    ("closing", "reason"),
    [
        (lambda moment: track("order_completed", moment, {"id": "cart:42"}), "ordered"),
        (lambda moment: track("cart_deleted", moment, {"id": "cart:42"}), "deleted"),
        (lambda moment: track("cart_deleted", moment), "deleted"),  # no id: every open cart of the contact
        (lambda moment: cart_updated(moment, data={**GUIDE_CART, "items": []}), "empty"),
    ],
)
def test_orders_deletions_and_empty_carts_cancel(
    receiver: Process, site: Site, worker: Worker, clock: Clock, store: Store, closing: Any, reason: str
) -> None:
    send(receiver, site, cart_updated(clock.now - timedelta(minutes=5)), closing(clock.now))
    clock.advance(DELAY * 2)
    worker.run_pass()
    assert outbox(store, site) == []
    assert [(cart.state, cart.closed_reason) for cart in carts(store, site)] == [("closed", reason)]


def test_an_anonymous_cart_is_emailed_only_once_its_visitor_is_identified(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    send(receiver, site, cart_updated(clock.now, email=None), cuid="anonymous-shopper")
    clock.advance(DELAY * 2)
    worker.run_pass()
    assert outbox(store, site) == []
    identify = {"id": str(uuid.uuid4()), "type": "identify", "email": THOMAS, "properties": {"FIRSTNAME": "Tom"}}
    send(receiver, site, identify, cuid="anonymous-shopper")
    worker.run_pass()
    (message,) = smtp_sink.wait_for(1)
    assert message["To"] == THOMAS and "Tom" in body(message, "plain")


def test_a_disabled_workflow_sends_nothing(
    receiver: Process, site: Site, worker: Worker, clock: Clock, store: Store, app: Flask
) -> None:
    set_workflow(app, site, "--disable")
    send(receiver, site, cart_updated(clock.now))
    clock.advance(DELAY * 2)
    worker.run_pass()
    assert outbox(store, site) == []
    assert [cart.state for cart in carts(store, site)] == ["open"]


@pytest.mark.parametrize(("reentry", "emails"), [("--no-reentry", 1), ("--reentry", 2)])
def test_reentry_decides_whether_a_later_update_is_emailed_again(
    receiver: Process,
    site: Site,
    worker: Worker,
    clock: Clock,
    smtp_sink: SmtpSink,
    store: Store,
    app: Flask,
    reentry: str,
    emails: int,
) -> None:
    set_workflow(app, site, reentry, "--contact-period", "0")
    send(receiver, site, cart_updated(clock.now))
    clock.advance(DELAY * 2)
    worker.run_pass()
    smtp_sink.wait_for(1)
    send(receiver, site, cart_updated(clock.now, data={**GUIDE_CART, "total": 300}))
    clock.advance(DELAY * 2)
    worker.run_pass()
    assert [row.status for row in outbox(store, site)] == ["sent"] * emails
    assert len(smtp_sink.messages) == emails


def test_the_timer_is_pushed_back_no_more_often_than_the_cap(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store, app: Flask
) -> None:
    set_workflow(app, site, "--max-resets", "1")
    for total in (1, 2, 3):
        send(receiver, site, cart_updated(clock.now, data={**GUIDE_CART, "total": total}))
    _first, reset, _third = store.received(site)
    clock.now = reset + DELAY  # the deadline of the one allowed reset, not yet the third update's
    worker.run_pass()
    (message,) = smtp_sink.wait_for(1)
    assert "$3.00" in body(message, "plain")


def test_tracked_html_is_inert_in_the_email(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink
) -> None:
    hostile = {**GUIDE_CART, "items": [{"name": "<img src=x onerror=alert(1)>", "price": 1, "quantity": 1}]}
    send(receiver, site, cart_updated(clock.now, data=hostile, FIRSTNAME="<script>alert(1)</script>"))
    clock.advance(DELAY * 2)
    worker.run_pass()
    html = body(smtp_sink.wait_for(1)[0], "html")
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_smtp_down_is_recorded_and_the_email_goes_out_when_it_returns(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    smtp_sink.stop()
    send(receiver, site, cart_updated(clock.now))
    clock.advance(DELAY * 2)
    worker.run_pass()
    (row,) = outbox(store, site)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error
    smtp_sink.start()
    worker.run_pass()
    assert smtp_sink.messages == []  # not before its backoff
    clock.advance(timedelta(minutes=5))
    worker.run_pass()
    smtp_sink.wait_for(1)
    (row,) = outbox(store, site)
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_permanent_rejection_is_recorded_and_not_retried(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    smtp_sink.fail_next(1, "550 5.1.1 mailbox unavailable")
    send(receiver, site, cart_updated(clock.now))
    clock.advance(DELAY * 2)
    worker.run_pass()
    clock.advance(timedelta(days=1))
    worker.run_pass()
    (row,) = outbox(store, site)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "550" in (row.last_error or "")
    assert smtp_sink.messages == []


def start_worker(database_url: str, smtp_sink: SmtpSink) -> subprocess.Popen[str]:
    """`flask --app server worker` as a process of its own, as production runs it."""
    env = {
        **os.environ,
        "SIBYL_DATABASE_URL": database_url,
        "SIBYL_SMTP_URL": smtp_sink.url,
        "SIBYL_WORKER_POLL": "0.1",
        "SIBYL_AUTO_MIGRATE": "0",
        "SIBYL_SMTP_CONNECTIONS": str(SMTP_CONNECTIONS),
        "SIBYL_WORKER_LEASE": "3s",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "server", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], WORKER_START_SECONDS)  # it says so once SIGTERM stops it
    assert ready and "worker running" in process.stdout.readline(), "the worker did not start"
    return process


def stop(*processes: subprocess.Popen[str]) -> None:
    """SIGTERM every worker and wait for each (killing one that hangs), then check that each stopped cleanly."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=20))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    assert codes == [0] * len(processes)


def due_carts(receiver: Process, site: Site, count: int, store: Store) -> None:
    """`count` carts of `count` contacts, all due as they arrive (and no other test's cart due)."""
    store.leave_only_carts_of(site)
    store.set_cart_delay(site, 0)
    now = datetime.now(UTC)
    messages = [cart_updated(now, email=f"shopper{i}@example.com", cart=f"cart:{i}") for i in range(count)]
    for start in range(0, count, 100):
        send(receiver, site, *messages[start : start + 100])


@pytest.mark.slow  # worker processes of their own
@pytest.mark.parametrize(("worker_count", "cart_count"), [(2, 200), (3, 1000)])
def test_several_workers_and_due_carts_send_exactly_one_email_each(
    receiver: Process,
    site: Site,
    smtp_sink: SmtpSink,
    database_url: str,
    store: Store,
    worker_count: int,
    cart_count: int,
) -> None:
    workers = [start_worker(database_url, smtp_sink) for _ in range(worker_count)]
    try:
        due_carts(receiver, site, cart_count, store)
        smtp_sink.wait_for(cart_count, timeout=120)
    finally:
        stop(*workers)
    assert len(smtp_sink.messages) == cart_count
    assert len({message["To"] for message in smtp_sink.messages}) == cart_count
    assert len({message["Message-ID"] for message in smtp_sink.messages}) == cart_count


@pytest.mark.slow  # worker processes of their own
def test_a_restart_between_update_and_deadline_still_sends_once(
    receiver: Process, site: Site, smtp_sink: SmtpSink, database_url: str, app: Flask, store: Store
) -> None:
    set_workflow(app, site, "--delay", "2s")
    store.leave_only_carts_of(site)
    first = start_worker(database_url, smtp_sink)
    send(receiver, site, cart_updated(datetime.now(UTC)))
    first.kill()
    first.wait()
    second = start_worker(database_url, smtp_sink)
    try:
        smtp_sink.wait_for(1, timeout=20)
        wait_until(lambda: all(row.status == "sent" for row in outbox(store, site)))
    finally:
        stop(second)
    assert len(smtp_sink.messages) == 1
    assert len(outbox(store, site)) == 1


@pytest.mark.slow  # worker processes of their own
def test_kill_9_mid_pass_then_a_restart_emails_every_cart_once(
    receiver: Process, site: Site, smtp_sink: SmtpSink, database_url: str, store: Store
) -> None:
    due_carts(receiver, site, 300, store)
    first = start_worker(database_url, smtp_sink)
    smtp_sink.wait_for(30, timeout=30)
    first.kill()
    first.wait()
    second = start_worker(database_url, smtp_sink)
    try:
        wait_until(lambda: len({m["Message-ID"] for m in smtp_sink.messages}) == 300, timeout=90)
        wait_until(lambda: all(row.status == "sent" for row in outbox(store, site)), timeout=30)
    finally:
        stop(second)
    assert len(outbox(store, site)) == 300
    # The one window no SMTP client can close: accepted by SMTP, killed before the outbox row was
    # marked. At most one email per connection can be in it, and a re-send keeps its Message-ID.
    assert len(smtp_sink.messages) - 300 <= SMTP_CONNECTIONS


# Revision 0011: the carts the worker withheld at their deadline (closed with a reason) were never emailed.
ROWS_AT_0010 = (
    (
        "INSERT INTO sites (id, name, client_key, api_key, origins, created_at, require_consent, respect_dnt) "
        "VALUES (1, 'shop', 'ck', 'ak', '[]', :now, 0, 0)"
    ),
    (
        "INSERT INTO contacts (id, site_id, email, attributes, created_at, modified_at) "
        "VALUES (7, 1, 'ada@example.com', '{}', :now, :now)"
    ),
)
CLOSED_AT_0010 = {
    "emailed": ("emailed", None),
    "recovered": ("closed", "ordered"),
    "unsubscribed": ("closed", "unsubscribed"),
    "no_email": ("closed", "no_email"),
    "unconfirmed": ("closed", "unconfirmed"),
    "recently_emailed": ("closed", "recently_emailed"),
}


def test_the_migration_clears_the_email_time_of_carts_closed_instead_of_emailed(tmp_path: Path) -> None:
    engine = sqlite_at(tmp_path / "old.db", "0010", ROWS_AT_0010)
    with engine.begin() as connection:
        for key, (state, reason) in CLOSED_AT_0010.items():
            connection.execute(
                text(
                    "INSERT INTO carts (site_id, owner, cart_key, contact_id, state, snapshot, version, cycle, "
                    "resets, updated_at, received_at, emailed_at, closed_reason) VALUES (1, 'contact:7', :key, 7, "
                    ":state, '{}', 1, 1, 0, :now, :now, :now, :reason)"
                ),
                {"key": key, "state": state, "reason": reason, "now": "2026-11-01 10:00:00"},
            )

    db.upgrade(engine)

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT cart_key, emailed_at IS NOT NULL FROM carts"))
        emailed = {key: bool(has_time) for key, has_time in rows}
    engine.dispose()
    assert emailed == {
        "emailed": True,
        "recovered": True,
        "unsubscribed": False,
        "no_email": False,
        "unconfirmed": False,
        "recently_emailed": False,
    }
