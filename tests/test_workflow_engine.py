"""The workflow engine: runs started, moved and ended by tracked events, and advanced by the worker's clock."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import db
from server.automation.runner import RunPass, claim_due_runs
from server.automation.stats import workflow_stats
from server.automation.worker import Worker
from server.models import Contact, OutboxEmail, Run, Site, WorkflowDefinition

from .support.carts import THOMAS, cart_updated, track
from .support.cli import cli
from .support.clock import Clock
from .support.databases import on_postgres
from .support.guide import GUIDE_CART
from .support.sites import new_site
from .support.statements import sqlite_plan, statements
from .support.store import Store

ANNA = "anna@example.com"
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36"
}


def send(client: FlaskClient, site: Site, *messages: dict[str, Any], cuid: str = "c" * 20) -> None:
    """One tracker batch posted to /collect as a browser would; every message must be stored."""
    body = {"key": site.client_key, "cuid": cuid, "messages": list(messages)}
    response = client.post("/collect", data=json.dumps(body), headers={**BROWSER, "Content-Type": "text/plain"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"stored": len(messages), "duplicates": 0}


def page_view(url: str, **properties: Any) -> dict[str, Any]:
    """The tracker's page view of `url` (its `ma_path`, when given, says the path)."""
    return {"id": str(uuid.uuid4()), "type": "page", "url": url, "properties": properties}


def identify(email: str, **attributes: Any) -> dict[str, Any]:
    """The tracker's identification of the browser's visitor as `email`."""
    return {"id": str(uuid.uuid4()), "type": "identify", "email": email, "properties": attributes}


