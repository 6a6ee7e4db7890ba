"""Emails held while no mail server is set: shown as held (never as emailed or sent) on the dashboard and in the CLI,
released for sending once `SIBYL_SMTP_URL` is set (by `flask outbox release` or the outbox page's button), and the
outbox commands' output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from server import create_app, db
from server.automation.worker import Worker
from server.models import OutboxEmail, Site, utcnow

from .support.browser import BROWSER_HEADERS
from .support.carts import DELAY, THOMAS, cart_updated, outbox, track
from .support.cli import cli, set_workflow
from .support.clock import Clock
from .support.dashboard import csrf_token, sign_in, table_rows, text_of
from .support.sites import new_site
from .support.smtp_sink import SmtpSink
from .support.store import Store

HELD = "Held: no mail server"
DAY = timedelta(days=1)


@pytest.fixture
def site(app: Flask, store: Store) -> Site:
    """A site whose abandoned-cart workflow is on, the only one whose carts a worker mails."""
    made = new_site(app, "held")
    store.leave_only_carts_of(made)
    set_workflow(app, made, "--enable")
    return made


@pytest.fixture
def sending_app(database_url: str, smtp_sink: SmtpSink) -> Flask:
    """The same database, with a mail server set (SIBYL_SMTP_URL)."""
    return create_app({"DATABASE_URL": database_url, "WORKER": "external", "SMTP_URL": smtp_sink.url})


@pytest.fixture
def sending_owner(sending_app: Flask, owner_email: str) -> Iterator[FlaskClient]:
    with sending_app.test_client() as signed_in:
        yield sign_in(signed_in, owner_email)


def send(client: FlaskClient, site: Site, *messages: dict[str, Any]) -> None:
    body = {"key": site.client_key, "cuid": "h" * 20, "messages": list(messages)}
    answer = client.post("/collect", data=json.dumps(body), headers={**BROWSER_HEADERS, "Content-Type": "text/plain"})
    assert answer.status_code == 200, answer.get_data(as_text=True)


def held_email(client: FlaskClient, app: Flask, site: Site, clock: Clock) -> None:
    """Thomas's cart left alone past its delay, emailed by a worker without a mail server: held in the outbox."""
    assert not app.config["SMTP_URL"]
    send(client, site, cart_updated(datetime.now(UTC)))
    clock.now = max(clock.now, datetime.now(UTC)) + DELAY + timedelta(minutes=1)
    Worker(app, clock).run_pass()


