"""Clicks and opens of automation emails, end to end: a real SMTP server receives the email, its link is followed in
Chromium to the shop's page, and the click is an event on the contact's timeline; link scanners (HEAD, their user
agents, a click within a second of delivery) are counted apart; forged links are 404s; the open pixel is off until
the site turns it on."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page
from sqlalchemy import select

from server import db
from server.automation.worker import Worker
from server.email_templates.finishing import finish
from server.ingest.email_engagement import CLICK_WINDOW, Scanner, scanner
from server.mail.tracked_links import read_click, tracking
from server.models import Contact, Event, OutboxEmail, Run, Site, WorkflowDefinition

from .support.browser import BROWSER_HEADERS, PageHost
from .support.carts import DELAY, THOMAS, cart_updated, outbox
from .support.cli import cli
from .support.clock import Clock
from .support.collect import send
from .support.dashboard import csrf_token
from .support.guide import GUIDE_CART
from .support.servers import Process
from .support.smtp_sink import SmtpSink, body
from .support.store import Store
from .support.waiting import wait_until
from .support.workers import worker_linking_back

SCANNER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b"


@pytest.fixture
def shop_page(page_host: PageHost) -> str:
    """The shop's cart page, on a host of its own (127.0.0.1, which the site's emails may link to)."""
    return page_host.add("/cart", body="<h1 id='cart'>Your cart</h1>")


@pytest.fixture
def site(store: Store) -> Site:
    return store.create_site(email_hosts=("127.0.0.1",))


@pytest.fixture
def worker(store: Store, site: Site, smtp_sink: SmtpSink, clock: Clock, receiver: Process) -> Worker:
    return worker_linking_back(store, site, smtp_sink, clock, receiver)


def email_the_cart(
    receiver: Process, site: Site, store: Store, worker: Worker, smtp_sink: SmtpSink, clock: Clock, shop_page: str
) -> EmailMessage:
    """The built-in cart email for a cart whose page is `shop_page`, sent at the clock's time and received."""
    send(receiver, site, cart_updated(clock.now, data={**GUIDE_CART, "url": shop_page}))
    store.receive_carts_at(site, clock.now - DELAY)  # due now
    worker.run_pass()
    [email] = smtp_sink.wait_for(1)
    return email


def cart_link(email: EmailMessage, receiver: Process) -> str:
    """The URL of the email's "Return to your cart" button, as the HTML part has it."""
    found = re.search(r'<a href="([^"]+)"[^>]*>\s*Return to your cart', body(email, "html"))
    assert found is not None
    link = found.group(1).replace("&amp;", "&")
    assert link.startswith(receiver.url + "/r/")
    return link


def events(store: Store, site: Site, name: str) -> list[Event]:
    return [event for event in store.events(site, "track") if event.name == name]


def stats(store: Store, site: Site, name: str | None = None) -> dict[str, Any]:
    """`workflows stats --json` of the workflow `name`, by default the site's one (the cart preset)."""
    if name is None:
        with db.new_session(store.app) as session:
            name = session.scalars(select(WorkflowDefinition.name).where(WorkflowDefinition.site_id == site.id)).one()
    result = cli(store.app, "workflows", "stats", site.name, name, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.output)
    return document


def test_a_link_followed_in_chromium_lands_on_the_shop_and_is_a_click_on_the_timeline(
    receiver: Process,
    site: Site,
    store: Store,
    worker: Worker,
    smtp_sink: SmtpSink,
    clock: Clock,
    shop_page: str,
    page: Page,
    owner: FlaskClient,
) -> None:
    clock.advance(timedelta(seconds=-30))  # the email went out half a minute ago: no scanner is that slow
    email = email_the_cart(receiver, site, store, worker, smtp_sink, clock, shop_page)
    link = cart_link(email, receiver)
    assert link in body(email, "plain")  # the text part's link is counted too
    assert shop_page not in body(email, "html") + body(email, "plain")  # only through the redirect

    page.goto(link)
    assert page.url == shop_page
    assert page.locator("#cart").inner_text() == "Your cart"

    [clicked] = wait_until(lambda: events(store, site, "email_clicked"))
    [sent] = outbox(store, site)
    contact = store.contact(site, THOMAS)
    assert contact is not None and clicked.contact_id == contact.id
    assert clicked.properties["link"] == shop_page
    assert clicked.properties["email_id"] == sent.id
    assert clicked.properties["step"] == sent.step
    assert clicked.properties["workflow"] and clicked.properties["workflow_id"]
    assert "scanner" not in clicked.properties
    assert sent.clicked_at is not None
    figures = stats(store, site)
    assert figures["groups"]["sent"]["clicked"] == 1
    assert figures["steps"][sent.step]["clicked"] == 1
    assert figures["steps"][sent.step]["opened"] == 0
    shown = owner.get(f"/outbox/{sent.id}").get_data(as_text=True)
    assert 'id="email-clicked"' in shown and 'id="email-opened"' not in shown