def import_workflow(app: Flask, site: Site, document: dict[str, Any], tmp_path: Path) -> str:
    """`workflows import SITE FILE` of the document, which must succeed; what it printed."""
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(document))
    result = cli(app, "workflows", "import", site.name, str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"workflow={document['name']}"
    return result.output


def runs_listed(app: Flask, site: Site, name: str) -> list[dict[str, Any]]:
    """`workflows runs SITE NAME --json`, oldest first."""
    result = cli(app, "workflows", "runs", site.name, name, "--json")
    assert result.exit_code == 0, result.output
    runs: list[dict[str, Any]] = json.loads(result.output)["runs"]
    return sorted(runs, key=lambda run: run["id"])


def stats_of(app: Flask, site: Site, name: str) -> dict[str, Any]:
    """`workflows stats SITE NAME --json`."""
    result = cli(app, "workflows", "stats", site.name, name, "--json")
    assert result.exit_code == 0, result.output
    stats: dict[str, Any] = json.loads(result.output)
    return stats


def quiet_group(runs: int, emails: int, held: int, conversions: int, revenue: float) -> dict[str, Any]:
    """A group's figures in `workflows stats --json` whose emails were held (no mail server here): none delivered,
    opened, clicked, bounced, complained about or unsubscribed from."""
    nothing_came_of_them = dict.fromkeys(("bounced", "complained", "opened", "clicked", "delivered", "unsubscribed"), 0)
    return {
        "runs": runs,
        "emails": emails,
        "held": held,
        "conversions": conversions,
        "revenue": revenue,
        **nothing_came_of_them,
    }


def withheld_at(app: Flask, site: Site, name: str, path: str, holdout: bool = False) -> int:
    """How many runs of the group sent nothing at the email step `path`."""
    with db.new_session(app) as session:
        definition = session.scalars(
            select(WorkflowDefinition).where(WorkflowDefinition.site_id == site.id, WorkflowDefinition.name == name)
        ).one()
        return workflow_stats(session, definition.id).of(path, holdout).withheld


def runs_of(app: Flask, site: Site) -> list[Run]:
    """The site's runs as stored, oldest first."""
    with db.new_session(app) as session:
        return list(session.scalars(select(Run).where(Run.site_id == site.id).order_by(Run.id)))


def emails_of(app: Flask, site: Site) -> list[OutboxEmail]:
    """The site's outbox, oldest first."""
    with db.new_session(app) as session:
        return list(session.scalars(select(OutboxEmail).where(OutboxEmail.site_id == site.id).order_by(OutboxEmail.id)))


def subjects(app: Flask, site: Site) -> list[str]:
    """The subjects of the site's emails, oldest first."""
    return [email.subject for email in emails_of(app, site)]


def catch_up(clock: Clock) -> None:
    """Bring the worker's clock up to the receiver's, which stamps events with the real time (never back)."""
    clock.now = max(clock.now, datetime.now(UTC))


def started_earlier(app: Flask, site: Site, delta: timedelta) -> None:
    """Arrange the site's runs as if the receiver, whose clock tests cannot move, had started them `delta` earlier:
    their start and due times move with it."""
    with db.new_session(app) as session:
        for run in session.scalars(select(Run).where(Run.site_id == site.id)):
            run.started_at -= delta
            run.due_at = run.due_at - delta if run.due_at else None
        session.commit()


def cart_workflow(*steps: dict[str, Any], name: str = "Cart", **settings: Any) -> dict[str, Any]:
    """A workflow run per cart on `cart_updated` with these steps and settings."""
    return {"name": name, "trigger": {"event": "cart_updated", "per": "cart"}, **settings, "steps": list(steps)}


def email(subject: str, **options: Any) -> dict[str, Any]:
    """An email step sending the built-in cart recovery email under `subject`."""
    return {"email": {"subject": subject, **options}}


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
    """A worker on the test's clock, with other tests' runs ended and the site's built-in cart workflow off."""
    store.leave_only_carts_of(site)
    cli(app, "workflows", "set", site.name, "--disable")
    return Worker(app, clock)


@pytest.fixture
def site(app: Flask) -> Site:
    """A new site of the app in process."""
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
    (sent,) = emails_of(app, site)
    assert (sent.recipient, sent.subject, sent.step) == (THOMAS, "First reminder", "steps[1]")
    clock.advance(timedelta(hours=23))
    worker.run_pass()
    assert subjects(app, site) == ["First reminder", "Second reminder"]
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


# Steps


def test_a_wait_holds_the_next_step_until_its_time(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow({"wait": "2h"}, email("After the wait")), tmp_path)
    send(client, site, cart_updated(clock.now))
    (run,) = runs_of(app, site)
    clock.now = run.started_at
    worker.run_pass()
    clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    worker.run_pass()
    assert subjects(app, site) == []
    clock.advance(timedelta(seconds=1))
    worker.run_pass()
    assert subjects(app, site) == ["After the wait"]


WAIT_FOR_CHECKOUT = cart_workflow(
    {
        "wait_for": {"event": "checkout_started", "timeout": "2h"},
        "then": [email("Finish your checkout")],
        "else": [email("Your cart is waiting")],
    },
    name="Checkout",
)


def test_wait_for_takes_then_when_the_event_arrives(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, WAIT_FOR_CHECKOUT, tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    (run,) = runs_listed(app, site, "Checkout")
    assert (run["state"], run["step"]) == ("waiting", "steps[0]")
    send(client, site, track("checkout_started", clock.now, {"id": "cart:42"}))
    catch_up(clock)
    worker.run_pass()
    assert subjects(app, site) == ["Finish your checkout"]
    clock.advance(timedelta(hours=3))
    worker.run_pass()
    assert subjects(app, site) == ["Finish your checkout"]
    (run,) = runs_listed(app, site, "Checkout")
    assert (run["state"], run["step"]) == ("done", "steps[0].then[0]")


def test_wait_for_takes_else_at_the_timeout(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, WAIT_FOR_CHECKOUT, tmp_path)
    send(client, site, cart_updated(clock.now))
    (run,) = runs_of(app, site)
    clock.now = run.started_at
    worker.run_pass()
    clock.advance(timedelta(hours=2) - timedelta(seconds=1))
    worker.run_pass()
    assert subjects(app, site) == []
    clock.advance(timedelta(seconds=1))
    worker.run_pass()
    assert subjects(app, site) == ["Your cart is waiting"]
    (listed,) = runs_listed(app, site, "Checkout")
    assert (listed["state"], listed["step"]) == ("done", "steps[0].else[0]")


def branching(condition: dict[str, Any]) -> dict[str, Any]:
    """A cart workflow whose `if` step emails "Then" or "Else"."""
    return cart_workflow({"if": condition, "then": [email("Then")], "else": [email("Else")]}, name="Branching")


@pytest.mark.parametrize(
    ("condition", "cart_event", "branch"),
    [
        ({"attribute": "firstname", "equals": "Thomas"}, {"FIRSTNAME": "Thomas"}, "Then"),
        ({"attribute": "firstname", "equals": "Thomas"}, {"FIRSTNAME": "Anna"}, "Else"),
        ({"property": "channel", "equals": "app"}, {"channel": "app"}, "Then"),
        ({"property": "channel", "equals": "app"}, {"channel": "web"}, "Else"),
        ({"data": "total", "gte": 100}, {"data": GUIDE_CART}, "Then"),
        ({"data": "total", "gte": 100}, {"data": {**GUIDE_CART, "total": 50}}, "Else"),
    ],
    ids=["attribute-then", "attribute-else", "property-then", "property-else", "data-then", "data-else"],
)
def test_if_takes_the_branch_its_condition_says(
    app: Flask,
    client: FlaskClient,
    site: Site,
    worker: Worker,
    clock: Clock,
    tmp_path: Path,
    condition: dict[str, Any],
    cart_event: dict[str, Any],
    branch: str,
) -> None:
    import_workflow(app, site, branching(condition), tmp_path)
    send(client, site, cart_updated(clock.now, **cart_event))
    catch_up(clock)
    worker.run_pass()
    assert subjects(app, site) == [branch]


def test_an_email_step_writes_the_cart_email_to_the_runs_contact(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow(email("Your cart")), tmp_path)
    send(client, site, cart_updated(clock.now, FIRSTNAME="Thomas"))
    catch_up(clock)
    worker.run_pass()
    (sent,) = emails_of(app, site)
    (run,) = runs_of(app, site)
    assert (sent.recipient, sent.subject, sent.run_id, sent.step, sent.transactional) == (
        THOMAS,
        "Your cart",
        run.id,
        "steps[0]",
        False,
    )
    assert "Black shoes" in sent.text and "Thomas" in sent.text
    assert (run.state, run.step) == ("done", "steps[0]")


def test_an_exit_step_ends_the_run_before_the_steps_after_it(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow({"exit": True}, email("Never")), tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    assert subjects(app, site) == []
    (run,) = runs_of(app, site)
    assert (run.state, run.step, run.exit_reason) == ("exited", "steps[0]", "exit_step")


# Triggers


def test_an_event_trigger_starts_a_run_only_when_its_where_passes(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    document = cart_workflow({"wait": "1h"}, name="Big carts")
    document["trigger"]["where"] = {"data.total": {"gte": 100}, "properties.channel": {"equals": "web"}}
    import_workflow(app, site, document, tmp_path)
    send(
        client,
        site,
        cart_updated(clock.now, data={**GUIDE_CART, "total": 50}, cart="cart:small", channel="web"),
        cart_updated(clock.now, cart="cart:app", channel="app"),
        cart_updated(clock.now, cart="cart:big", channel="web"),
    )
    assert [run["key"] for run in runs_listed(app, site, "Big carts")] == ["cart:big"]


def test_a_page_trigger_matches_paths_with_a_star_over_slashes(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    document = {"name": "Product pages", "trigger": {"page": "/products/*", "per": "event"}, "steps": [{"wait": "1h"}]}
    import_workflow(app, site, document, tmp_path)
    send(
        client,
        site,
        page_view("https://shop.example/products/shoes/black?colour=black"),
        page_view("https://shop.example/p?id=7", ma_path="/products/shirts"),
        page_view("https://shop.example/about"),
        page_view("https://shop.example/products"),
        track("products_viewed", clock.now, email=None, ma_path="/products/all"),
    )
    assert len(runs_listed(app, site, "Product pages")) == 2


IDENTIFIED = {"name": "Welcome", "trigger": {"identified": True}, "steps": [{"exit": True}]}


def test_an_identified_trigger_starts_one_run_for_a_new_contact(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, IDENTIFIED, tmp_path)
    send(client, site, identify(ANNA), track("viewed", clock.now, email=ANNA))
    catch_up(clock)
    worker.run_pass()
    send(client, site, identify(ANNA))
    send(client, site, identify(ANNA), cuid="d" * 20)
    runs = runs_listed(app, site, "Welcome")
    assert [(run["contact"], run["state"]) for run in runs] == [(ANNA, "exited")]


def test_an_identified_trigger_starts_nothing_for_a_known_contact(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    send(client, site, track("viewed", clock.now, email=THOMAS))
    import_workflow(app, site, IDENTIFIED, tmp_path)
    send(client, site, identify(THOMAS), cuid="d" * 20)
    assert runs_listed(app, site, "Welcome") == []


# What one run follows


def test_per_cart_two_carts_make_two_runs(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow({"wait": "1h"}), tmp_path)
    send(client, site, cart_updated(clock.now, cart="cart:1"), cart_updated(clock.now, cart="cart:2"))
    send(client, site, cart_updated(clock.now, cart="cart:1"))
    assert [(run["key"], run["contact"]) for run in runs_listed(app, site, "Cart")] == [
        ("cart:1", THOMAS),
        ("cart:2", THOMAS),
    ]


def test_per_contact_two_carts_make_one_run(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    document = {"name": "Shoppers", "trigger": {"event": "cart_updated"}, "steps": [{"wait": "1h"}]}
    import_workflow(app, site, document, tmp_path)
    send(client, site, cart_updated(clock.now, cart="cart:1"), cart_updated(clock.now, cart="cart:2"))
    send(client, site, cart_updated(clock.now, cart="cart:3", email=ANNA), cuid="d" * 20)
    runs = runs_listed(app, site, "Shoppers")
    assert [(run["key"], run["contact"]) for run in runs] == [("", THOMAS), ("", ANNA)]


def test_per_event_each_event_makes_a_run(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    document = {"name": "Searches", "trigger": {"event": "searched", "per": "event"}, "steps": [{"wait": "1h"}]}
    import_workflow(app, site, document, tmp_path)
    first, second = track("searched", clock.now), track("searched", clock.now)
    send(client, site, first, second)
    runs = runs_listed(app, site, "Searches")
    assert [run["key"] for run in runs] == [first["id"], second["id"]]


# Restart and re-entry


def test_a_restart_counts_the_wait_again_from_the_new_event(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, SERIES, tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    started_earlier(app, site, timedelta(minutes=50))  # the first reminder is due in 10 minutes
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    clock.advance(timedelta(minutes=15))
    worker.run_pass()
    assert subjects(app, site) == []
    clock.advance(timedelta(minutes=45))
    worker.run_pass()
    clock.advance(timedelta(minutes=10))
    worker.run_pass()
    assert subjects(app, site) == ["First reminder"]
    (run,) = runs_of(app, site)
    assert (run.state, run.step, run.cycle) == ("waiting", "steps[2]", 2)


def test_without_restart_a_second_trigger_leaves_the_run_going_on(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, {**SERIES, "restart": False}, tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    started_earlier(app, site, timedelta(minutes=50))
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    clock.advance(timedelta(minutes=15))
    worker.run_pass()
    assert subjects(app, site) == ["First reminder"]
    (run,) = runs_of(app, site)
    assert (run.step, run.cycle) == ("steps[2]", 1)


def test_with_reentry_an_ended_run_is_followed_by_a_new_one(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow(email("Your cart", transactional=True)), tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    assert [run["state"] for run in runs_listed(app, site, "Cart")] == ["done", "done"]
    assert subjects(app, site) == ["Your cart", "Your cart"]


def test_without_reentry_a_key_never_has_a_second_run(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow(email("Your cart", transactional=True), reentry=False), tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    clock.advance(timedelta(days=30))
    worker.run_pass()
    send(client, site, cart_updated(clock.now, cart="cart:7"))
    assert [(run["key"], run["state"]) for run in runs_listed(app, site, "Cart")] == [
        ("cart:42", "done"),
        ("cart:7", "waiting"),
    ]
    assert subjects(app, site) == ["Your cart"]


def test_without_reentry_a_cart_ordered_and_filled_again_is_a_new_cart(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow(email("Your cart", transactional=True), reentry=False), tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    send(client, site, track("order_completed", clock.now, {"id": "cart:42", "data": {"total": 30}}))
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    assert [(run["key"], run["state"]) for run in runs_listed(app, site, "Cart")] == [
        ("cart:42", "done"),
        ("cart:42", "done"),
    ]
    assert subjects(app, site) == ["Your cart", "Your cart"]


# Exit events


def test_an_exit_event_naming_a_cart_ends_that_carts_run_only(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, SERIES, tmp_path)
    send(client, site, cart_updated(clock.now, cart="cart:1"), cart_updated(clock.now, cart="cart:2"))
    send(client, site, track("cart_deleted", clock.now, {"id": "cart:1"}))
    states = {run["key"]: run["state"] for run in runs_listed(app, site, "Cart series")}
    assert states == {"cart:1": "exited", "cart:2": "waiting"}


def test_an_exit_event_naming_no_cart_ends_every_cart_run_of_its_owner(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, SERIES, tmp_path)
    send(client, site, cart_updated(clock.now, cart="cart:1"), cart_updated(clock.now, cart="cart:2"))
    send(client, site, cart_updated(clock.now, cart="cart:3", email=ANNA), cuid="d" * 20)
    send(client, site, track("order_completed", clock.now, {"data": {"total": 30}}))
    states = {run["key"]: run["state"] for run in runs_listed(app, site, "Cart series")}
    assert states == {"cart:1": "exited", "cart:2": "exited", "cart:3": "waiting"}


# Holdout


def test_a_held_out_run_goes_through_its_steps_and_sends_nothing(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow({"wait": "1h"}, email("Your cart"), holdout=0.999999), tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    clock.advance(timedelta(hours=1))
    worker.run_pass()
    assert emails_of(app, site) == []
    (run,) = runs_listed(app, site, "Cart")
    assert (run["group"], run["state"], run["step"]) == ("holdout", "done", "steps[1]")
    assert stats_of(app, site, "Cart")["groups"] == {
        "sent": quiet_group(0, 0, 0, 0, 0),
        "holdout": quiet_group(1, 0, 0, 0, 0),
    }
    assert withheld_at(app, site, "Cart", "steps[1]", holdout=True) == 1


def test_without_holdout_every_run_sends(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow({"wait": "1h"}, email("Your cart"), holdout=0), tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    clock.advance(timedelta(hours=1))
    worker.run_pass()
    assert subjects(app, site) == ["Your cart"]
    (run,) = runs_listed(app, site, "Cart")
    assert (run["group"], run["state"]) == ("sent", "done")
    stats = stats_of(app, site, "Cart")
    assert stats["groups"]["sent"] == quiet_group(1, 1, 1, 0, 0)
    assert stats["groups"]["holdout"]["runs"] == 0
    assert stats["lift"] is None


# Goals


def recovered(**settings: Any) -> dict[str, Any]:
    """A one-email cart workflow whose goal is an order within 7 days; an order of the cart ends it."""
    return cart_workflow(
        email("Your cart"),
        name="Recovered",
        exit_on=["order_completed"],
        goal={"event": "order_completed", "within": "7d"},
        **settings,
    )


def emailed_cart(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path, **settings: Any
) -> None:
    """The `recovered` workflow on the site and Thomas's cart:42 emailed by it."""
    import_workflow(app, site, recovered(**settings), tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    assert subjects(app, site) == ["Your cart"]


def order(moment: datetime, data: dict[str, Any], cart: str = "cart:42", email: str = THOMAS) -> dict[str, Any]:
    """The tracker's `order_completed` of `cart` by `email`."""
    return track("order_completed", moment, {"id": cart, "data": data}, email=email)


def test_a_goal_within_the_window_converts_the_contacts_run_whatever_the_cart(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    """Another contact's order converts nothing; the contact's own, reported by the shop's server for another
    cart id, converts the run."""
    emailed_cart(app, client, site, worker, clock, tmp_path)
    send(client, site, order(clock.now, {"total": 99}, cart="cart:77", email=ANNA), cuid="d" * 20)
    assert stats_of(app, site, "Recovered")["groups"]["sent"]["conversions"] == 0
    shop = {"email": THOMAS, "event": "order_completed", "eventdata": {"id": "cart:99", "data": {"total": 30}}}
    assert client.post("/api/v2/trackEvent", json=shop, headers={"ma-key": site.client_key}).status_code == 204
    (run,) = runs_of(app, site)
    assert (run.converted_at is not None, run.revenue) == (True, 30)
    sent = stats_of(app, site, "Recovered")["groups"]["sent"]
    assert sent == quiet_group(1, 1, 1, 1, 30)


def test_a_goals_revenue_is_its_data_revenue_before_its_total(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    emailed_cart(app, client, site, worker, clock, tmp_path)
    send(client, site, order(clock.now, {"revenue": 12.5, "total": 30}))
    (run,) = runs_of(app, site)
    assert run.revenue == 12.5
    assert stats_of(app, site, "Recovered")["groups"]["sent"]["revenue"] == 12.5


def test_the_stats_table_writes_revenue_as_the_sites_locale_and_currency_do(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    emailed_cart(app, client, site, worker, clock, tmp_path)
    send(client, site, order(clock.now, {"total": 1448.4}))
    with db.new_session(app) as session:
        stored = session.get_one(Site, site.id)
        stored.locale, stored.display_currency = "fr_FR", "EUR"
        session.commit()
    result = cli(app, "workflows", "stats", site.name, "Recovered")
    assert result.exit_code == 0, result.output
    sent = next(line for line in result.output.splitlines() if line.startswith("sent "))
    assert sent.split(maxsplit=5)[5].strip() == "1\u202f448,40\xa0€"  # French: narrow spaces, comma, euro after
    assert stats_of(app, site, "Recovered")["groups"]["sent"]["revenue"] == 1448.4  # the JSON stays a number


def test_a_run_converts_at_most_once(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    emailed_cart(app, client, site, worker, clock, tmp_path)
    send(client, site, order(clock.now, {"total": 30}))
    send(client, site, order(clock.now, {"total": 45}, cart="cart:43"))
    sent = stats_of(app, site, "Recovered")["groups"]["sent"]
    assert (sent["conversions"], sent["revenue"]) == (1, 30)
    (run,) = runs_of(app, site)
    assert run.revenue == 30


def test_a_goal_after_the_window_converts_nothing(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    emailed_cart(app, client, site, worker, clock, tmp_path)
    started_earlier(app, site, timedelta(days=7, minutes=1))
    send(client, site, order(clock.now, {"total": 30}))
    (run,) = runs_of(app, site)
    assert (run.converted_at, run.revenue) == (None, None)
    assert stats_of(app, site, "Recovered")["groups"]["sent"]["conversions"] == 0


def test_the_lift_appears_once_both_groups_have_runs(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, recovered(holdout=0.999999), tmp_path)
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    assert stats_of(app, site, "Recovered")["lift"] is None
    import_workflow(app, site, recovered(holdout=0), tmp_path)
    send(client, site, cart_updated(clock.now, email=ANNA), cuid="d" * 20)
    catch_up(clock)
    worker.run_pass()
    send(client, site, order(clock.now, {"total": 30}, email=ANNA), cuid="d" * 20)
    stats = stats_of(app, site, "Recovered")
    assert stats["groups"] == {
        "sent": quiet_group(1, 1, 1, 1, 30),
        "holdout": quiet_group(1, 0, 0, 0, 0),
    }
    assert stats["lift"]["value"] == 1.0
    assert stats["lift"]["low"] < 1.0 <= stats["lift"]["high"]


# Anonymous visitors


def test_an_anonymous_run_waits_at_its_email_until_identified(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow({"wait": "1h"}, email("Your cart")), tmp_path)
    send(client, site, cart_updated(clock.now, email=None), cuid="v" * 20)
    catch_up(clock)
    worker.run_pass()
    clock.advance(timedelta(days=2))
    worker.run_pass()
    (run,) = runs_listed(app, site, "Cart")
    assert (run["contact"], run["state"], run["step"], run["due_at"]) == (None, "waiting", "steps[0]", None)
    assert emails_of(app, site) == []
    send(client, site, identify(THOMAS), cuid="v" * 20)
    worker.run_pass()
    (sent,) = emails_of(app, site)
    assert (sent.recipient, sent.step) == (THOMAS, "steps[1]")
    (run,) = runs_listed(app, site, "Cart")
    assert (run["contact"], run["state"]) == (THOMAS, "done")


# The email period across workflows


def two_workflows(app: Flask, site: Site, tmp_path: Path, follow_up: dict[str, Any]) -> None:
    """ "Reminder" emails a cart at once, "Follow-up" an hour later with the email step given."""
    import_workflow(app, site, cart_workflow(email("Reminder"), name="Reminder"), tmp_path)
    import_workflow(app, site, cart_workflow({"wait": "1h"}, follow_up, name="Follow-up"), tmp_path)


def emails_at_the_start_and_an_hour_later(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock
) -> list[str]:
    """Thomas's cart, a worker pass at once and an hour later: the subjects of the emails written."""
    send(client, site, cart_updated(clock.now))
    catch_up(clock)
    worker.run_pass()
    clock.advance(timedelta(hours=1))
    worker.run_pass()
    return subjects(app, site)


def test_a_second_workflows_email_within_the_period_is_withheld(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    two_workflows(app, site, tmp_path, email("Follow-up"))
    assert emails_at_the_start_and_an_hour_later(app, client, site, worker, clock) == ["Reminder"]
    assert withheld_at(app, site, "Follow-up", "steps[1]") == 1
    _, followed = runs_of(app, site)
    assert (followed.state, followed.step) == ("done", "steps[1]")


def test_a_transactional_email_ignores_the_period(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    two_workflows(app, site, tmp_path, email("Follow-up", transactional=True))
    assert emails_at_the_start_and_an_hour_later(app, client, site, worker, clock) == ["Reminder", "Follow-up"]


def test_an_email_period_of_zero_lifts_the_cap(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    result = cli(app, "sites", "set", site.name, "--email-period", "0")
    assert result.exit_code == 0, result.output
    two_workflows(app, site, tmp_path, email("Follow-up"))
    assert emails_at_the_start_and_an_hour_later(app, client, site, worker, clock) == ["Reminder", "Follow-up"]


# Quiet hours


def quiet_around(moment: datetime, zone: str) -> tuple[str, datetime]:
    """Quiet hours from an hour before `moment` to two hours after it, on the clock of `zone`; when they end."""
    local = moment.astimezone(ZoneInfo(zone))
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}", end.replace(second=0, microsecond=0).astimezone(UTC)


def quiet_site(app: Flask, site: Site, quiet: str, zone: str = "UTC") -> None:
    result = cli(app, "sites", "set", site.name, "--quiet-hours", quiet, "--time-zone", zone)
    assert result.exit_code == 0, result.output
    assert f"quiet hours {quiet}, time zone {zone}" in result.output


def thomas_in(app: Flask, site: Site, zone: str | None) -> None:
    """Thomas's browser said it is in `zone` (None: it never said)."""
    with db.new_session(app) as session:
        contact = session.scalars(select(Contact).where(Contact.site_id == site.id, Contact.email == THOMAS)).one()
        contact.time_zone = zone
        session.commit()


def cart_emailed_at_once(
    app: Flask, client: FlaskClient, site: Site, clock: Clock, tmp_path: Path, zone: str | None, **options: Any
) -> None:
    """A workflow emailing Thomas's cart as soon as it is updated, and his cart, his browser in `zone`."""
    import_workflow(app, site, cart_workflow(email("Your cart", **options)), tmp_path)
    send(client, site, cart_updated(clock.now))
    thomas_in(app, site, zone)
    catch_up(clock)


def test_an_email_due_in_the_contacts_quiet_hours_waits_for_their_end_in_the_contacts_zone(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    quiet, ends = quiet_around(clock.now, "Asia/Tokyo")
    quiet_site(app, site, quiet, zone="Pacific/Honolulu")  # nineteen hours behind Tokyo: outside the span there
    cart_emailed_at_once(app, client, site, clock, tmp_path, "Asia/Tokyo")
    worker.run_pass()
    assert subjects(app, site) == []
    (run,) = runs_of(app, site)
    assert (run.state, run.cursor, run.due_at) == ("waiting", "steps[0]", ends)
    clock.now = ends - timedelta(seconds=1)
    worker.run_pass()
    assert subjects(app, site) == []
    clock.now = ends
    worker.run_pass()
    assert subjects(app, site) == ["Your cart"]
    assert [(run.state, run.step) for run in runs_of(app, site)] == [("done", "steps[0]")]


def test_a_contact_whose_browser_never_said_its_zone_has_the_sites_quiet_hours(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    quiet, ends = quiet_around(clock.now, "America/New_York")
    quiet_site(app, site, quiet, zone="America/New_York")
    cart_emailed_at_once(app, client, site, clock, tmp_path, None)
    worker.run_pass()
    assert subjects(app, site) == []
    assert [run.due_at for run in runs_of(app, site)] == [ends]


def test_outside_the_contacts_quiet_hours_the_email_goes_at_once(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    quiet, _ = quiet_around(clock.now, "Asia/Tokyo")
    quiet_site(app, site, quiet, zone="Asia/Tokyo")
    cart_emailed_at_once(app, client, site, clock, tmp_path, "Pacific/Honolulu")
    worker.run_pass()
    assert subjects(app, site) == ["Your cart"]


def test_a_transactional_email_ignores_quiet_hours(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    quiet, _ = quiet_around(clock.now, "UTC")
    quiet_site(app, site, quiet)
    cart_emailed_at_once(app, client, site, clock, tmp_path, "UTC", transactional=True)
    worker.run_pass()
    assert subjects(app, site) == ["Your cart"]


def test_quiet_hours_off_send_at_once(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    quiet, _ = quiet_around(clock.now, "UTC")
    quiet_site(app, site, quiet)
    result = cli(app, "sites", "set", site.name, "--quiet-hours", "off")
    assert "quiet hours off" in result.output
    cart_emailed_at_once(app, client, site, clock, tmp_path, "UTC")
    worker.run_pass()
    assert subjects(app, site) == ["Your cart"]


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--quiet-hours", "25:00-08:00", "24-hour clock"),
        ("--quiet-hours", "21:00", "24-hour clock"),
        ("--quiet-hours", "08:00-08:00", "starts and ends at the same time"),
        ("--time-zone", "Mars/Olympus_Mons", "not an IANA time zone"),
    ],
)
def test_sites_set_refuses_quiet_hours_and_zones_it_cannot_read(
    app: Flask, site: Site, option: str, value: str, said: str
) -> None:
    result = cli(app, "sites", "set", site.name, option, value)
    assert result.exit_code == 2
    assert option in result.output and said in result.output


# Several workers


TWO_REMINDERS = cart_workflow(
    email("Your cart"), {"wait": "1h"}, email("Your cart, again", transactional=True), name="Two reminders"
)
SHOPPERS = [THOMAS, ANNA, "bo@example.com"]


def carts_of_shoppers(client: FlaskClient, site: Site, clock: Clock) -> None:
    """A cart from each shopper, each in a browser of their own; the clock caught up with them."""
    for index, shopper in enumerate(SHOPPERS):
        send(client, site, cart_updated(clock.now, email=shopper), cuid=f"{index}" * 20)
    catch_up(clock)


def test_two_workers_passing_the_same_runs_write_each_email_once(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    other = Worker(app, clock)
    import_workflow(app, site, TWO_REMINDERS, tmp_path)
    carts_of_shoppers(client, site, clock)
    for first, second in ((worker, other), (other, worker), (worker, other)):
        first.run_pass()
        second.run_pass()
        clock.advance(timedelta(minutes=30))
    written = Counter((sent.recipient, sent.step) for sent in emails_of(app, site))
    assert written == {(shopper, step): 1 for shopper in SHOPPERS for step in ("steps[0]", "steps[2]")}


@pytest.mark.skipif(on_postgres(), reason="reads SQLite's query plans")
def test_a_claim_reads_only_due_runs_of_enabled_workflows_through_their_index(
    app: Flask, site: Site, clock: Clock
) -> None:
    """However many overdue runs a workflow switched off keeps, a pass never reads them (the site's own
    Abandoned cart is on: there is a workflow to read runs of)."""
    with statements(app) as seen, db.new_session(app) as session:
        claim_due_runs(session, clock.now, timedelta(minutes=1))
    ((statement, parameters),) = [(text, values) for text, values in seen if "UPDATE runs" in text]
    plan = sqlite_plan(app, statement, parameters)
    assert any("ix_runs_workflow_due (workflow_id=? AND due_at<?)" in line for line in plan), plan
    assert not any(line.startswith("SCAN runs") for line in plan), plan


def test_a_claim_outlived_by_its_lease_writes_nothing_twice(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    """A worker stalls between claiming due runs and advancing them; its lease runs out, another worker takes
    and advances them; the stalled one then finishes its pass."""
    other = Worker(app, clock)
    import_workflow(app, site, TWO_REMINDERS, tmp_path)
    carts_of_shoppers(client, site, clock)
    with db.new_session(app) as stalled:
        claimed = claim_due_runs(stalled, clock.now, worker.lease)
        assert len(claimed) == len(SHOPPERS)
        assert other.run_pass() == 0
        clock.advance(worker.lease + timedelta(seconds=1))
        other.run_pass()
        assert RunPass(stalled, worker.mailer, clock.now).handle(claimed) == 0
        stalled.commit()
    written = Counter((sent.recipient, sent.step) for sent in emails_of(app, site))
    assert written == {(shopper, "steps[0]"): 1 for shopper in SHOPPERS}


def test_two_claims_of_the_same_runs_write_each_email_once(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    """A worker's lease runs out before it advances its runs; another claims them too; the first finishes first,
    then the second."""
    import_workflow(app, site, TWO_REMINDERS, tmp_path)
    carts_of_shoppers(client, site, clock)
    with db.new_session(app) as early, db.new_session(app) as late:
        early_claim = claim_due_runs(early, clock.now, worker.lease)
        clock.advance(worker.lease + timedelta(seconds=1))
        late_claim = claim_due_runs(late, clock.now, worker.lease)
        assert sorted(claimed[0] for claimed in late_claim) == sorted(claimed[0] for claimed in early_claim)
        assert RunPass(early, worker.mailer, clock.now).handle(early_claim) == len(SHOPPERS)
        early.commit()
        assert RunPass(late, worker.mailer, clock.now).handle(late_claim) == 0
        late.commit()
    written = Counter((sent.recipient, sent.step) for sent in emails_of(app, site))
    assert written == {(shopper, "steps[0]"): 1 for shopper in SHOPPERS}