def page_of(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return str(answer.get_data(as_text=True))


def test_a_held_email_shows_as_held_not_emailed_on_the_run_list_overview_contact_and_outbox(
    owner: FlaskClient, client: FlaskClient, app: Flask, store: Store, site: Site, clock: Clock
) -> None:
    held_email(client, app, site, clock)
    [email] = outbox(store, site)
    assert email.status == "held"
    runs = page_of(owner, f"/automation?site={site.id}")
    [_, [contact, *_, state]] = table_rows(runs, "runs")  # the header row, then the cart's
    assert contact == THOMAS and state.startswith(HELD) and "Emailed" not in state
    overview = page_of(owner, f"/?site={site.id}")
    assert text_of(overview, "emailed-card") == "Emailed 0 recovery emails sent or sending"
    assert text_of(overview, "held-card") == "Held 1 no mail server: never sent"
    contact_page = page_of(owner, f"/contacts/{email.contact_id}")
    assert HELD in contact_page and ">Emailed<" not in contact_page
    listed = page_of(owner, f"/outbox?site={site.id}")
    assert [row[3] for row in table_rows(listed, "outbox")[1:]] == [HELD]
    assert "Set SIBYL_SMTP_URL and restart to send them." in text_of(listed, "held-emails")
    assert 'id="release-held"' not in listed  # no button while there is no mail server


def test_the_cli_lists_runs_stats_and_emails_as_held(
    client: FlaskClient, app: Flask, store: Store, site: Site, clock: Clock
) -> None:
    held_email(client, app, site, clock)
    runs = cli(app, "workflows", "runs", site.name, "Abandoned cart", "--json")
    assert [run["email"] for run in json.loads(runs.output)["runs"]] == ["held"]
    assert f"email: {HELD}" in cli(app, "workflows", "runs", site.name, "Abandoned cart").output
    stats = json.loads(cli(app, "workflows", "stats", site.name, "Abandoned cart", "--json").output)
    assert (stats["groups"]["sent"]["emails"], stats["groups"]["sent"]["held"]) == (1, 1)
    listed = cli(app, "outbox", "list", "--site", site.name).output
    assert f"held      0  {THOMAS}" in listed and HELD in listed


def test_release_without_a_mail_server_is_refused(
    client: FlaskClient, app: Flask, store: Store, site: Site, clock: Clock
) -> None:
    held_email(client, app, site, clock)
    result = cli(app, "outbox", "release", "--site", site.name)
    assert result.exit_code != 0
    assert "no mail server is set: set SIBYL_SMTP_URL" in result.output
    assert [email.status for email in outbox(store, site)] == ["held"]


def test_released_emails_are_sent_once_by_the_next_worker_pass(
    client: FlaskClient, app: Flask, sending_app: Flask, store: Store, site: Site, clock: Clock, smtp_sink: SmtpSink
) -> None:
    held_email(client, app, site, clock)
    result = cli(sending_app, "outbox", "release", "--site", site.name)
    assert result.exit_code == 0, result.output
    assert "Released 1 held emails" in result.output
    worker = Worker(sending_app, clock)
    worker.run_pass()
    [message] = smtp_sink.wait_for(1)
    assert message["To"] == THOMAS
    worker.run_pass()
    assert len(smtp_sink.messages) == 1
    assert [email.status for email in outbox(store, site)] == ["sent"]
    assert "Released 0 held emails" in cli(sending_app, "outbox", "release", "--site", site.name).output


def test_an_email_held_too_long_is_cancelled_not_sent(
    client: FlaskClient, app: Flask, sending_app: Flask, store: Store, site: Site, clock: Clock
) -> None:
    held_email(client, app, site, clock)
    with db.new_session(app) as session:  # written three days ago
        session.execute(update(OutboxEmail).where(OutboxEmail.site_id == site.id).values(created_at=utcnow() - 3 * DAY))
        session.commit()
    result = cli(sending_app, "outbox", "release", "--site", site.name)
    assert result.exit_code == 0, result.output
    assert "Released 0 held emails" in result.output and "Cancelled 1 held longer than 2d" in result.output
    [email] = outbox(store, site)
    assert (email.status, email.last_error) == ("cancelled", "not sent: held over 48 hours without a mail server")


def test_a_held_email_whose_cart_was_ordered_is_cancelled_not_sent(
    client: FlaskClient, app: Flask, sending_app: Flask, store: Store, site: Site, clock: Clock
) -> None:
    held_email(client, app, site, clock)
    send(client, site, track("order_completed", datetime.now(UTC), {"id": "cart:42"}))
    result = cli(sending_app, "outbox", "release", "--site", site.name)
    assert "Released 0 held emails" in result.output and "and 1 whose cart changed meanwhile" in result.output
    [email] = outbox(store, site)
    assert (email.status, email.last_error) == ("cancelled", "not sent: its cart changed while it was held")


def test_the_outbox_button_releases_the_held_emails(
    client: FlaskClient,
    app: Flask,
    sending_app: Flask,
    sending_owner: FlaskClient,
    store: Store,
    site: Site,
    clock: Clock,
    smtp_sink: SmtpSink,
) -> None:
    held_email(client, app, site, clock)
    path = f"/outbox?site={site.id}"
    assert text_of(page_of(sending_owner, path), "release-held") == "Send 1 held emails"
    refused = sending_owner.post("/outbox/release", data={"site": site.id})  # no CSRF token
    assert refused.status_code == 400
    answer = sending_owner.post(
        "/outbox/release", data={"site": site.id, "csrf_token": csrf_token(sending_owner, path)}, follow_redirects=True
    )
    assert answer.status_code == 200
    assert "Released 1 held emails" in answer.get_data(as_text=True)
    assert [email.status for email in outbox(store, site)] == ["pending"]
    Worker(sending_app, clock).run_pass()
    assert [message["To"] for message in smtp_sink.wait_for(1)] == [THOMAS]


def test_outbox_show_prints_the_part_asked_for_alone(
    client: FlaskClient, app: Flask, store: Store, site: Site, clock: Clock
) -> None:
    held_email(client, app, site, clock)
    [email] = outbox(store, site)
    assert cli(app, "outbox", "show", str(email.id), "--html").output == email.html
    assert cli(app, "outbox", "show", str(email.id), "--text").output == email.text
    headers = cli(app, "outbox", "show", str(email.id)).output
    assert headers.startswith(f"From: {email.sender}\nTo: {THOMAS}\n") and f"Status: held ({HELD})" in headers


def test_an_empty_outbox_list_says_so(app: Flask) -> None:
    empty = new_site(app, "empty")
    assert cli(app, "outbox", "list", "--site", empty.name).output == f"No emails in the outbox of {empty.name}.\n"
    held = cli(app, "outbox", "list", "--site", empty.name, "--status", "held").output
    assert held == f"No held emails in the outbox of {empty.name}.\n"
