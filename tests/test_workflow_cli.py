"""`flask workflows …` as a site's owner uses it: import, re-import, export, enable and disable."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.automation.worker import Worker
from server.models import Site

from .support.carts import THOMAS, cart_updated
from .support.cli import cli
from .support.clock import Clock
from .support.sites import new_site
from .support.store import Store
from .test_workflow_engine import (
    ANNA,
    cart_workflow,
    catch_up,
    email,
    emails_of,
    import_workflow,
    runs_listed,
    runs_of,
    send,
    subjects,
)


@pytest.fixture
def site(app: Flask) -> Site:
    """A new site of the app in process."""
    return new_site(app)


@pytest.fixture
def worker(app: Flask, store: Store, site: Site, clock: Clock) -> Worker:
    """A worker on the test's clock, with other tests' runs ended and the site's built-in cart workflow off."""
    store.leave_only_carts_of(site)
    cli(app, "workflows", "set", site.name, "--disable")
    return Worker(app, clock)


def export(app: Flask, site: Site, name: str) -> str:
    """`workflows export SITE NAME`, which must succeed."""
    result = cli(app, "workflows", "export", site.name, name)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_re_import_keeps_runs_whose_step_is_still_there_and_exits_the_others(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    first = cart_workflow({"wait": "1h"}, email("First"), {"wait": "1h"}, email("Second"), name="Series")
    import_workflow(app, site, first, tmp_path)
    send(client, site, cart_updated(clock.now, cart="cart:1"))
    catch_up(clock)
    worker.run_pass()
    clock.advance(timedelta(hours=1))
    worker.run_pass()
    send(client, site, cart_updated(clock.now, cart="cart:2", email=ANNA), cuid="d" * 20)
    worker.run_pass()
    assert [run["step"] for run in runs_listed(app, site, "Series")] == ["steps[2]", "steps[0]"]
    output = import_workflow(app, site, cart_workflow({"wait": "1h"}, email("Only"), name="Series"), tmp_path)
    assert f"{site.name}: replaced workflow 'Series'; 1 waiting runs lost their step." in output
    thomas, anna = runs_of(app, site)
    assert (thomas.state, thomas.exit_reason) == ("exited", "step_removed")
    assert (anna.state, anna.step) == ("waiting", "steps[0]")
    clock.advance(timedelta(hours=2))
    worker.run_pass()
    assert [(sent.recipient, sent.subject) for sent in emails_of(app, site)] == [(THOMAS, "First"), (ANNA, "Only")]


def test_a_disabled_workflow_starts_no_run_and_runs_no_step_until_enabled(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    import_workflow(app, site, cart_workflow({"wait": "1h"}, email("Your cart")), tmp_path)
    send(client, site, cart_updated(clock.now, cart="cart:1"))
    catch_up(clock)
    worker.run_pass()
    assert cli(app, "workflows", "disable", site.name, "Cart").exit_code == 0
    send(client, site, cart_updated(clock.now, cart="cart:2"))
    clock.advance(timedelta(hours=2))
    worker.run_pass()
    assert subjects(app, site) == []
    (run,) = runs_listed(app, site, "Cart")
    assert (run["key"], run["state"], run["step"]) == ("cart:1", "waiting", "steps[0]")
    assert cli(app, "workflows", "enable", site.name, "Cart").exit_code == 0
    worker.run_pass()
    assert subjects(app, site) == ["Your cart"]
    send(client, site, cart_updated(clock.now, cart="cart:3"))
    assert [run["key"] for run in runs_listed(app, site, "Cart")] == ["cart:1", "cart:3"]


@pytest.mark.parametrize(
    ("steps", "path"),
    [
        (
            [{"wait": "1h"}, {"wait_for": {"event": "checkout_started", "timeout": "tomorrow"}}],
            "steps[1].wait_for.timeout",
        ),
        ([{"wait": "1h"}, {"wait_for": {"event": "checkout_started"}}], "steps[1].wait_for.timeout"),
        ([{"if": {"data": "total", "gte": 20}, "then": [{"email": {"subject": 3}}]}], "steps[0].then[0].email.subject"),
        ([{"sleep": "1h"}], "steps[0]"),
    ],
    ids=["not-a-duration", "missing", "nested", "unknown-step"],
)
def test_a_bad_document_is_refused_naming_the_path(
    app: Flask, site: Site, tmp_path: Path, steps: list[dict[str, Any]], path: str
) -> None:
    before = cli(app, "workflows", "list", site.name).output
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(cart_workflow(*steps, name="Bad")))
    result = cli(app, "workflows", "import", site.name, str(file))
    assert result.exit_code != 0
    assert f"{file}: {path}: " in result.output
    listed = cli(app, "workflows", "list", site.name)
    assert (listed.exit_code, listed.output) == (0, before)
    assert "Bad" not in listed.output


def test_a_file_that_is_not_json_is_refused(app: Flask, site: Site, tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_text('{"name": "Bad",')
    result = cli(app, "workflows", "import", site.name, str(file))
    assert result.exit_code != 0
    assert f"{file}: not JSON" in result.output


EVERYTHING = {
    "name": "Everything",
    "trigger": {"event": "cart_updated", "where": {"data.total": {"gte": 20}}, "per": "cart"},
    "restart": True,
    "exit_on": ["order_completed", "cart_deleted"],
    "reentry": False,
    "holdout": 0.1,
    "goal": {"event": "order_completed", "within": "7d"},
    "steps": [
        {"wait": "90s"},
        {
            "wait_for": {"event": "checkout_started", "timeout": "2h"},
            "then": [{"if": {"attribute": "FIRSTNAME", "exists": True}, "then": [{"exit": True}]}],
            "else": [{"email": {"subject": "Your cart", "transactional": True}}],
        },
        {"wait": "15m"},
        {"email": {"template": "follow-up"}},
    ],
}


def test_export_prints_the_document_that_imports_back_unchanged(app: Flask, site: Site, tmp_path: Path) -> None:
    import_workflow(app, site, EVERYTHING, tmp_path)
    exported = export(app, site, "Everything")
    assert json.loads(exported) == EVERYTHING
    again = tmp_path / "again.json"
    again.write_text(exported)
    result = cli(app, "workflows", "import", site.name, str(again))
    assert result.exit_code == 0, result.output
    assert "0 waiting runs lost their step" in result.output
    assert export(app, site, "Everything") == exported


def test_export_shows_a_disabled_workflow_as_disabled(app: Flask, site: Site, tmp_path: Path) -> None:
    import_workflow(app, site, EVERYTHING, tmp_path)
    assert cli(app, "workflows", "disable", site.name, "Everything").exit_code == 0
    assert json.loads(export(app, site, "Everything")) == {**EVERYTHING, "enabled": False}
    listed = cli(app, "workflows", "list", site.name).output.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [["Abandoned cart", "on"], ["Everything", "off"]]