def runs_of(store: Store, site: Site, name: str) -> list[Run]:
    with db.new_session(store.app) as session:
        definition = session.scalars(
            select(WorkflowDefinition).where(WorkflowDefinition.site_id == site.id, WorkflowDefinition.name == name)
        ).one()
        return list(session.scalars(select(Run).where(Run.workflow_id == definition.id)))


def test_scanners_are_counted_apart_and_never_as_people(
    receiver: Process,
    site: Site,
    store: Store,
    worker: Worker,
    smtp_sink: SmtpSink,
    clock: Clock,
    shop_page: str,
    tmp_path: Path,
) -> None:
    clicked_flow = tmp_path / "clicked.json"
    clicked_flow.write_text(
        json.dumps({"name": "Clicked", "trigger": {"event": "email_clicked"}, "steps": [{"wait": "1d"}]})
    )
    assert cli(store.app, "workflows", "import", site.name, str(clicked_flow)).exit_code == 0
    clock.advance(timedelta(seconds=-30))
    link = cart_link(email_the_cart(receiver, site, store, worker, smtp_sink, clock, shop_page), receiver)

    head = requests.head(link, headers=BROWSER_HEADERS, allow_redirects=False, timeout=5)
    assert (head.status_code, head.headers["Location"]) == (302, shop_page)
    scanned = requests.get(link, headers={"User-Agent": SCANNER_AGENT}, allow_redirects=False, timeout=5)
    assert (scanned.status_code, scanned.headers["Location"]) == (302, shop_page)
    assert scanned.headers["Cache-Control"].startswith("no-store")

    found = wait_until(lambda: len(rows := events(store, site, "email_link_scanned")) == 2 and rows)
    assert sorted(event.properties["scanner"] for event in found) == [Scanner.HEAD, Scanner.USER_AGENT]
    assert events(store, site, "email_clicked") == []
    [sent] = outbox(store, site)
    assert sent.clicked_at is None
    assert stats(store, site, "Abandoned cart")["groups"]["sent"]["clicked"] == 0
    assert runs_of(store, site, "Clicked") == []  # a workflow started by a click never starts for a scanner

    assert requests.get(link, headers=BROWSER_HEADERS, allow_redirects=False, timeout=5).status_code == 302
    assert len(runs_of(store, site, "Clicked")) == 1  # a person's click does start it
    assert stats(store, site, "Abandoned cart")["groups"]["sent"]["clicked"] == 1
    with db.new_session(store.app) as session:  # following a link (a GET) changes no flag of the contact
        assert session.scalars(select(Contact.confirmed_at).where(Contact.site_id == site.id)).all() == [None]


