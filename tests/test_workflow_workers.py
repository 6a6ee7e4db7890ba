"""Workflow runs under real worker processes: several at once, and one killed mid-pass, send each step once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from server.models import Site

from .support.carts import cart_updated, outbox
from .support.cli import cli, set_workflow
from .support.collect import send
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
    first, second = start_worker(database_url, smtp_sink), start_worker(database_url, smtp_sink)
    workflow_with_due_runs(app, receiver, site, store, tmp_path, carts)
    smtp_sink.wait_for(40, timeout=60)
    first.kill()
    first.wait()
    third = start_worker(database_url, smtp_sink)
    try:
        wait_until(lambda: len({m["Message-ID"] for m in smtp_sink.messages}) == 2 * carts, timeout=120)
        wait_until(lambda: all(row.status == "sent" for row in outbox(store, site)), timeout=30)
    finally:
        stop(second, third)
    rows = outbox(store, site)
    assert len(rows) == 2 * carts
    assert sorted({(row.recipient, row.step) for row in rows}) == sorted(
        {(f"shopper{i}@example.com", step) for i in range(carts) for step in ("steps[0]", "steps[2]")}
    )
    # Accepted by SMTP but killed before its outbox row was marked: at most one per connection, resent with its
    # Message-ID.
    assert len(smtp_sink.messages) - 2 * carts <= SMTP_CONNECTIONS
