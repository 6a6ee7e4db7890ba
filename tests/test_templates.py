"""A shop's email templates as its owner uses them: `flask templates set|list|render`, versions an email keeps,
the shipped defaults, and what the worker writes from them (or records when one cannot be rendered)."""

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
from server.models import OutboxEmail, Site

from .support.carts import THOMAS, cart_updated
from .support.cli import cli
from .support.clock import Clock
from .support.sites import new_site
from .support.store import Store
from .test_workflow_engine import catch_up, import_workflow, send

BREVO_TEMPLATE = """<html><body>
<p>Hello {{ contact.FIRSTNAME | default : "there" }},</p>
<ul>{% for item in params.items %}<li>{{ item.name }}: {{ item.price | floatformat: 2 }}</li>
{% empty %}<li>nothing</li>{% endfor %}</ul>
<p>Total {{ params.total|floatformat:2 }}</p>
<a href="{{ unsubscribe }}">Unsubscribe</a>
</body></html>
"""


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, origins=["https://shop.example"])


@pytest.fixture
def worker(app: Flask, store: Store, site: Site, clock: Clock) -> Worker:
    """A worker on the test's clock, with other tests' runs ended and the site's built-in cart workflow off."""
    store.leave_only_carts_of(site)
    cli(app, "workflows", "set", site.name, "--disable")
    return Worker(app, clock)


def set_template(app: Flask, site: Site, name: str, html: str, tmp_path: Path, *options: str) -> Any:
    path = tmp_path / f"{name}.html"
    path.write_text(html)
    return cli(app, "templates", "set", site.name, name, "--html", str(path), *options)


def saved(app: Flask, site: Site, name: str, html: str, tmp_path: Path, *options: str) -> int:
    result = set_template(app, site, name, html, tmp_path, *options)
    assert result.exit_code == 0, result.output
    return int(result.output.strip().splitlines()[-1].removeprefix("version="))


def emails_of(app: Flask, site: Site) -> list[OutboxEmail]:
    with db.new_session(app) as session:
        return list(session.scalars(select(OutboxEmail).where(OutboxEmail.site_id == site.id).order_by(OutboxEmail.id)))


def thomas_with_a_cart(client: FlaskClient, site: Site, clock: Clock) -> None:
    send(client, site, cart_updated(clock.now, FIRSTNAME="Thomas"))
    catch_up(clock)


def cart_1_to_thomas(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> OutboxEmail:
    """The email a workflow sending `cart-1` at once writes for Thomas's cart."""
    steps = [{"email": {"template": "cart-1"}}]
    import_workflow(
        app, site, {"name": "C", "trigger": {"event": "cart_updated", "per": "cart"}, "steps": steps}, tmp_path
    )
    thomas_with_a_cart(client, site, clock)
    worker.run_pass()
    (email,) = emails_of(app, site)
    return email


# The commands


def test_set_saves_a_new_version_each_time_and_list_shows_them_beside_the_defaults(
    app: Flask, site: Site, tmp_path: Path
) -> None:
    assert saved(app, site, "cart-1", BREVO_TEMPLATE, tmp_path, "--subject", "Your cart") == 1
    assert saved(app, site, "cart-1", BREVO_TEMPLATE.replace("Hello", "Hi"), tmp_path) == 2
    listed = cli(app, "templates", "list", site.name).output.splitlines()
    assert any(line.startswith("cart-1  v2  ") and line.endswith("Your cart") for line in listed), listed
    assert any(line.startswith("welcome-1  default  -  ") for line in listed), listed


@pytest.mark.parametrize(
    ("html", "said"),
    [
        ("{% load static %}", "load"),
        ("{% include 'x.html' %}", "include"),
        ("{% debug %}", "debug"),
        ("{{ contact.FIRSTNAME|pprint }}", "pprint"),
        ("{% if %}", "html: line 2: Unexpected end of expression in if tag"),
    ],
)
def test_set_refuses_a_template_outside_the_language_naming_it(
    app: Flask, site: Site, tmp_path: Path, html: str, said: str
) -> None:
    result = set_template(app, site, "bad", f"<p>Hi</p>\n{html}", tmp_path, "--subject", "Hi")
    assert result.exit_code != 0
    assert said in result.output
    assert not any(line.startswith("bad ") for line in cli(app, "templates", "list", site.name).output.splitlines())


def test_render_prints_what_would_be_sent_with_the_contact_and_the_data(
    app: Flask, client: FlaskClient, site: Site, clock: Clock, tmp_path: Path
) -> None:
    thomas_with_a_cart(client, site, clock)
    saved(app, site, "cart-1", BREVO_TEMPLATE, tmp_path, "--subject", "{{ contact.FIRSTNAME }}, your cart")
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"items": [{"name": "Tea <b>", "price": 4.5}], "total": 4.5}))
    result = cli(app, "templates", "render", site.name, "cart-1", "--contact", THOMAS, "--data", str(data), "--json")
    assert result.exit_code == 0, result.output
    rendered = json.loads(result.output)
    assert rendered["subject"] == "Thomas, your cart"
    assert "Hello Thomas," in rendered["html"] and "Tea &lt;b&gt;: 4.50" in rendered["html"]
    assert "Total 4.50" in rendered["text"] and "/unsubscribe/" in rendered["text"]


