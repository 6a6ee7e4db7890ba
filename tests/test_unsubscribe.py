"""Unsubscribing, blacklisting, confirmed-only mode and the per-contact email period, end to end:
real emails received by aiosmtpd, links followed against the real receiver."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask

from server.automation.worker import Worker
from server.models import Site

from .support.carts import DELAY, THOMAS, cart_updated, carts, outbox
from .support.cli import set_workflow
from .support.clock import Clock
from .support.collect import send
from .support.servers import Process
from .support.smtp_sink import SmtpSink, body
from .support.store import Store
from .support.workers import worker_linking_back


@pytest.fixture
def worker(store: Store, site: Site, smtp_sink: SmtpSink, clock: Clock, receiver: Process) -> Worker:
    return worker_linking_back(store, site, smtp_sink, clock, receiver)


def api(site: Site) -> dict[str, str]:
    return {"api-key": site.api_key}


def contact(receiver: Process, site: Site, email: str = THOMAS) -> dict[str, Any]:
    response = requests.get(f"{receiver.url}/v3/contacts/{email}", headers=api(site), timeout=5)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_the_email_carries_a_one_click_unsubscribe_that_blacklists_and_cancels_waiting_carts(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    send(receiver, site, cart_updated(clock.now))
    store.receive_carts_at(site, clock.now - DELAY)  # due now
    send(receiver, site, cart_updated(clock.now, cart="cart:43"))  # a second cart, due two hours later
    worker.run_pass()
    [email] = smtp_sink.wait_for(1)
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    found = re.fullmatch(r"<(https?://\S+)>", email["List-Unsubscribe"])
    assert found is not None
    header_url = found.group(1)
    assert header_url.startswith(receiver.url + "/unsubscribe/")
    assert header_url in body(email, "plain") and f'href="{header_url}"' in body(email, "html")

    # RFC 8058: the mail client POSTs the header's URL with this body, and no cookie.
    answer = requests.post(header_url, data={"List-Unsubscribe": "One-Click"}, timeout=5)
    assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    assert contact(receiver, site)["emailBlacklisted"] is True
    waiting = next(cart for cart in carts(store, site) if cart.cart_key == "cart:43")
    assert (waiting.state, waiting.closed_reason, waiting.due_at) == ("closed", "unsubscribed", None)

    clock.advance(DELAY * 2)
    send(receiver, site, cart_updated(clock.now, cart="cart:44"))
    clock.advance(DELAY * 2)
    worker.run_pass()
    assert [row.status for row in outbox(store, site)] == ["sent"]  # no further email, whatever arrives
    assert len(smtp_sink.messages) == 1
    # Following the link again (a person clicking it) says the same and changes nothing.
    again = requests.get(header_url, timeout=5)
    assert again.status_code == 200 and "You are unsubscribed" in again.text and site.name in again.text


def test_a_forged_or_truncated_link_unsubscribes_no_one(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink
) -> None:
    send(receiver, site, cart_updated(clock.now))
    clock.advance(DELAY * 2)
    worker.run_pass()
    [email] = smtp_sink.wait_for(1)
    found = re.fullmatch(r"<(\S+)>", email["List-Unsubscribe"])
    assert found is not None
    url = found.group(1)
    for forged in (url[:-3], url.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAA"):
        answer = requests.get(forged, timeout=5)
        assert answer.status_code == 400 and "not valid" in answer.text
    assert contact(receiver, site)["emailBlacklisted"] is False


def blacklist(receiver: Process, site: Site, email: str) -> None:
    """The shop's server blacklists the contact for email through v3, as Brevo's API does."""
    answer = requests.put(
        f"{receiver.url}/v3/contacts/{email}", json={"emailBlacklisted": True}, headers=api(site), timeout=5
    )
    assert answer.status_code == 204


def test_blacklisting_through_v3_cancels_the_waiting_cart(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    send(receiver, site, cart_updated(clock.now))
    blacklist(receiver, site, THOMAS)
    [cart] = carts(store, site)
    assert (cart.state, cart.closed_reason) == ("closed", "unsubscribed")
    clock.advance(DELAY * 2)
    worker.run_pass()
    assert outbox(store, site) == [] and smtp_sink.messages == []


def test_a_cart_withheld_at_its_deadline_closes_with_its_reason_and_no_email_time(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store
) -> None:
    send(receiver, site, cart_updated(clock.now))
    blacklist(receiver, site, THOMAS)
    send(receiver, site, cart_updated(clock.now, cart="cart:43"))  # a blacklisted contact's new cart waits
    [_, waiting] = carts(store, site)
    assert waiting.state == "open" and waiting.due_at is not None
    clock.advance(DELAY * 2)
    worker.run_pass()
    closed = [(cart.cart_key, cart.state, cart.closed_reason, cart.emailed_at) for cart in carts(store, site)]
    assert closed == [("cart:42", "closed", "unsubscribed", None), ("cart:43", "closed", "unsubscribed", None)]
    assert outbox(store, site) == [] and smtp_sink.messages == []


def test_one_recovery_email_per_contact_per_period(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store, app: Flask
) -> None:
    set_workflow(app, site, "--contact-period", "1d")
    send(receiver, site, cart_updated(clock.now), cart_updated(clock.now, cart="cart:43"))
    clock.advance(DELAY * 2)
    worker.run_pass()
    smtp_sink.wait_for(1)
    assert sorted(cart.closed_reason or cart.state for cart in carts(store, site)) == ["emailed", "recently_emailed"]
    assert sorted(cart.emailed_at is None for cart in carts(store, site)) == [False, True]  # only the email's cart

    clock.advance(timedelta(hours=12))  # re-entry within the day: still no second email
    send(receiver, site, cart_updated(clock.now, data={"items": [{"name": "Hat", "price": 5}]}))
    worker.run_pass()
    clock.advance(timedelta(hours=13))  # the day is over
    send(receiver, site, cart_updated(clock.now, cart="cart:44"))
    worker.run_pass()
    smtp_sink.wait_for(2)
    assert [row.status for row in outbox(store, site)] == ["sent", "sent"]


def test_confirmed_only_emails_vouched_contacts_and_asks_the_others_once(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store, app: Flask
) -> None:
    set_workflow(app, site, "--confirmed-only", "--contact-period", "0")
    send(receiver, site, cart_updated(clock.now))  # Thomas, identified from a browser only
    vouched = "anna@example.com"
    created = requests.post(f"{receiver.url}/v3/contacts", json={"email": vouched}, headers=api(site), timeout=5)
    assert created.status_code == 201
    send(receiver, site, cart_updated(clock.now, email=vouched))
    clock.advance(DELAY * 2)
    worker.run_pass()
    emails = {email["To"]: email for email in smtp_sink.wait_for(2)}
    assert "Return to your cart" in body(emails[vouched], "plain")
    asked = emails[THOMAS]  # no cart for Thomas: one question, with its own unsubscribe link
    assert asked["Subject"].startswith("Please confirm") and "Black shoes" not in body(asked, "plain")
    assert asked["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    thomas_cart = next(cart for cart in carts(store, site) if cart.contact_id == contact(receiver, site)["id"])
    assert (thomas_cart.state, thomas_cart.closed_reason) == ("closed", "unconfirmed")

    clock.advance(DELAY)  # another cart falls due before Thomas answers: he is not asked again
    send(receiver, site, cart_updated(clock.now, cart="cart:43"))
    worker.run_pass()
    assert len(outbox(store, site)) == 2

    found = re.search(r"Yes, remind me: (\S+)", body(asked, "plain"))

    assert found is not None

    confirm_url = found.group(1)
    page = requests.get(confirm_url, timeout=5)  # the link shows the button; the button confirms
    assert page.status_code == 200 and '<button type="submit">Yes, remind me</button>' in page.text
    answer = requests.post(confirm_url, timeout=5)
    assert answer.status_code == 200 and "you are confirmed" in answer.text
    clock.advance(DELAY)
    send(receiver, site, cart_updated(clock.now, cart="cart:44"))
    worker.run_pass()
    assert "Return to your cart" in body(smtp_sink.wait_for(3)[-1], "plain")


def test_mail_scanners_following_every_link_of_an_email_change_nothing(
    receiver: Process, site: Site, worker: Worker, clock: Clock, smtp_sink: SmtpSink, store: Store, app: Flask
) -> None:
    set_workflow(app, site, "--confirmed-only")
    send(receiver, site, cart_updated(clock.now))
    clock.advance(DELAY * 2)
    worker.run_pass()
    [asked] = smtp_sink.wait_for(1)
    links = set(re.findall(r'href="([^"]+)"', body(asked, "html")))
    links |= set(re.findall(r"https?://\S+", body(asked, "plain")))
    assert {link.split("/")[3] for link in links} == {"confirm", "unsubscribe"}
    for link in links:  # what a security scanner does to every link of every email it receives
        assert requests.head(link, timeout=5).status_code == 200
        page = requests.get(link, timeout=5)
        assert page.status_code == 200 and '<form method="post">' in page.text
    thomas = store.contact(site, THOMAS)
    assert thomas is not None and (thomas.email_blacklisted, thomas.confirmed_at) == (False, None)

    found = re.fullmatch(r"<(\S+)>", asked["List-Unsubscribe"])

    assert found is not None

    unsubscribe_link = found.group(1)
    assert requests.post(unsubscribe_link, data={"List-Unsubscribe": "One-Click"}, timeout=5).status_code == 200
    thomas = store.contact(site, THOMAS)
    assert thomas is not None and thomas.email_blacklisted is True
