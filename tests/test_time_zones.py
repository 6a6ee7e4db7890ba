"""A contact's time zone, as its browser gives it with an identification (`tz`): stored, changed by a later one,
refused when malformed, ignored when this server does not know it, never taken from an anonymous or refused
message. Driven through the real Flask app, each test from its own address."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import create_app, db
from server.models import Contact, Site

from .support.browser import BROWSER_USER_AGENT
from .support.sites import new_site


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app({"DATABASE_URL": database_url, "WORKER": "external", "IDENTIFY_LIMIT_ADDRESS": "3/hour"})


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "zones")


@pytest.fixture
def address() -> str:
    """This test's own address, so that the limit on identifications per address counts its requests only."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.1"


def collect(client: FlaskClient, site: Site, *messages: dict[str, Any], address: str, cuid: str = "browser-1") -> Any:
    body = {"key": site.client_key, "cuid": cuid, "messages": list(messages)}
    return client.post(
        "/collect",
        data=json.dumps(body),
        content_type="text/plain",
        headers={"User-Agent": BROWSER_USER_AGENT},
        environ_base={"REMOTE_ADDR": address},
    )


def message(kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "type": kind, "url": "https://shop.example/", **fields}


def time_zone(app: Flask, site: Site, email: str) -> str | None:
    with db.new_session(app) as session:
        contact = session.scalar(select(Contact).where(Contact.site_id == site.id, Contact.email == email))
        assert contact is not None
        return contact.time_zone


def test_an_identification_stores_the_zone_and_a_later_one_changes_it(
    app: Flask, client: FlaskClient, site: Site, address: str
) -> None:
    first = collect(client, site, message("identify", email="kenji@example.com", tz="Asia/Tokyo"), address=address)
    assert first.status_code == 200
    assert time_zone(app, site, "kenji@example.com") == "Asia/Tokyo"
    # The same person on a trip: a page view identified by window.sib.email_id carries the zone too.
    later = message("page", email="kenji@example.com", tz="America/Argentina/Buenos_Aires")
    assert collect(client, site, later, address=address).status_code == 200
    assert time_zone(app, site, "kenji@example.com") == "America/Argentina/Buenos_Aires"


def test_an_identification_without_a_zone_keeps_the_one_known(
    app: Flask, client: FlaskClient, site: Site, address: str
) -> None:
    collect(client, site, message("identify", email="ana@example.com", tz="Etc/GMT+3"), address=address)
    collect(client, site, message("identify", email="ana@example.com"), address=address)
    assert time_zone(app, site, "ana@example.com") == "Etc/GMT+3"


@pytest.mark.parametrize(
    ("tz", "why"),
    [
        ("Europe/Paris<script>", "should match pattern"),
        ("Asia/Tokyo\n", "should match pattern"),
        ("../../etc/passwd", "should match pattern"),
        ("", "at least 1 character"),
        ("A" * 65, "at most 64 characters"),
        (9, "valid string"),
    ],
)
def test_a_malformed_zone_refuses_the_batch_naming_the_field(
    app: Flask, client: FlaskClient, site: Site, address: str, tz: object, why: str
) -> None:
    answer = collect(
        client, site, message("page"), message("identify", email="eve@example.com", tz=tz), address=address
    )
    assert answer.status_code == 400
    assert answer.get_json()["message"].startswith("messages[1].tz: ") and why in answer.get_json()["message"]
    with db.new_session(app) as session:
        assert session.scalar(select(Contact).where(Contact.site_id == site.id)) is None


def test_a_well_formed_zone_this_server_does_not_know_is_ignored(
    app: Flask, client: FlaskClient, site: Site, address: str
) -> None:
    collect(client, site, message("identify", email="mo@example.com", tz="Europe/Berlin"), address=address)
    # A zone added to the browser's database after this server's, or no zone at all: the identification stands.
    for unknown in ("Mars/Olympus_Mons", "localtime"):
        answer = collect(client, site, message("identify", email="mo@example.com", tz=unknown), address=address)
        assert answer.status_code == 200 and answer.get_json()["stored"] == 1
    assert time_zone(app, site, "mo@example.com") == "Europe/Berlin"


def test_a_message_without_identification_changes_no_zone(
    app: Flask, client: FlaskClient, site: Site, address: str
) -> None:
    collect(client, site, message("identify", email="lee@example.com", tz="Asia/Seoul"), address=address)
    # The same browser, now identified, sends events that name no email: none of them is an identification.
    page = message("page", tz="Pacific/Auckland")
    track = message("track", name="cart_updated", tz="Pacific/Auckland", properties={"sku": "1"})
    answer = collect(client, site, page, track, address=address)
    assert answer.status_code == 200 and answer.get_json()["stored"] == 2
    assert time_zone(app, site, "lee@example.com") == "Asia/Seoul"


def test_a_refused_identification_changes_no_zone(app: Flask, client: FlaskClient, site: Site, address: str) -> None:
    collect(client, site, message("identify", email="sam@example.com", tz="Europe/Lisbon"), address=address)
    collect(client, site, message("identify", email="sam@example.com"), address=address, cuid="browser-2")
    collect(client, site, message("identify", email="sam@example.com"), address=address, cuid="browser-3")
    refused = collect(client, site, message("identify", email="sam@example.com", tz="Asia/Dubai"), address=address)
    assert refused.status_code == 200 and "identification_refused" in refused.get_json()
    assert time_zone(app, site, "sam@example.com") == "Europe/Lisbon"


def test_brevos_rest_identify_takes_the_same_zone(app: Flask, client: FlaskClient, site: Site) -> None:
    headers = {"api-key": site.api_key}
    stored = client.post("/api/v2/identify", json={"email": "zoe@example.com", "tz": "Africa/Lagos"}, headers=headers)
    assert stored.status_code == 204
    assert time_zone(app, site, "zoe@example.com") == "Africa/Lagos"
    refused = client.post("/api/v2/identify", json={"email": "zoe@example.com", "tz": "Lagos!"}, headers=headers)
    assert refused.status_code == 400 and refused.get_json()["message"].startswith("tz: ")
    assert time_zone(app, site, "zoe@example.com") == "Africa/Lagos"
