"""Email addresses: every door refuses what is not one plain address, one form is stored, and a send
goes to exactly that form (a non-ASCII one with SMTPUTF8), never killing the worker's delivery lane."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from server import create_app, db
from server.automation.worker import Worker
from server.contacts.addresses import InvalidAddress, email_address
from server.dashboard.queries import contacts_page
from server.dashboard.users import create_user
from server.mail.smtp import Mailer
from server.models import Contact, Event, OutboxEmail, Site, User

from .support.browser import BROWSER_USER_AGENT
from .support.cli import cli
from .support.clock import Clock
from .support.dashboard import PASSWORD, sign_in
from .support.databases import fresh_database_url
from .support.sites import new_site
from .support.smtp_sink import SmtpSink

# Each is read by smtplib (and most mail software) as v@a.example, or as some other mailbox.
HOSTILE = [
    "v@a.example(1)",  # a comment
    "x<v@a.example>",  # a display name
    "<v@a.example>",
    "a\u0000b@a.example",  # a control character
    "v\n@a.example",
    '"v"@a.example',  # a quoted local part
    "v@a.example, w@a.example",  # a list
    "v@[127.0.0.1]",  # an IP literal
    "v@a.example\u200b",  # an invisible character
    "v@localhost",  # no domain on the Internet
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app on a database of its own, so that its worker delivers this module's outbox rows only."""
    return create_app(
        {
            "DATABASE_URL": fresh_database_url(tmp_path_factory.mktemp("addresses")),
            "WORKER": "external",
            "IDENTIFY_LIMIT_ADDRESS": "100000/hour",
            "NEW_CONTACT_LIMIT_ADDRESS": "100000/hour",
        }
    )


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "addr")


def contacts(app: Flask, site: Site) -> list[str | None]:
    with db.new_session(app) as session:
        return list(session.scalars(select(Contact.email).where(Contact.site_id == site.id).order_by(Contact.id)))


def event_count(app: Flask, site: Site) -> int:
    with db.new_session(app) as session:
        return session.scalar(select(func.count()).select_from(Event).where(Event.site_id == site.id)) or 0


def collect(client: FlaskClient, site: Site, message: dict[str, Any]) -> Any:
    body = {"key": site.client_key, "cuid": uuid.uuid4().hex, "messages": [{"id": uuid.uuid4().hex, **message}]}
    return client.post(
        "/collect", data=json.dumps(body), content_type="text/plain", headers={"User-Agent": BROWSER_USER_AGENT}
    )


