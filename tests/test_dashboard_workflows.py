"""The dashboard's workflow pages over HTTP (Flask's test client): the list with presets and on/off, one workflow's
steps with their counts and lift, its runs a page at a time, its JSON document edited and downloaded, and the
overview's orders recovered by the workflows' emails with their lift."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from server import create_app, db
from server.automation.library import import_workflow, workflow_named
from server.automation.lift import Lift, lift
from server.automation.worker import Worker
from server.dashboard.overview import LiftWords, lift_words
from server.dashboard.queries import Recovered, recovered_orders
from server.models import Site, WorkflowDefinition, utcnow

from .support.browser import BROWSER_HEADERS
from .support.carts import THOMAS, cart_updated, carts, outbox, track
from .support.cli import cli
from .support.clock import Clock
from .support.dashboard import csrf_token, new_user, sign_in, table_rows, text_of
from .support.databases import on_postgres
from .support.guide import GUIDE_CART
from .support.sites import new_site
from .support.smtp_sink import SmtpSink
from .support.statements import statements
from .support.store import Store

ANNA = "anna@example.com"
HOSTILE = "<script>alert('workflow')</script>"

RECOVERED: dict[str, Any] = {
    "name": "Recovered carts",
    "trigger": {"event": "cart_updated", "per": "cart"},
    "exit_on": ["cart_deleted"],
    "goal": {"event": "order_completed", "within": "7d"},
    "holdout": 0.999999,  # every run held out; the test sets 0 to send the next ones
    "steps": [
        {"wait": "1h"},
        {
            "if": {"data": "total", "gte": 20},
            "then": [{"email": {"subject": "Cart"}}],
            "else": [{"exit": True}],
        },
    ],
}


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "flows")


@pytest.fixture
def worker(app: Flask, store: Store, site: Site, clock: Clock, smtp_sink: SmtpSink) -> Worker:
    """A worker on the test's clock that sends its emails to a real SMTP server (an email held for want of one
    recovers nothing), for this site's runs only; the site's abandoned-cart settings off."""
    store.leave_only_carts_of(site)
    cli(app, "workflows", "set", site.name, "--disable")
    sending = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "WORKER": "external", "SMTP_URL": smtp_sink.url})
    return Worker(sending, clock)


def stored(app: Flask, site: Site, document: dict[str, Any]) -> int:
    """The workflow of `document` imported into the site (as `flask workflows import` does); its id."""
    with db.new_session(app) as session:
        imported = import_workflow(session, session.get_one(Site, site.id), document, utcnow())
        session.commit()
        return imported.definition.id


def definition(app: Flask, workflow_id: int) -> WorkflowDefinition:
    with db.new_session(app) as session:
        return session.get_one(WorkflowDefinition, workflow_id)


def post(client: FlaskClient, path: str, form_page: str, **fields: Any) -> Any:
    """`fields` posted to `path` as the form on `form_page` does, with that page's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **fields})


