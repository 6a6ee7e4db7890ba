"""What a stranger holding the public client key can do is bounded: identify floods, new contacts,
bots and foreign origins. Driven through the real Flask app, each request from its own address."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server import create_app, db
from server.models import Contact, Event, Site
from server.sites import create_site

from .support.browser import BROWSER_USER_AGENT
from .support.sites import new_site

BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "",
]


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database_url,
            "WORKER": "external",
            "IDENTIFY_LIMIT_ADDRESS": "5/hour",
            "NEW_CONTACT_LIMIT_KEY": "8/hour",
        }
    )


@pytest.fixture
def site(app: Flask) -> Site:
    """A site whose shop is https://shop.example, where the collected batches come from."""
    return new_site(app, "abuse", ["https://shop.example"])


def collect(
    client: FlaskClient,
    site: Site,
    *messages: dict[str, Any],
    address: str,
    agent: str = BROWSER_USER_AGENT,
    origin: str = "https://shop.example",
) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = {"key": site.client_key, "cuid": uuid.uuid4().hex, "messages": list(messages)}
    answer = client.post(
        "/collect",
        data=json.dumps(body),
        content_type="text/plain",
        headers={"User-Agent": agent, "Origin": origin},
        environ_base={"REMOTE_ADDR": address},
    )
    return answer.status_code, answer.get_json(), dict(answer.headers)


def identify(email: str) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "type": "identify", "email": email}


def page() -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "type": "page", "url": "https://shop.example/"}


def count(app: Flask, model: type[Event] | type[Contact], site: Site) -> int:
    with db.new_session(app) as session:
        return session.scalar(select(func.count()).select_from(model).where(model.site_id == site.id)) or 0


def test_an_identify_flood_from_one_address_is_cut_off_while_other_addresses_are_served(
    app: Flask, client: FlaskClient, site: Site
) -> None:
    flooder = f"10.{uuid.uuid4().int % 250}.0.1"
    answers = [collect(client, site, identify(f"victim{n}@example.com"), address=flooder) for n in range(6)]
    assert [status for status, _body, _headers in answers] == [200] * 6
    assert ["identification_refused" in body for _status, body, _headers in answers] == [False] * 5 + [True]
    assert answers[-1][1]["identification_refused"] == "identifications: over 5 per 1 hour from this address"
    # Brevo's REST door with the same public key shares the count, and says how a shop's server avoids it.
    v2 = client.post(
        "/api/v2/identify",
        json={"email": "victim9@example.com"},
        headers={"ma-key": site.client_key},
        environ_base={"REMOTE_ADDR": flooder},
    )
    assert v2.status_code == 429
    assert 0 < int(v2.headers["Retry-After"]) <= 3600
    assert "`api-key`" in v2.get_json()["message"]
    assert count(app, Contact, site) == 5  # refused identifications make no contact
    assert collect(client, site, page(), address="192.0.2.10")[0] == 200


def test_a_refused_identification_keeps_the_shoppers_page_views_and_changes_no_contact(
    app: Flask, client: FlaskClient, site: Site
) -> None:
    shopper = f"10.{uuid.uuid4().int % 250}.1.1"
    for n in range(5):
        collect(client, site, identify(f"spent{n}@example.com"), address=shopper)
    named = {**identify("late@example.com"), "properties": {"FIRSTNAME": "Mallory"}}
    status, body, _headers = collect(client, site, page(), named, page(), address=shopper)
    assert status == 200 and body["stored"] == 3 and "identification_refused" in body
    with db.new_session(app) as session:
        kept = session.scalars(
            select(Event).where(Event.site_id == site.id, Event.message_id.in_([m["id"] for m in (named,)]))
        ).all()
        assert [event.contact_id for event in kept] == [None]
        late = select(Contact).where(Contact.site_id == site.id, Contact.email == "late@example.com")
        assert session.scalar(late) is None
    assert count(app, Event, site) == 5 + 3


def test_new_emails_per_key_are_bounded_whatever_the_address(app: Flask, client: FlaskClient, site: Site) -> None:
    answers = [collect(client, site, identify(f"new{n}@example.com"), address=f"198.51.100.{n}") for n in range(9)]
    assert ["identification_refused" in body for _status, body, _headers in answers] == [False] * 8 + [True]
    assert answers[-1][1]["identification_refused"] == "new emails: over 8 per 1 hour from this key"
    assert count(app, Contact, site) == 8
    # An email identified within the hour costs nothing again: returning shoppers are still identified.
    status, body, _headers = collect(client, site, identify("new0@example.com"), address="198.51.100.99")
    assert status == 200 and "identification_refused" not in body