def test_render_names_an_unknown_contact_or_template(app: Flask, site: Site) -> None:
    result = cli(app, "templates", "render", site.name, "cart-1", "--contact", "nobody@example.com")
    assert result.exit_code == 2 and "no such contact" in result.output


# What the worker writes


def test_an_email_keeps_the_version_it_was_written_from_and_later_ones_use_the_new(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    """A template changed while a run waits: the email written before the change keeps its text, the next uses
    the new version."""
    saved(app, site, "reminder", "<p>First design</p>", tmp_path, "--subject", "Your cart")
    steps = [
        {"email": {"template": "reminder"}},
        {"wait": "1h"},
        {"email": {"template": "reminder", "transactional": True}},
    ]
    import_workflow(
        app, site, {"name": "Two", "trigger": {"event": "cart_updated", "per": "cart"}, "steps": steps}, tmp_path
    )
    thomas_with_a_cart(client, site, clock)
    worker.run_pass()
    assert saved(app, site, "reminder", "<p>Second design</p>", tmp_path) == 2
    clock.advance(timedelta(hours=1))
    worker.run_pass()
    first, second = emails_of(app, site)
    assert (first.template, first.template_version, second.template_version) == ("reminder", 1, 2)
    assert "First design" in first.html and "Second design" in second.html
    assert first.subject == second.subject == "Your cart"


def test_a_template_that_fails_to_render_is_a_recorded_failure_and_the_worker_goes_on(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    """Three loops nested over a cart of 30 items: 27,000 turns, over the render budget."""
    loop = "{% for {{name}} in params.items %}"
    nested = loop.replace("{{name}}", "a") + loop.replace("{{name}}", "b") + loop.replace("{{name}}", "c")
    nested += "x{% endfor %}{% endfor %}{% endfor %}"
    saved(app, site, "greedy", nested, tmp_path, "--subject", "Greedy")
    saved(app, site, "plain", "<p>Plain</p>", tmp_path, "--subject", "Plain")
    steps = [{"email": {"template": "greedy"}}, {"email": {"template": "plain", "transactional": True}}]
    import_workflow(
        app, site, {"name": "G", "trigger": {"event": "cart_updated", "per": "cart"}, "steps": steps}, tmp_path
    )
    items = [{"name": f"item {n}", "price": 1, "quantity": 1} for n in range(30)]
    send(client, site, cart_updated(clock.now, data={"items": items, "total": 30}))
    catch_up(clock)
    worker.run_pass()
    failed, plain = emails_of(app, site)
    assert (failed.status, plain.subject) == ("failed", "Plain")
    assert failed.last_error is not None and "template 'greedy' v1" in failed.last_error
    listed = cli(app, "outbox", "list").output
    assert "template 'greedy' v1" in listed


def test_the_shipped_defaults_send_with_the_shops_brand(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    email = cart_1_to_thomas(app, client, site, worker, clock, tmp_path)
    assert (email.template, email.template_version, email.status) == ("cart-1", 0, "held")
    assert email.subject == "You left something in your cart"
    assert "Hi Thomas," in email.html and "/unsubscribe/" in email.html


# The shop's brand


def test_the_brand_shows_in_the_default_templates_and_the_from(
    app: Flask, client: FlaskClient, site: Site, worker: Worker, clock: Clock, tmp_path: Path
) -> None:
    result = cli(
        app,
        "sites",
        "brand",
        site.name,
        "--sender-name",
        "Tea Shop",
        "--sender-email",
        "hello@shop.example",
        "--logo",
        "https://shop.example/logo.png",
        "--accent",
        "#0F766E",
        "--address",
        "1 Tea Street\nLeeds",
        "--intro",
        "Free delivery <this week>.",
    )
    assert result.exit_code == 0, result.output
    assert "accent_color: #0f766e" in result.output
    email = cart_1_to_thomas(app, client, site, worker, clock, tmp_path)
    assert email.sender == "Tea Shop <hello@shop.example>"
    assert 'src="https://shop.example/logo.png"' in email.html and "#0f766e" in email.html
    assert "1 Tea Street<br>Leeds" in email.html and "Free delivery &lt;this week&gt;." in email.html


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--accent", "teal", "#rrggbb"),
        ("--sender-email", "not an address", "not an email address"),
        ("--sender-name", 'Tea "Shop"', "without < > or quotes"),
        ("--logo", "javascript:alert(1)", "http(s) URL"),
        ("--locale", "xx_YY", "not a locale"),
    ],
)
def test_brand_values_that_cannot_be_kept_are_refused_naming_the_option(
    app: Flask, site: Site, option: str, value: str, said: str
) -> None:
    result = cli(app, "sites", "brand", site.name, option, value)
    assert result.exit_code == 2 and option in result.output and said in result.output