def v2(client: FlaskClient, site: Site, call: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v2/{call}", json=body, headers={"ma-key": site.client_key})


def v3(client: FlaskClient, site: Site, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.open(f"/v3/{path}", method=method, json=body, headers={"api-key": site.api_key})


# Each door: (a request carrying `address`, the field its 400 names).
DOORS: dict[str, tuple[Any, str]] = {
    "collect identify": (lambda c, s, a: collect(c, s, {"type": "identify", "email": a}), "messages[0].email"),
    "collect email property": (
        lambda c, s, a: collect(c, s, {"type": "track", "name": "cart_updated", "properties": {"email": a}}),
        "messages[0].properties",
    ),
    "v2 identify": (lambda c, s, a: v2(c, s, "identify", {"email": a}), "email"),
    "v2 trackEvent": (lambda c, s, a: v2(c, s, "trackEvent", {"email": a, "event": "x"}), "email"),
    "v2 trackPage": (lambda c, s, a: v2(c, s, "trackPage", {"email": a, "page": "Home"}), "email"),
    "v2 trackLink": (lambda c, s, a: v2(c, s, "trackLink", {"email": a, "link": "https://shop.example/"}), "email"),
    "v2 identify attributes.email": (
        lambda c, s, a: v2(c, s, "identify", {"email": "ok@a.example", "attributes": {"Email": a}}),
        "attributes",
    ),
    "v3 events email_id": (
        lambda c, s, a: v3(c, s, "POST", "events", {"event_name": "x", "identifiers": {"email_id": a}}),
        "identifiers.email_id",
    ),
    "v3 events event_properties.email": (
        lambda c, s, a: v3(
            c,
            s,
            "POST",
            "events",
            {"event_name": "x", "identifiers": {"ext_id": "e1"}, "event_properties": {"email": a}},
        ),
        "event_properties",
    ),
    "v3 events batch": (
        lambda c, s, a: v3(
            c, s, "POST", "events/batch", {"events": [{"event_name": "x", "identifiers": {"email_id": a}}]}
        ),
        "identifiers.email_id",
    ),
    "v3 create contact": (lambda c, s, a: v3(c, s, "POST", "contacts", {"email": a}), "email"),
    "v3 create contact attributes.EMAIL": (
        lambda c, s, a: v3(c, s, "POST", "contacts", {"ext_id": "e2", "attributes": {"EMAIL": a}}),
        "attributes",
    ),
    "v3 get contact": (lambda c, s, a: v3(c, s, "GET", f"contacts/{quote(a)}"), "identifier"),
    "v3 delete contact": (lambda c, s, a: v3(c, s, "DELETE", f"contacts/{quote(a)}"), "identifier"),
}


@pytest.mark.parametrize("address", HOSTILE)
@pytest.mark.parametrize("door", DOORS)
def test_a_hostile_address_is_a_400_naming_the_field_and_stores_nothing(
    client: FlaskClient, app: Flask, site: Site, door: str, address: str
) -> None:
    request, field = DOORS[door]
    answer = request(client, site, address)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    problem = answer.get_json()
    message = problem["errors"][0]["message"] if "errors" in problem else problem["message"]
    if "\x00" in address:  # refused before any address check: no store keeps a NUL
        assert (field in message or message.startswith("URL path")) and "NUL character" in message, message
    else:
        assert message.startswith(field) and "not a valid email address" in message, message
    assert contacts(app, site) == [] and event_count(app, site) == 0


@pytest.mark.parametrize("address", HOSTILE)
def test_a_contact_update_to_a_hostile_address_is_refused_and_keeps_the_old_one(
    client: FlaskClient, app: Flask, site: Site, address: str
) -> None:
    assert v3(client, site, "POST", "contacts", {"email": "v@a.example"}).status_code == 201
    answer = v3(client, site, "PUT", "contacts/v@a.example", {"attributes": {"EMAIL": address}})
    assert answer.status_code == 400 and answer.get_json()["message"].startswith("attributes")
    assert v3(client, site, "PUT", f"contacts/{quote(address)}", {"attributes": {"FIRSTNAME": "V"}}).status_code == 400
    assert contacts(app, site) == ["v@a.example"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("jane@Bücher.example", "jane@xn--bcher-kva.example"),  # IDNA: the domain's ASCII form
        ("jane@XN--BCHER-KVA.example", "jane@xn--bcher-kva.example"),
        # Full-width letters fold (UTS 46).
        ("jane@\N{FULLWIDTH LATIN SMALL LETTER B}ücher.example", "jane@xn--bcher-kva.example"),
        ("Jösé@a.example", "jösé@a.example"),
        ("jo\u0308se\u0301@a.example", "jösé@a.example"),  # decomposed: stored in NFC
    ],
)
def test_one_normal_form_is_stored_and_found_from_any_spelling(
    client: FlaskClient, app: Flask, site: Site, given: str, stored: str
) -> None:
    assert v2(client, site, "identify", {"email": given}).status_code == 204
    assert collect(client, site, {"type": "identify", "email": stored.upper()}).status_code == 200
    event = {"event_name": "x", "identifiers": {"email_id": given}}
    assert v3(client, site, "POST", "events", event).status_code == 204
    assert contacts(app, site) == [stored]
    assert v3(client, site, "GET", f"contacts/{quote(given)}").get_json()["email"] == stored


def test_an_email_property_identifies_in_its_normal_form_and_a_blank_one_does_not(
    client: FlaskClient, app: Flask, site: Site
) -> None:
    track = {"type": "track", "name": "cart_updated"}
    assert collect(client, site, {**track, "properties": {"EMAIL": "Ann@Bücher.example"}}).status_code == 200
    assert collect(client, site, {**track, "properties": {"email": "  "}}).status_code == 200
    assert collect(client, site, {**track, "properties": {"email": None}}).status_code == 200
    assert contacts(app, site) == ["ann@xn--bcher-kva.example"]


def test_the_email_validator_is_strict_and_cached() -> None:
    assert email_address("Ann@Example.com") == "ann@example.com"
    assert email_address("ann@example.com") is email_address(" ann@example.com")  # the cached stored form
    with pytest.raises(InvalidAddress, match="254"):
        email_address("a" * 250 + "@a.example")


@pytest.mark.parametrize("address", HOSTILE)
def test_dashboard_users_are_refused_a_hostile_address(app: Flask, address: str) -> None:
    with db.new_session(app) as session:
        users = session.scalar(select(func.count()).select_from(User))
        with pytest.raises(ValueError, match="not a valid email address"):
            create_user(session, address, PASSWORD)
    created = cli(app, "users", "create", address, "--password", PASSWORD)
    assert created.exit_code != 0 and "not a valid email address" in created.output
    with db.new_session(app) as session:
        assert session.scalar(select(func.count()).select_from(User)) == users


def test_a_dashboard_user_signs_in_with_any_spelling_of_the_address(app: Flask) -> None:
    with db.new_session(app) as session:
        user = create_user(session, "Owner@Bücher.example", PASSWORD)
    assert user.email == "owner@xn--bcher-kva.example"
    sign_in(app.test_client(), "OWNER@bücher.example")


def test_the_dashboard_search_finds_an_address_typed_in_unicode(client: FlaskClient, app: Flask, site: Site) -> None:
    assert v2(client, site, "identify", {"email": "zoé@bücher.example"}).status_code == 204
    with db.new_session(app) as session:
        page = contacts_page(session, site.id, "ZOÉ@Bücher.example", 1)
        assert [contact.email for contact, _ in page.items] == ["zoé@xn--bcher-kva.example"]


@pytest.mark.parametrize("address", ["v@a.example(1)", "x<v@a.example>", "a\u0000b@a.example"])
def test_cli_lookups_refuse_a_hostile_address(client: FlaskClient, app: Flask, site: Site, address: str) -> None:
    assert v2(client, site, "identify", {"email": "v@a.example"}).status_code == 204
    for command in (["contacts", "export", site.name, address], ["contacts", "delete", site.name, address, "--yes"]):
        answer = cli(app, *command)
        assert answer.exit_code != 0 and "EMAIL: not a valid email address" in answer.output
    assert contacts(app, site) == ["v@a.example"]
    exported = cli(app, "contacts", "export", site.name, "V@A.example")
    assert exported.exit_code == 0 and json.loads(exported.output)["contact"]["email"] == "v@a.example"


# Delivery


@pytest.fixture
def sink(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    server = SmtpSink(smtputf8=request.param)
    server.start()
    yield server
    server.stop()


def worker(app: Flask, sink: SmtpSink) -> Worker:
    """A worker with one SMTP connection: every email of a pass goes through the same lane."""
    lane = create_app(
        {
            "DATABASE_URL": app.config["DATABASE_URL"],
            "SMTP_URL": sink.url,
            "WORKER": "external",
            "SMTP_CONNECTIONS": 1,
            "MAIL_FROM": "Shop <shop@a.example>",
        }
    )
    return Worker(lane, Clock())


def queue(app: Flask, site: Site, *recipients: str) -> list[int]:
    """Outbox rows written as an older version may have stored them, due now, in this order."""
    now = datetime.now(UTC)
    rows = [
        {
            "site_id": site.id,
            "dedupe_key": uuid.uuid4().hex,
            "message_id": f"<{uuid.uuid4().hex}@a.example>",
            "sender": "Shop <shop@a.example>",
            "recipient": recipient,
            "subject": "Your cart",
            "html": "<p>Hi</p>",
            "text": "Hi",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for recipient in recipients
    ]
    with db.new_session(app) as session:
        ids = [session.execute(insert(OutboxEmail).values(row).returning(OutboxEmail.id)).scalar_one() for row in rows]
        session.commit()
    return ids


def outcomes(app: Flask, ids: list[int]) -> list[tuple[str, int, str | None]]:
    with db.new_session(app) as session:
        rows = {row.id: row for row in session.scalars(select(OutboxEmail).where(OutboxEmail.id.in_(ids)))}
    return [(rows[id_].status, rows[id_].attempts, rows[id_].last_error) for id_ in ids]


@pytest.mark.parametrize("sink", [False], indirect=True)
@pytest.mark.parametrize("recipient", ["v@a.example(1)", "x<v@a.example>", "v@a.example, w@a.example", "V@a.example"])
def test_a_recipient_stored_in_an_old_lax_form_is_refused_not_sent_to_a_reparsed_address(
    app: Flask, site: Site, sink: SmtpSink, recipient: str
) -> None:
    refused, after = queue(app, site, recipient, "after@a.example")
    assert worker(app, sink).deliver() == 2
    (status, attempts, error), sent = outcomes(app, [refused, after])
    assert (status, attempts) == ("failed", 1) and error is not None and "stored form" in error
    assert sent == ("sent", 1, None)
    sink.wait_for(1)
    assert sink.envelopes == [("shop@a.example", ["after@a.example"])]


@pytest.mark.parametrize("sink", [True], indirect=True)
def test_a_non_ascii_recipient_is_delivered_with_smtputf8_where_the_server_offers_it(
    app: Flask, site: Site, sink: SmtpSink
) -> None:
    (sent,) = queue(app, site, "jösé@a.example")
    worker(app, sink).deliver()
    assert outcomes(app, [sent]) == [("sent", 1, None)]
    (message,) = sink.wait_for(1)
    assert sink.envelopes == [("shop@a.example", ["jösé@a.example"])]
    assert "SMTPUTF8" in sink.mail_options[0]
    assert message["To"] == "jösé@a.example" and message["From"] == "Shop <shop@a.example>"
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and plain.get_content().strip() == "Hi"


@pytest.mark.parametrize("sink", [False], indirect=True)
def test_without_smtputf8_a_non_ascii_recipient_fails_and_the_lane_goes_on(
    app: Flask, site: Site, sink: SmtpSink
) -> None:
    refused, after = queue(app, site, "jösé@a.example", "after@a.example")
    assert worker(app, sink).deliver() == 2
    (status, attempts, error), sent = outcomes(app, [refused, after])
    assert (status, attempts) == ("failed", 1) and error is not None and "SMTPUTF8" in error
    assert sent == ("sent", 1, None)
    sink.wait_for(1)
    assert sink.envelopes == [("shop@a.example", ["after@a.example"])]


@pytest.mark.parametrize("sink", [False], indirect=True)
def test_an_unforeseen_error_in_one_email_is_recorded_and_the_lane_goes_on(
    app: Flask, site: Site, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    send = Mailer.send

    def broken_for_one(mailer: Mailer, email: Any) -> None:
        if email.recipient == "broken@a.example":
            raise RuntimeError("something no rule foresaw")
        send(mailer, email)

    monkeypatch.setattr(Mailer, "send", broken_for_one)
    broken, after = queue(app, site, "broken@a.example", "after@a.example")
    delivering = worker(app, sink)
    assert delivering.deliver() == 2
    (status, attempts, error), sent = outcomes(app, [broken, after])
    assert (status, attempts) == ("pending", 1) and error is not None and "RuntimeError" in error
    assert sent == ("sent", 1, None)
    assert len(sink.wait_for(1)) == 1