def test_a_spent_budget_refuses_known_and_unknown_emails_alike(app: Flask, client: FlaskClient, site: Site) -> None:
    """Once an address has spent its identifications, whether an email is a contact cannot be read from the answer."""
    known = client.post("/v3/contacts", json={"email": "known@example.com"}, headers={"api-key": site.api_key})
    assert known.status_code == 201
    prober = f"10.{uuid.uuid4().int % 250}.2.1"
    for n in range(5):
        collect(client, site, identify(f"filler{n}@example.com"), address=prober)
    answers = {}
    for address in ("known@example.com", "unknown@example.com"):
        status, body, _headers = collect(client, site, identify(address), address=prober)
        v2 = client.post(
            "/api/v2/identify",
            json={"email": address},
            headers={"ma-key": site.client_key},
            environ_base={"REMOTE_ADDR": prober},
        )
        answers[address] = (status, sorted(body), body.get("identification_refused"), v2.status_code, v2.get_json())
    assert answers["known@example.com"] == answers["unknown@example.com"]
    assert answers["known@example.com"][3] == 429


def test_the_rest_v2_rate_limit_counts_the_public_key_per_address(database_url: str) -> None:
    """No stranger can spend a shop's REST quota: with the public key it is counted per address as well."""
    limited = create_app({"DATABASE_URL": database_url, "WORKER": "external", "RATE_LIMIT": "3/minute"})
    with db.new_session(limited) as session:
        shop = create_site(session, f"quota-{uuid.uuid4().hex[:8]}", [], 7200)
    client = limited.test_client()

    def track(address: str, headers: dict[str, str]) -> int:
        body = {"email": "shopper@example.com", "event": "viewed"}
        answer = client.post("/api/v2/trackEvent", json=body, headers=headers, environ_base={"REMOTE_ADDR": address})
        return answer.status_code

    stranger, server = f"10.{uuid.uuid4().int % 250}.3.1", f"10.{uuid.uuid4().int % 250}.3.2"
    assert [track(stranger, {"ma-key": shop.client_key}) for _ in range(4)] == [204, 204, 204, 429]
    assert track(server, {"ma-key": shop.client_key}) == 204
    assert [track(server, {"api-key": shop.api_key}) for _ in range(4)] == [204, 204, 204, 429]


def test_bots_are_counted_not_stored_and_the_dashboard_shows_them(
    app: Flask, client: FlaskClient, owner: FlaskClient, site: Site
) -> None:
    for agent in BOTS:
        status, body, _headers = collect(client, site, page(), page(), address="203.0.113.5", agent=agent)
        assert (status, body) == (200, {"stored": 0, "duplicates": 0, "filtered": 2}), agent
    assert count(app, Event, site) == 0
    assert collect(client, site, page(), address="203.0.113.5")[1]["stored"] == 1  # a real browser's view is kept
    html = owner.get(f"/sites/{site.id}").get_data(as_text=True)
    assert f'<td id="bots-today">{2 * len(BOTS)}</td>' in html


def test_a_foreign_origin_is_refused_and_counted(
    app: Flask, client: FlaskClient, owner: FlaskClient, site: Site
) -> None:
    status, body, _headers = collect(client, site, page(), address="203.0.113.6", origin="https://elsewhere.example")
    assert status == 403 and body["message"].startswith("Origin:")
    assert count(app, Event, site) == 0
    assert collect(client, site, page(), address="203.0.113.6")[0] == 200
    html = owner.get(f"/sites/{site.id}").get_data(as_text=True)
    assert '<td id="origins-today">1</td>' in html and '<td id="origins-week">1</td>' in html


def test_a_backend_calling_rest_v2_with_the_secret_key_is_not_limited_and_vouches(
    app: Flask, client: FlaskClient, site: Site
) -> None:
    backend = "192.0.2.200"
    for n in range(7):  # over the per-address limit of 5, from one address
        answer = client.post(
            "/api/v2/identify",
            json={"email": f"customer{n}@example.com"},
            headers={"api-key": site.api_key},
            environ_base={"REMOTE_ADDR": backend},
        )
        assert answer.status_code == 204
    with db.new_session(app) as session:
        confirmed = session.scalars(select(Contact.confirmed_at).where(Contact.site_id == site.id)).all()
    assert len(confirmed) == 7 and all(confirmed)
    wrong = client.post("/api/v2/identify", json={"email": "x@example.com"}, headers={"api-key": "xkeysib-wrong"})
    assert wrong.status_code == 401


def test_the_bot_patterns_are_compiled_when_the_app_starts_not_in_a_workers_first_request() -> None:
    """Compiling CrawlerDetect's 1,400 patterns takes tens of milliseconds: a worker's first visitor must not wait."""
    check = (
        "from crawlerdetect.crawlerdetect import get_compiled_crawler_regex as crawlers\n"
        "import server.ingest.bots\n"
        "print(crawlers.cache_info().currsize)"
    )
    compiled = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert compiled.strip() == "1"