def test_a_click_within_a_second_of_delivery_is_a_scanner(
    receiver: Process, site: Site, store: Store, worker: Worker, smtp_sink: SmtpSink, clock: Clock, shop_page: str
) -> None:
    clock.now = datetime.now(UTC)  # the worker delivers now, and the scanner follows the link at once
    link = cart_link(email_the_cart(receiver, site, store, worker, smtp_sink, clock, shop_page), receiver)
    answer = requests.get(link, headers=BROWSER_HEADERS, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    [event] = wait_until(lambda: events(store, site, "email_link_scanned"))
    assert event.properties["scanner"] == Scanner.TOO_SOON
    assert events(store, site, "email_clicked") == []


def test_the_delay_rule_with_the_clock_given() -> None:
    sent = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    browser = BROWSER_HEADERS["User-Agent"]
    assert scanner("GET", browser, sent, sent + timedelta(milliseconds=999)) is Scanner.TOO_SOON
    assert scanner("GET", browser, sent, sent - timedelta(seconds=5)) is Scanner.TOO_SOON  # before delivery
    assert scanner("GET", browser, sent, sent + timedelta(seconds=1)) is None
    assert scanner("GET", browser, None, sent) is None  # never sent (held): no delivery time to judge by
    assert scanner("HEAD", browser, sent, sent + timedelta(hours=1)) is Scanner.HEAD
    for agent in ("Barracuda Sentinel (EE)", "Proofpoint URL Defense", "Mimecast", SCANNER_AGENT, "", None):
        assert scanner("GET", agent, sent, sent + timedelta(hours=1)) is Scanner.USER_AGENT


def test_a_double_click_is_one_click_and_a_deleted_contact_still_reaches_the_shop(
    receiver: Process, site: Site, store: Store, worker: Worker, smtp_sink: SmtpSink, clock: Clock, shop_page: str
) -> None:
    clock.advance(timedelta(seconds=-30))
    link = cart_link(email_the_cart(receiver, site, store, worker, smtp_sink, clock, shop_page), receiver)
    window = CLICK_WINDOW.total_seconds()
    wait_until(lambda: time.time() % window < window - 5, timeout=10)  # both clicks fall in one window
    for _ in range(2):
        assert requests.get(link, headers=BROWSER_HEADERS, allow_redirects=False, timeout=5).status_code == 302
    assert len(events(store, site, "email_clicked")) == 1

    deleted = requests.delete(f"{receiver.url}/v3/contacts/{THOMAS}", headers={"api-key": site.api_key}, timeout=5)
    assert deleted.status_code == 204
    answer = requests.get(link, headers=BROWSER_HEADERS, allow_redirects=False, timeout=5)
    assert (answer.status_code, answer.headers["Location"]) == (302, shop_page)
    assert events(store, site, "email_clicked") == []  # the contact's went with it; nothing new was recorded


def test_forged_links_are_404_pages_and_other_hosts_are_never_wrapped(
    receiver: Process, site: Site, store: Store, worker: Worker, smtp_sink: SmtpSink, clock: Clock, shop_page: str
) -> None:
    email = email_the_cart(receiver, site, store, worker, smtp_sink, clock, shop_page)
    link = cart_link(email, receiver)
    token = link.rsplit("/", 1)[1]
    unsubscribe = re.fullmatch(r"<(\S+)>", email["List-Unsubscribe"])
    assert unsubscribe is not None
    forged = [
        "nothing-signed",
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # the signature broken
        unsubscribe.group(1).rsplit("/", 1)[1],  # signed by the server, for another purpose
    ]
    for bad in forged:
        answer = requests.get(f"{receiver.url}/r/{bad}", headers=BROWSER_HEADERS, allow_redirects=False, timeout=5)
        assert answer.status_code == 404 and "This link is not valid" in answer.text
        assert "Location" not in answer.headers

    secret = store.app.config["SECRET_KEY"]
    counted = tracking(receiver.url, secret, "run-1-0-steps[0]", ["127.0.0.1"])
    for elsewhere in ("https://evil.example/", "javascript:alert(1)", "mailto:shop@127.0.0.1", unsubscribe.group(1)):
        assert counted.link(elsewhere) == elsewhere  # not wrapped: the redirect exists only for the shop's hosts
    wrapped = counted.link(shop_page)
    followed = read_click(secret, wrapped.rsplit("/", 1)[1])
    assert followed is not None and followed.target == shop_page
    assert read_click("another secret", wrapped.rsplit("/", 1)[1]) is None


def test_finishing_wraps_the_shops_links_in_both_parts_and_leaves_the_rest() -> None:
    counted = tracking("https://sibyl.example", "secret", "run-7-0-steps[1]", ["shop.example"])
    finished = finish(
        '<p><a href="https://shop.example/p/1">Shoes</a> <a href="https://evil.example/">Win</a> '
        '<a href="mailto:help@shop.example">Write</a></p>',
        hosts=["shop.example"],
        unsubscribe_url="https://sibyl.example/unsubscribe/abc",
        text="See https://shop.example/p/1. Or https://evil.example/x",
        tracking=counted,
    )
    wrapped = counted.link("https://shop.example/p/1")
    assert f'href="{wrapped}"' in finished.html
    assert "evil.example" not in finished.html  # dropped by finishing, as before
    assert 'href="mailto:help@shop.example"' in finished.html
    assert 'href="https://sibyl.example/unsubscribe/abc"' in finished.html
    assert f"See {wrapped}. Or https://evil.example/x" in finished.text  # the sentence's full stop kept outside
    assert "/o/" not in finished.html  # no pixel unless the site turns it on


def test_the_open_pixel_is_off_by_default_and_records_opens_when_on(
    receiver: Process, site: Site, store: Store, worker: Worker, smtp_sink: SmtpSink, clock: Clock, shop_page: str
) -> None:
    send(receiver, site, cart_updated(clock.now, data={**GUIDE_CART, "url": shop_page}, cart="cart:1"))
    store.receive_carts_at(site, clock.now - DELAY)
    worker.run_pass()
    [first] = smtp_sink.wait_for(1)
    assert "/o/" not in body(first, "html")

    turned_on = cli(store.app, "sites", "set", site.name, "--open-pixel")
    assert turned_on.exit_code == 0 and "open pixel on" in turned_on.output
    clock.advance(DELAY * 20)  # past the site's email period
    send(receiver, site, cart_updated(clock.now, data={**GUIDE_CART, "url": shop_page}, cart="cart:2"))
    store.receive_carts_at(site, clock.now - DELAY)
    worker.run_pass()
    second = smtp_sink.wait_for(2)[1]
    found = re.search(r'<img src="([^"]+\.gif)"', body(second, "html"))
    assert found is not None and found.group(1).startswith(receiver.url + "/o/")
    assert "/o/" not in body(second, "plain")

    head = requests.head(found.group(1), headers=BROWSER_HEADERS, timeout=5)
    assert head.status_code == 200
    image = requests.get(found.group(1), headers=BROWSER_HEADERS, timeout=5)
    assert (image.status_code, image.headers["Content-Type"]) == (200, "image/gif")
    assert image.content.startswith(b"GIF89a") and image.headers["Cache-Control"].startswith("no-store")
    [opened] = wait_until(lambda: events(store, site, "email_opened"))
    with db.new_session(store.app) as session:
        sent = session.scalars(select(OutboxEmail).where(OutboxEmail.site_id == site.id).order_by(OutboxEmail.id))
        first_row, second_row = list(sent)
    assert opened.properties["email_id"] == second_row.id
    assert (first_row.opened_at, second_row.opened_at is not None) == (None, True)
    assert stats(store, site)["steps"][second_row.step]["opened"] == 1
    assert requests.get(f"{receiver.url}/o/forged.gif", timeout=5).status_code == 404


def test_the_site_page_turns_the_open_pixel_on_and_off(app: Flask, owner: FlaskClient, store: Store) -> None:
    site = store.create_site()
    page = f"/sites/{site.id}"
    token = csrf_token(owner, page)

    def pixel_on() -> bool:
        with db.new_session(app) as session:
            return session.get_one(Site, site.id).open_pixel

    def box_checked() -> bool:
        found = re.search(r'<input id="open_pixel"[^>]*>', owner.get(page).get_data(as_text=True))
        assert found is not None
        return " checked" in found.group(0)

    assert not box_checked()
    assert owner.post(f"{page}/engagement", data={"csrf_token": token, "open_pixel": "on"}).status_code == 302
    assert pixel_on() and box_checked()
    assert owner.post(f"{page}/engagement", data={"csrf_token": token}).status_code == 302
    assert not pixel_on()
    assert owner.post(f"{page}/engagement", data={"open_pixel": "on"}).status_code == 400  # no CSRF token
    assert not pixel_on()
