"""Workflow runs under real worker processes (several at once, one killed mid-pass: each step sent once), and a
site's abandoned cart moved onto the engine by its migration."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from server import create_app, db
from server.automation.worker import Worker
from server.models import OutboxEmail, Site

from .support.carts import cart_updated, outbox
from .support.cli import cli, set_workflow
from .support.clock import Clock
from .support.collect import send
from .support.databases import sqlite_at
from .support.servers import Process
from .support.smtp_sink import SmtpSink
from .support.store import Store
from .support.waiting import wait_until
from .test_automation import SMTP_CONNECTIONS, start_worker, stop

TWO_EMAILS = {
    "name": "Two reminders",
    "trigger": {"event": "cart_updated", "per": "cart"},
    "restart": True,
    "exit_on": ["order_completed", "cart_deleted"],
    "steps": [
        {"email": {"subject": "Your cart"}},
        {"wait": "1s"},
        {"email": {"subject": "Your cart, again", "transactional": True}},
    ],
}


def workflow_with_due_runs(app: Flask, receiver: Process, site: Site, store: Store, tmp_path: Path, carts: int) -> None:
    """The two-reminder workflow on the site (its built-in cart email off) and `carts` carts of as many shoppers."""
    store.leave_only_carts_of(site)
    set_workflow(app, site, "--disable")
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(TWO_EMAILS))
    assert cli(app, "workflows", "import", site.name, str(path)).exit_code == 0
    now = datetime.now(UTC)
    messages = [cart_updated(now, email=f"shopper{i}@example.com", cart=f"cart:{i}") for i in range(carts)]
    for start in range(0, carts, 100):
        send(receiver, site, *messages[start : start + 100])


@pytest.mark.slow  # worker processes of their own
def test_two_workers_and_a_kill_9_send_each_step_of_each_run_once(
    app: Flask,
    receiver: Process,
    site: Site,
    smtp_sink: SmtpSink,
    database_url: str,
    store: Store,
    tmp_path: Path,
) -> None:
    carts = 150
    first = start_worker(database_url, smtp_sink)
    running = [start_worker(database_url, smtp_sink)]
    try:
        workflow_with_due_runs(app, receiver, site, store, tmp_path, carts)
        smtp_sink.wait_for(40, timeout=60)
        first.kill()
        first.wait()
        running.append(start_worker(database_url, smtp_sink))
        wait_until(lambda: len({m["Message-ID"] for m in smtp_sink.messages}) == 2 * carts, timeout=120)
        wait_until(lambda: all(row.status == "sent" for row in outbox(store, site)), timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        stop(*running)
    rows = outbox(store, site)
    assert len(rows) == 2 * carts
    assert sorted({(row.recipient, row.step) for row in rows}) == sorted(
        {(f"shopper{i}@example.com", step) for i in range(carts) for step in ("steps[0]", "steps[2]")}
    )
    # Accepted by SMTP but killed before its outbox row was marked: at most one per connection, resent with its
    # Message-ID.
    assert len(smtp_sink.messages) - 2 * carts <= SMTP_CONNECTIONS


# Revision 0016: a site's abandoned cart moves onto the engine with its settings and its waiting carts.
ROWS_AT_0015 = (
    (
        "INSERT INTO sites (id, name, client_key, api_key, origins, created_at, require_consent, respect_dnt) "
        "VALUES (1, 'shop', 'ck', 'ak', '[]', :now, 0, 0)"
    ),
    (
        "INSERT INTO workflows (site_id, enabled, delay_seconds, reentry, max_resets, subject, confirmed_only, "
        "contact_period_seconds) VALUES (1, 1, 5400, 0, 100, 'Your cart', 0, 86400)"
    ),
    (
        "INSERT INTO contacts (id, site_id, email, attributes, created_at, modified_at) "
        "VALUES (7, 1, 'ada@example.com', '{\"FIRSTNAME\": \"Ada\"}', :now, :now)"
    ),
    (
        "INSERT INTO carts (site_id, owner, cart_key, contact_id, state, snapshot, version, cycle, resets, "
        "updated_at, received_at, deadline_at, due_at) VALUES (1, 'contact:7', 'cart:waiting', 7, 'open', "
        '\'{"items": [{"name": "Lamp", "quantity": 1, "price": 30}], "total": 30}\', 3, 2, 0, :now, :now, '
        "'2026-11-01 11:30:00', '2026-11-01 11:30:00')"
    ),
    (
        "INSERT INTO carts (site_id, owner, cart_key, contact_id, state, snapshot, version, cycle, resets, "
        "updated_at, received_at, emailed_at) VALUES (1, 'contact:7', 'cart:emailed', 7, 'emailed', '{}', 2, 1, 0, "
        ":now, :now, :now)"
    ),
)


def test_a_migrated_site_keeps_its_settings_and_its_waiting_cart_with_its_deadline(tmp_path: Path) -> None:
    engine = sqlite_at(tmp_path / "old.db", "0015", ROWS_AT_0015)
    db.upgrade(engine)
    engine.dispose()
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}", "WORKER": "external"})

    exported = cli(app, "workflows", "export", "shop", "Abandoned cart")
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.output)
    assert (document["enabled"], document["reentry"], document["steps"]) == (
        True,
        False,
        [{"wait": "90m"}, {"email": {}}],
    )
    (run,) = json.loads(cli(app, "workflows", "runs", "shop", "Abandoned cart", "--json").output)["runs"]
    assert (run["key"], run["contact"], run["state"], run["step"]) == (
        "cart:waiting",
        "ada@example.com",
        "waiting",
        "steps[0]",
    )
    assert run["due_at"] == "2026-11-01T11:30:00+00:00"

    clock = Clock()
    clock.now = datetime(2026, 11, 1, 11, 29, tzinfo=UTC)
    worker = Worker(app, clock)
    worker.run_pass()
    assert outbox_of(app) == []
    clock.now = datetime(2026, 11, 1, 11, 30, tzinfo=UTC)
    worker.run_pass()
    (email,) = outbox_of(app)
    assert (email.recipient, email.subject, email.step) == ("ada@example.com", "Your cart", "steps[1]")
    assert "Lamp" in email.text
    set_result = cli(app, "workflows", "set", "shop", "--delay", "2h")
    assert set_result.exit_code == 0, set_result.output
    assert json.loads(cli(app, "workflows", "export", "shop", "Abandoned cart").output)["steps"][0] == {"wait": "2h"}


def outbox_of(app: Flask) -> list[OutboxEmail]:
    with db.new_session(app) as session:
        return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
