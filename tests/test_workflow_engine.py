"""The workflow engine: runs started, moved and ended by tracked events, and advanced by the worker's clock."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import db
from server.automation.worker import Worker
from server.models import OutboxEmail, Run, Site

from .support.carts import THOMAS, cart_updated, track
from .support.cli import cli
from .support.clock import Clock
from .support.sites import new_site
from .support.store import Store

BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36"
}


def send(client: FlaskClient, site: Site, *messages: dict[str, Any], cuid: str = "c" * 20) -> None:
    body = {"key": site.client_key, "cuid": cuid, "messages": list(messages)}
    response = client.post("/collect", data=json.dumps(body), headers={**BROWSER, "Content-Type": "text/plain"})
    assert response.status_code == 200, response.get_data(as_text=True)


def import_workflow(app: Flask, site: Site, document: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(document))
    result = cli(app, "workflows", "import", site.name, str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"workflow={document['name']}"


def runs_of(app: Flask, site: Site) -> list[Run]:
    with db.new_session(app) as session:
        return list(session.scalars(select(Run).where(Run.site_id == site.id).order_by(Run.id)))


def emails_of(app: Flask, site: Site) -> list[OutboxEmail]:
    with db.new_session(app) as session:
        return list(session.scalars(select(OutboxEmail).where(OutboxEmail.site_id == site.id).order_by(OutboxEmail.id)))


SERIES = {
    "name": "Cart series",
    "trigger": {"event": "cart_updated", "per": "cart"},
    "restart": True,
    "exit_on": ["order_completed", "cart_deleted"],
    "steps": [
        {"wait": "1h"},
        {"email": {"subject": "First reminder"}},
        {"wait": "23h"},
        {"email": {"subject": "Second reminder", "transactional": True}},
    ],
}


@pytest.fixture
def worker(app: Flask, store: Store, site: Site, clock: Clock) -> Worker:
    store.leave_only_carts_of(site)
    cli(app, "workflows", "set", site.name, "--disable")
    return Worker(app, clock)


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app)


def test_a_cart_series_sends_each_email_at_its_time(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, SERIES, tmp_path)
    send(client, site, cart_updated(clock.now, FIRSTNAME="Thomas"))
    (run,) = runs_of(app, site)
    clock.now = run.started_at
    worker.run_pass()
    (run,) = runs_of(app, site)
    assert (run.state, run.step, run.due_at) == ("waiting", "steps[0]", clock.now + timedelta(hours=1))
    clock.advance(timedelta(hours=1))
    worker.run_pass()
    (email,) = emails_of(app, site)
    assert (email.recipient, email.subject, email.step) == (THOMAS, "First reminder", "steps[1]")
    clock.advance(timedelta(hours=23))
    worker.run_pass()
    assert [email.subject for email in emails_of(app, site)] == ["First reminder", "Second reminder"]
    (run,) = runs_of(app, site)
    assert (run.state, run.step) == ("done", "steps[3]")


def test_an_order_ends_the_run_before_its_email(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, SERIES, tmp_path)
    send(client, site, cart_updated(clock.now))
    (run,) = runs_of(app, site)
    clock.now = run.started_at
    worker.run_pass()
    send(client, site, track("order_completed", clock.now, {"id": "cart:42", "data": {"total": 30}}))
    clock.advance(timedelta(hours=2))
    worker.run_pass()
    assert emails_of(app, site) == []
    (run,) = runs_of(app, site)
    assert (run.state, run.exit_reason) == ("exited", "exit_event")