def send(client: FlaskClient, site: Site, *messages: dict[str, Any], cuid: str = "c" * 20) -> None:
    """One tracker batch posted to /collect as a browser would; every message must be stored."""
    body = {"key": site.client_key, "cuid": cuid, "messages": list(messages)}
    answer = client.post("/collect", data=json.dumps(body), headers={**BROWSER_HEADERS, "Content-Type": "text/plain"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"stored": len(messages), "duplicates": 0}


def page_of(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return str(answer.get_data(as_text=True))


def list_row(page: str, name: str) -> list[str]:
    """The list's row of the workflow `name`: name, status, trigger, waiting, runs, emails, conversions, button."""
    (row,) = [row for row in table_rows(page, "workflows") if row and row[0] == name]
    return row


def step_lines(page: str) -> list[list[str]]:
    """The steps table without its header: per step a line for sent runs (the step's text first) and one for
    held-out runs (starting "Held out"), and a line for each branch's heading."""
    return table_rows(page, "steps")[1:]


def catch_up(clock: Clock) -> None:
    """Bring the worker's clock up to the receiver's, which stamps events with the real time (never back)."""
    clock.now = max(clock.now, datetime.now(UTC))


# The list, presets, on and off


def test_a_preset_is_created_off_listed_and_refused_a_second_time(owner: FlaskClient, app: Flask, site: Site) -> None:
    created = post(owner, "/workflows", f"/workflows?site={site.id}", site=site.id, preset="browse-abandonment")
    assert created.status_code == 302
    page = page_of(owner, created.headers["Location"])
    assert text_of(page, "workflow-name") == "Browse abandonment"
    assert text_of(page, "workflow-status") == "Off"
    listed = page_of(owner, f"/workflows?site={site.id}")
    assert list_row(listed, "Browse abandonment")[:7] == [
        "Browse abandonment",
        "Off",
        "a page view of /products/*; one run per contact",
        "0",
        "0",
        "0",
        "0",
    ]
    again = post(owner, "/workflows", f"/workflows?site={site.id}", site=site.id, preset="browse-abandonment")
    assert again.status_code == 400
    assert text_of(again.get_data(as_text=True), "create-error") == (
        "This site already has a workflow named “Browse abandonment”: open it below, or rename it first."
    )
    with db.new_session(app) as session:
        kept = workflow_named(session, site.id, "Browse abandonment")
        assert kept is not None and (kept.version, kept.enabled) == (1, False)  # not replaced by the second try


def test_an_unknown_preset_is_refused(owner: FlaskClient, site: Site) -> None:
    answer = post(owner, "/workflows", f"/workflows?site={site.id}", site=site.id, preset="../welcome")
    assert answer.status_code == 400
    assert text_of(answer.get_data(as_text=True), "create-error") == "Choose one of the presets."


def test_the_switch_turns_a_workflow_on_and_off_and_needs_the_forms_token(
    owner: FlaskClient, app: Flask, site: Site
) -> None:
    workflow_id = stored(app, site, {**RECOVERED, "enabled": False})
    listing = f"/workflows?site={site.id}"
    turned_on = post(owner, f"/workflows/{workflow_id}/switch", listing, enabled="on")
    assert turned_on.status_code == 302 and turned_on.headers["Location"] == listing
    assert definition(app, workflow_id).enabled is True
    assert definition(app, workflow_id).document["enabled"] is True
    assert list_row(page_of(owner, listing), "Recovered carts")[1] == "On"
    forged = owner.post(f"/workflows/{workflow_id}/switch", data={"enabled": "off"})
    assert forged.status_code == 400 and definition(app, workflow_id).enabled is True
    turned_off = post(owner, f"/workflows/{workflow_id}/switch", listing, enabled="off", back="workflow")
    assert turned_off.headers["Location"] == f"/workflows/{workflow_id}"
    assert definition(app, workflow_id).enabled is False
    assert text_of(page_of(owner, f"/workflows/{workflow_id}"), "workflow-status") == "Off"


def test_the_list_and_the_automation_page_link_to_each_workflow(owner: FlaskClient, app: Flask, site: Site) -> None:
    workflow_id = stored(app, site, RECOVERED)
    assert f'href="/workflows/{workflow_id}"' in page_of(owner, f"/workflows?site={site.id}")
    assert f'href="/workflows?site={site.id}"' in page_of(owner, f"/automation?site={site.id}")
    assert 'href="/workflows"' in page_of(owner, "/")  # the navigation


# The document


def test_an_invalid_document_names_the_path_and_saves_nothing(owner: FlaskClient, app: Flask, site: Site) -> None:
    workflow_id = stored(app, site, RECOVERED)
    before = definition(app, workflow_id)
    path = f"/workflows/{workflow_id}"
    broken = {**RECOVERED, "steps": [{"wait": "tomorrow"}, *RECOVERED["steps"][1:]]}
    answer = post(owner, f"{path}/document", path, document=json.dumps(broken))
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert text_of(page, "document-error") == 'steps[0].wait: not a duration ("tomorrow"); use 90s, 15m, 2h or 3d'
    assert "tomorrow" in text_of(page, "document")  # the text posted, to correct
    not_json = post(owner, f"{path}/document", path, document='{"name": "Recovered carts",}')
    assert not_json.status_code == 400
    assert text_of(not_json.get_data(as_text=True), "document-error") == (
        "not JSON: Expecting property name enclosed in double quotes (line 1, column 28)"
    )
    after = definition(app, workflow_id)
    assert (after.version, after.document, after.updated_at) == (before.version, before.document, before.updated_at)


def test_a_document_may_not_take_another_workflows_name(owner: FlaskClient, app: Flask, site: Site) -> None:
    workflow_id = stored(app, site, RECOVERED)
    stored(app, site, {**RECOVERED, "name": "Other"})
    path = f"/workflows/{workflow_id}"
    answer = post(owner, f"{path}/document", path, document=json.dumps({**RECOVERED, "name": "Other"}))
    assert answer.status_code == 400
    assert (
        text_of(answer.get_data(as_text=True), "document-error")
        == "name: another workflow of this site is named “Other”"
    )
    assert definition(app, workflow_id).name == "Recovered carts"


def test_a_valid_document_replaces_the_definition_and_downloads_as_saved(
    owner: FlaskClient, app: Flask, site: Site
) -> None:
    workflow_id = stored(app, site, RECOVERED)
    path = f"/workflows/{workflow_id}"
    changed = {**RECOVERED, "name": "Carts, renamed", "steps": [{"wait": "2h"}, *RECOVERED["steps"][1:]]}
    answer = post(owner, f"{path}/document", path, document=json.dumps(changed))
    assert answer.status_code == 302 and answer.headers["Location"] == path
    page = page_of(owner, path)
    assert "Saved “Carts, renamed”, version 2." in page
    assert [line[0] for line in step_lines(page) if "steps[0]" in line[0]] == ["Wait 2h steps[0]"]
    saved = definition(app, workflow_id)
    assert (saved.name, saved.version, saved.document["steps"][0]) == ("Carts, renamed", 2, {"wait": "2h"})
    download = owner.get(f"{path}/export.json")
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert download.headers["Content-Disposition"] == f'attachment; filename="workflow-{workflow_id}.json"'
    assert json.loads(download.get_data(as_text=True)) == saved.document


# Who sees what, and what stays text


def test_another_users_workflows_are_not_found(app: Flask, site: Site) -> None:
    theirs = stored(app, site, RECOVERED)
    mine = new_site(app, "mine")
    with app.test_client() as client:
        sign_in(client, new_user(app, [mine]))
        own_page = f"/workflows?site={mine.id}"
        assert client.get(f"/workflows/{theirs}").status_code == 404
        assert client.get(f"/workflows/{theirs}/export.json").status_code == 404
        assert post(client, f"/workflows/{theirs}/switch", own_page, enabled="off").status_code == 404
        edited = post(client, f"/workflows/{theirs}/document", own_page, document=json.dumps(RECOVERED))
        assert edited.status_code == 404
        created = post(client, "/workflows", own_page, site=site.id, preset="welcome")
        assert created.status_code == 404
        assert "Recovered carts" not in page_of(client, f"/workflows?site={site.id}")  # shows its own site instead
    kept = definition(app, theirs)
    assert (kept.enabled, kept.version) == (True, 1)
    with db.new_session(app) as session:
        assert workflow_named(session, site.id, "Welcome") is None


def test_a_hostile_name_is_shown_as_text(owner: FlaskClient, app: Flask, site: Site) -> None:
    workflow_id = stored(app, site, {**RECOVERED, "name": HOSTILE})
    for path in (f"/workflows?site={site.id}", f"/workflows/{workflow_id}"):
        page = page_of(owner, path)
        assert HOSTILE not in page and "&lt;script&gt;alert(&#39;workflow&#39;)&lt;/script&gt;" in page
    assert text_of(page_of(owner, f"/workflows/{workflow_id}"), "workflow-name") == HOSTILE


# Counts, lift and runs, arranged through the engine


def test_each_steps_counts_and_the_lift_show_once_runs_went_through(
    owner: FlaskClient, client: FlaskClient, app: Flask, site: Site, worker: Worker, clock: Clock
) -> None:
    workflow_id = stored(app, site, RECOVERED)
    path = f"/workflows/{workflow_id}"
    send(client, site, cart_updated(clock.now))  # Thomas's run: held out
    catch_up(clock)
    worker.run_pass()
    assert text_of(page_of(owner, path), "lift") == "Not measured yet: no run has been sent yet."
    saved = post(owner, f"{path}/document", path, document=json.dumps({**RECOVERED, "holdout": 0}))
    assert saved.status_code == 302
    send(client, site, cart_updated(clock.now, email=ANNA), cuid="d" * 20)  # Anna's run: sent
    catch_up(clock)
    worker.run_pass()
    waiting = step_lines(page_of(owner, path))
    assert waiting[2] == ["Wait 1h steps[0]", "Sent", "1", "1", "0", "0", "0", "0", "0", "0", "0", "0.00"]
    assert waiting[3] == ["Held out", "1", "1", "0", "0", "0", "0", "0", "0", "0", "0.00"]
    assert list_row(page_of(owner, f"/workflows?site={site.id}"), "Recovered carts")[3:7] == ["2", "2", "0", "0"]

    clock.advance(timedelta(hours=1))
    worker.run_pass()
    send(client, site, track("order_completed", clock.now, {"data": {"total": 30}}, email=ANNA), cuid="d" * 20)
    page = page_of(owner, path)
    # Columns: entered, waiting, emailed, withheld, delivered, opened, clicked, unsubscribed, converted, revenue.
    # The order was received (at the receiver's real time) before the email went out on the worker's clock an hour
    # on, so no email counts it as converted after it.
    assert [" | ".join(line) for line in step_lines(page)] == [
        "All runs (waiting here: not at a step yet) | Sent | 1 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 1 | 30.00",
        "Held out | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0.00",
        "Wait 1h steps[0] | Sent | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 30.00",
        "Held out | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0.00",
        "If data total is at least 20 steps[1] | Sent | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 30.00",
        "Held out | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0.00",
        "then, when it holds",
        'Email the built-in cart recovery email, subject "Cart" steps[1].then[0] | Sent | 1 | 0 | 1 | 0 | 1 | 0 | 0 '
        "| 0 | 1 | 30.00",
        "Held out | 1 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 | 0.00",
        "else, when it does not",
        "Exit: the run ends steps[1].else[0] | Sent | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0.00",
        "Held out | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0.00",
    ]
    measured = lift(sent_runs=1, sent_conversions=1, holdout_runs=1, holdout_conversions=0)
    assert measured is not None
    assert text_of(page, "lift") == (
        f"+100.0 % conversion rate, sent minus held out (95 % interval {measured.low * 100:+.1f} % to "
        f"{measured.high * 100:+.1f} %)."
    )
    assert list_row(page_of(owner, f"/workflows?site={site.id}"), "Recovered carts")[3:7] == ["0", "2", "1", "1"]
    runs = table_rows(page, "runs")[1:]
    assert [(row[0], row[1].split()[0], row[2], row[3].split()[0]) for row in runs] == [
        (f"{ANNA} cart:42", "Done", "sent", "steps[1].then[0]"),
        (f"{THOMAS} cart:42", "Done", "held out", "steps[1].then[0]"),
    ]
    assert "converted, revenue $30.00" in runs[0][1]


def test_without_a_holdout_the_lift_says_why_it_is_not_measured(owner: FlaskClient, app: Flask, site: Site) -> None:
    workflow_id = stored(app, site, {**RECOVERED, "holdout": 0})
    assert text_of(page_of(owner, f"/workflows/{workflow_id}"), "lift") == (
        "Not measured yet: there is no control group; set a holdout (e.g. 0.1) in the document to hold some runs out."
    )


def test_runs_are_listed_newest_first_fifty_at_a_time(
    owner: FlaskClient, client: FlaskClient, app: Flask, site: Site
) -> None:
    per_event = {"name": "Each view", "trigger": {"event": "viewed", "per": "event"}, "steps": [{"wait": "1h"}]}
    workflow_id = stored(app, site, per_event)
    now = datetime.now(UTC)
    send(client, site, *[track("viewed", now) for _ in range(51)])
    first = page_of(owner, f"/workflows/{workflow_id}")
    newest = table_rows(first, "runs")[1:]
    assert len(newest) == 50 and 'id="older-runs"' in first
    older_link = first.split('id="older-runs"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = page_of(owner, older_link)
    oldest = table_rows(second, "runs")[1:]
    assert len(oldest) == 1 and 'id="older-runs"' not in second and "← Newest runs" in second
    keys = [row[0] for row in newest + oldest]
    assert len(set(keys)) == 51  # each run once: its key is its event's id


@pytest.mark.skipif(on_postgres(), reason="reads SQLite's query plans")
def test_the_pages_read_runs_and_step_counts_through_their_indexes(
    owner: FlaskClient, client: FlaskClient, app: Flask, site: Site
) -> None:
    workflow_id = stored(app, site, RECOVERED)
    send(client, site, cart_updated(datetime.now(UTC)))
    with statements(app) as seen:
        page_of(owner, f"/workflows/{workflow_id}")
        page_of(owner, f"/workflows?site={site.id}")
    plans: list[str] = []
    with app.extensions["sibyl.engine"].connect() as connection:
        for statement, parameters in seen:
            if " runs" in statement or "step_counts" in statement:
                rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
                plans += [row[-1] for row in rows]
    touching = [line for line in plans if " runs" in line or "step_counts" in line]
    assert any("ix_runs_workflow_started" in line for line in touching)
    assert any("ix_runs_workflow_state_step" in line for line in touching)
    assert touching and all(line.startswith("SEARCH") for line in touching), plans


def test_an_anonymous_visitor_is_sent_to_sign_in(client: FlaskClient, app: Flask, site: Site) -> None:
    workflow_id = stored(app, site, {**RECOVERED, "name": f"anon-{uuid.uuid4().hex[:6]}"})
    for path in ("/workflows", f"/workflows/{workflow_id}", f"/workflows/{workflow_id}/export.json"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), path


# The overview: orders recovered by the workflows' emails, and their lift

CART_EMAIL: dict[str, Any] = {
    "name": "Cart email",
    "trigger": {"event": "cart_updated", "per": "cart"},
    "exit_on": ["cart_deleted"],
    "goal": {"event": "order_completed", "within": "7d"},
    "steps": [{"email": {"subject": "Your cart"}}],
}


def order(moment: datetime, total: float, cart: str, email: str = THOMAS) -> dict[str, Any]:
    """The tracker's `order_completed` of `cart` by `email`, for `total`."""
    return track("order_completed", moment, {"id": cart, "data": {"total": total}}, email=email)


def recovered_card(owner: FlaskClient, site: Site) -> tuple[str, str]:
    """The overview's Recovered figures as their reader sees them: the orders, and the revenue per currency."""
    page = page_of(owner, f"/?site={site.id}")
    return text_of(page, "recovered-card"), text_of(page, "recovered-revenue")


def recovered_figures(orders: int, revenue: str) -> tuple[str, str]:
    return (
        f"Recovered · 30 days {orders} ordered after an email",
        f"Revenue recovered · 30 days {revenue} in those orders",
    )


def test_an_order_with_a_new_cart_on_another_device_after_the_email_is_recovered(
    owner: FlaskClient, client: FlaskClient, app: Flask, store: Store, site: Site, worker: Worker, clock: Clock
) -> None:
    stored(app, site, CART_EMAIL)
    send(client, site, cart_updated(clock.now))  # Thomas's cart:42
    catch_up(clock)
    worker.run_pass()
    assert len(outbox(store, site)) == 1
    assert recovered_card(owner, site) == recovered_figures(0, "0.00")
    send(client, site, order(clock.now, 1448.4, cart="cart:7"), cuid="p" * 20)  # on his phone, with a new cart
    assert recovered_card(owner, site) == recovered_figures(
        1, "$1,448.40"
    )  # in the currency of the cart that started the run
    page = page_of(owner, f"/?site={site.id}")
    assert re.search(r'<a [^>]*id="recovered-card" href="/workflows"', page)  # where each workflow's conversions are
    assert text_of(page, "recovered-lift") == ""  # no workflow holds runs out
    assert [cart.state for cart in carts(store, site)] == ["emailed"]  # cart:42 was never ordered itself


def test_an_order_before_any_email_is_not_recovered(
    owner: FlaskClient, client: FlaskClient, app: Flask, store: Store, site: Site, worker: Worker, clock: Clock
) -> None:
    stored(app, site, {**CART_EMAIL, "steps": [{"wait": "1h"}, {"email": {}}]})
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    send(client, site, order(clock.now, 90, cart="cart:7"))  # converts the run, which goes on waiting
    clock.advance(timedelta(hours=1))
    worker.run_pass()
    assert len(outbox(store, site)) == 1  # written after the order
    assert list_row(page_of(owner, f"/workflows?site={site.id}"), "Cart email")[6] == "1"  # a conversion
    assert recovered_card(owner, site) == recovered_figures(0, "0.00")


def test_one_order_converting_runs_of_two_workflows_counts_once(
    owner: FlaskClient, client: FlaskClient, app: Flask, store: Store, site: Site, worker: Worker, clock: Clock
) -> None:
    stored(app, site, CART_EMAIL)
    receipt = {"email": {"subject": "Still yours", "transactional": True}}  # outside the email period: sent too
    stored(app, site, {**CART_EMAIL, "name": "Cart reminder", "steps": [receipt]})
    send(client, site, cart_updated(clock.now))
    send(client, site, cart_updated(clock.now, email=ANNA), cuid="d" * 20)
    catch_up(clock)
    worker.run_pass()
    assert len(outbox(store, site)) == 4  # two emails to each, one per workflow
    send(client, site, order(clock.now, 100, cart="cart:7"))
    send(client, site, order(clock.now, 30.5, cart="cart:42", email=ANNA), cuid="d" * 20)
    listed = page_of(owner, f"/workflows?site={site.id}")
    assert [list_row(listed, name)[6] for name in ("Cart email", "Cart reminder")] == ["2", "2"]
    assert recovered_card(owner, site) == recovered_figures(2, "$130.50")


def test_revenue_recovered_in_two_currencies_shows_a_line_for_each(
    owner: FlaskClient, client: FlaskClient, app: Flask, site: Site, worker: Worker, clock: Clock
) -> None:
    stored(app, site, CART_EMAIL)
    send(client, site, cart_updated(clock.now))  # Thomas's cart in dollars
    send(client, site, cart_updated(clock.now, {**GUIDE_CART, "currency": "EUR"}, email=ANNA), cuid="d" * 20)
    catch_up(clock)
    worker.run_pass()
    send(client, site, order(clock.now, 30.5, cart="cart:42"))
    send(client, site, order(clock.now, 1200, cart="cart:42", email=ANNA), cuid="d" * 20)
    assert recovered_card(owner, site) == recovered_figures(2, "€1,200.00 $30.50")  # the largest first


def test_held_out_runs_show_the_lift_of_the_workflows_against_them(
    owner: FlaskClient, client: FlaskClient, app: Flask, site: Site, worker: Worker, clock: Clock
) -> None:
    stored(app, site, {**CART_EMAIL, "holdout": 0.999999})
    send(client, site, cart_updated(clock.now))  # Thomas's run: held out, no email
    catch_up(clock)
    worker.run_pass()
    assert text_of(page_of(owner, f"/?site={site.id}"), "recovered-lift") == ""  # no sent run to compare with yet
    stored(app, site, {**CART_EMAIL, "holdout": 0})
    send(client, site, cart_updated(clock.now, email=ANNA), cuid="d" * 20)  # Anna's run: sent
    catch_up(clock)
    worker.run_pass()
    send(client, site, order(clock.now, 30, cart="cart:42", email=ANNA), cuid="d" * 20)
    measured = lift(sent_runs=1, sent_conversions=1, holdout_runs=1, holdout_conversions=0)
    assert measured is not None and measured.low < 0 < measured.high

    def points(fraction: float) -> str:
        return f"{fraction * 100:+.1f}".replace("-", "\u2212")  # a minus sign

    page = page_of(owner, f"/?site={site.id}")
    assert text_of(page, "recovered-lift") == (
        f"Lift +100.0 points (95 % interval {points(measured.low)} to {points(measured.high)}) against held-out "
        "contacts. The interval includes 0: no difference is shown yet."
    )
    assert re.search(r'<a [^>]*id="recovered-lift" href="/workflows"', page)  # where each workflow's lift is
    assert (text_of(page, "recovered-card"), text_of(page, "recovered-revenue")) == recovered_figures(1, "$30.00")


def test_the_lift_says_in_points_whether_its_interval_shows_a_difference() -> None:
    minus = "\u2212"
    assert lift_words(Lift(0.031, -0.004, 0.066)) == LiftWords(
        "+3.1",
        f"(95 % interval {minus}0.4 to +6.6) against held-out contacts.",
        "The interval includes 0: no difference is shown yet.",
    )
    assert lift_words(Lift(0.05, 0.012, 0.09)).verdict == "The emails brought more conversions, beyond chance."
    held_out_better = lift_words(Lift(-0.05, -0.09, -0.0004))
    assert (held_out_better.points, held_out_better.verdict) == (
        f"{minus}5.0",
        "Held-out contacts converted more, beyond chance.",
    )
    assert held_out_better.interval == f"(95 % interval {minus}9.0 to {minus}0.0) against held-out contacts."


def test_a_cart_the_abandoned_cart_emailed_and_ordered_is_recovered_as_before(
    owner: FlaskClient, client: FlaskClient, app: Flask, store: Store, site: Site, smtp_sink: SmtpSink
) -> None:
    store.leave_only_carts_of(site)
    send(client, site, cart_updated(utcnow()))
    store.receive_carts_at(site, utcnow() - timedelta(hours=3))  # its two hours' delay over
    Worker(app).run_pass()  # no mail server: the email is held, and an order after it is not recovered by it
    send(client, site, order(utcnow(), 280, cart="cart:42"))
    assert recovered_card(owner, site)[0] == "Recovered · 30 days 0 ordered after an email"
    send(client, site, cart_updated(utcnow(), cart="cart:43", email=ANNA), cuid="a" * 20)  # Thomas had his email
    store.receive_carts_at(site, utcnow() - timedelta(hours=3), "cart:43")
    sending = create_app({"DATABASE_URL": app.config["DATABASE_URL"], "WORKER": "external", "SMTP_URL": smtp_sink.url})
    Worker(sending).run_pass()  # with a mail server, the next cart's email goes out
    smtp_sink.wait_for(1)
    send(client, site, order(utcnow(), 280, cart="cart:43", email=ANNA), cuid="a" * 20)
    assert [(cart.state, cart.closed_reason) for cart in carts(store, site)] == [("closed", "ordered")] * 2
    assert recovered_card(owner, site) == recovered_figures(1, "$280.00")
    recovered = table_rows(page_of(owner, f"/automation?site={site.id}&status=recovered"), "runs")[1:]
    assert len(recovered) == 1 and ANNA in recovered[0][0]


@pytest.mark.skipif(on_postgres(), reason="reads SQLite's query plans")
def test_the_overview_reads_converted_runs_and_their_emails_through_their_indexes(
    owner: FlaskClient, client: FlaskClient, app: Flask, site: Site
) -> None:
    stored(app, site, {**CART_EMAIL, "holdout": 0.5})
    send(client, site, cart_updated(datetime.now(UTC)))
    with statements(app) as seen:
        page_of(owner, f"/?site={site.id}")
    plans: list[str] = []
    with app.extensions["sibyl.engine"].connect() as connection:
        for statement, parameters in seen:
            if any(table in statement for table in (" runs", " outbox", " step_counts")):
                rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
                plans += [row[-1] for row in rows]
    touching = [line for line in plans if any(table in line for table in (" runs", " outbox", " step_counts"))]
    assert any("ix_runs_site_converted" in line for line in touching)
    assert any("ix_outbox_run_created" in line for line in touching)
    assert touching and all(line.startswith("SEARCH") for line in touching), plans


# What ANALYZE leaves for one site with a million runs of 100,000 contacts, each with about two emails.
MILLION_RUNS_STATISTICS = {
    ("runs", "ix_runs_site_converted"): "1000000 1000000 8",
    ("runs", "ix_runs_contact_started"): "1000000 10 1",
    ("runs", "ix_runs_owner"): "1000000 1000000 10",
    ("runs", "ix_runs_workflow_started"): "1000000 1000000 1",
    ("runs", "ix_runs_workflow_state_step"): "1000000 1000000 333334 142858 71429",
    ("runs", "ix_runs_workflow_due"): "1000000 1000000 25",
    ("outbox", "ix_outbox_run_created"): "2000000 3 1",
    ("outbox", "ix_outbox_site_created"): "2000000 2000000 1",
    ("outbox", "ix_outbox_contact_created"): "2000000 20 1",
}


@pytest.mark.skipif(on_postgres(), reason="reads SQLite's query plans")
def test_with_a_big_sites_statistics_the_overview_still_reads_only_converted_runs(tmp_path: Path) -> None:
    """SQLite's planner, told that one site has every run, could walk all of them in contact order; the recovered
    orders must still be read as a range of the conversion index."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'analyzed.db'}")
    db.upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
        for (table, index), stat in MILLION_RUNS_STATISTICS.items():
            connection.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = ? AND idx = ?", (table, index))
            connection.exec_driver_sql("INSERT INTO sqlite_stat1 VALUES (?, ?, ?)", (table, index, stat))
    engine.dispose()  # the statistics are read when a connection opens
    seen: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append((args[2], args[3])))
    with Session(engine) as session:
        assert recovered_orders(session, 1) == Recovered(0, [])
    with engine.connect() as connection:
        ((statement, parameters),) = seen
        plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()]
    assert "SEARCH runs USING INDEX ix_runs_site_converted (site_id=? AND converted_at>?)" in plan, plan
    assert "SEARCH outbox USING INDEX ix_outbox_run_created (run_id=? AND created_at<?)" in plan, plan
    assert not [line for line in plan if line.startswith("SCAN runs")], plan
    engine.dispose()
