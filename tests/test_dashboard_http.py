"""The dashboard over HTTP (Flask's test client on the suite's database): CSRF, cookies, headers, sign-in limits,
the SQL behind the pages, and `flask users create`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from server import create_app, db
from server.dashboard.charts import axis
from server.dashboard.queries import contacts_page, events_per_hour, events_per_month
from server.dashboard.users import authenticate, create_user
from server.ingest.pipeline import IncomingEvent, ingest
from server.models import Contact, Event, Site

from .support.browser import BROWSER_HEADERS
from .support.cli import cli
from .support.dashboard import PASSWORD, csrf_token
from .support.databases import on_postgres
from .support.sites import new_site
from .support.statements import statements


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app({"DATABASE_URL": database_url, "WORKER": "external", "LOGIN_RATE_LIMIT": "5/minute"})


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "http")


def store(app: Flask, site: Site, *events: IncomingEvent) -> None:
    with db.new_session(app) as session:
        ingest(session, session.get_one(Site, site.id), list(events))


def event(kind: str, name: str, moment: datetime, **fields: Any) -> IncomingEvent:
    return IncomingEvent(uuid.uuid4().hex, kind, name, moment, cuid=uuid.uuid4().hex, **fields)


def test_dashboard_forms_need_the_csrf_token_and_the_apis_do_not(app: Flask, owner: FlaskClient, site: Site) -> None:
    refused = owner.post("/sites", data={"name": "no token"})
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)
    token = csrf_token(owner, "/sites")
    created = owner.post("/sites", data={"name": f"with token {uuid.uuid4().hex[:6]}", "csrf_token": token})
    assert created.status_code == 302 and created.headers["Location"].startswith("/sites/")
    # The tracker's and Brevo's doors stay token-free, even for a browser holding a dashboard session.
    batch = {
        "key": site.client_key,
        "cuid": "c1",
        "messages": [{"id": uuid.uuid4().hex, "type": "page", "url": "https://a.example/"}],
    }
    collected = owner.post("/collect", data=json.dumps(batch), content_type="text/plain", headers=BROWSER_HEADERS)
    assert collected.status_code == 200
    identify = owner.post("/api/v2/identify", json={"email": "a@example.com"}, headers={"ma-key": site.client_key})
    assert identify.status_code == 204
    v3 = owner.post(
        "/v3/events",
        json={"event_name": "viewed", "identifiers": {"email_id": "a@example.com"}},
        headers={"api-key": site.api_key},
    )
    assert v3.status_code == 204


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(app: Flask, owner_email: str) -> None:
    for base, secure in (("http://localhost", False), ("https://localhost", True)):
        with app.test_client() as client:
            token = csrf_token(client)
            answer = client.post(
                "/login",
                base_url=base,
                data={"email": owner_email, "password": PASSWORD, "csrf_token": token},
                headers={"Referer": f"{base}/login"},
            )
            cookie = answer.headers["Set-Cookie"]
            assert cookie.startswith("sibyl_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
            assert ("Secure" in cookie) is secure


def test_pages_carry_a_strict_policy_and_are_not_cached(owner: FlaskClient) -> None:
    answer = owner.get("/")
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_sign_in_goes_only_to_paths_on_this_server(app: Flask, owner_email: str) -> None:
    with app.test_client() as client:
        token = csrf_token(client)
        cases = (
            ("//evil.example/", "/"),
            ("https://evil.example/", "/"),
            ("/\t/evil.example/", "/"),
            ("/\\evil.example/", "/"),
            ("/outbox?status=failed", "/outbox?status=failed"),
        )
        for target, landing in cases:
            answer = client.post(
                "/login", data={"email": owner_email, "password": PASSWORD, "csrf_token": token, "next": target}
            )
            assert answer.headers["Location"] == landing
            client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
            token = csrf_token(client)


def test_failed_sign_ins_are_limited_per_address_and_email(app: Flask, owner_email: str) -> None:
    with app.test_client() as client:
        token = csrf_token(client)
        statuses = [
            client.post("/login", data={"email": owner_email, "password": "wrong", "csrf_token": token}).status_code
            for _ in range(6)
        ]
        assert statuses == [401] * 5 + [429]
        other = client.post("/login", data={"email": "someone@example.com", "password": "wrong", "csrf_token": token})
        assert other.status_code == 401


def test_passwords_are_hashed_and_checked(app: Flask, owner_email: str) -> None:
    with db.new_session(app) as session:
        user = authenticate(session, owner_email.upper(), PASSWORD)
        assert user is not None and PASSWORD not in user.password_hash and user.password_hash.startswith("scrypt:")
        assert authenticate(session, owner_email, PASSWORD + "!") is None
        with pytest.raises(ValueError, match="already exists"):
            create_user(session, owner_email, PASSWORD)
        with pytest.raises(ValueError, match="at least 8"):
            create_user(session, f"new-{owner_email}", "short")


def test_events_are_counted_per_hour_and_day_in_sql(app: Flask, site: Site) -> None:
    now = datetime.now(UTC).replace(minute=30)
    store(
        app,
        site,
        event("page", "Home", now),
        event("page", "Home", now - timedelta(minutes=20)),
        event("page", "Home", now - timedelta(hours=5)),
        event("page", "Home", now - timedelta(days=3)),
        event("page", "Home", now - timedelta(days=40)),
    )
    with db.new_session(app) as session:
        hours = events_per_hour(session, site.id, now)
        days = events_per_month(session, site.id, now).days
    assert len(hours) == 24 and hours[-1].count == 2 and hours[-6].count == 1 and sum(b.count for b in hours) == 3
    assert len(days) == 30 and days[-4].count == 1 and sum(b.count for b in days) == 4
    assert hours[-1].start == now.replace(minute=0, second=0, microsecond=0)


def test_the_months_top_lists_rank_custom_events_and_pages_of_its_days(app: Flask, site: Site) -> None:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    store(
        app,
        site,
        *[event("page", "Home", now) for _ in range(3)],
        event("page", "Cart", today - timedelta(days=29)),
        event("page", "Old", today - timedelta(days=29, seconds=1)),
        event("track", "Buy", now),
        event("link", "Buy", now),
        event("track", "cart_updated", now),
        event("track", "Alpha", now),
        event("identify", "identify", now),
    )
    with db.new_session(app) as session:
        month = events_per_month(session, site.id, now, limit=2)
    assert [(row.name, row.count) for row in month.top_pages] == [("Home", 3), ("Cart", 1)]
    assert [(row.name, row.count) for row in month.top_events] == [("Buy", 2), ("Alpha", 1)]  # ties by name
    assert month.days[0].count == 1 and month.days[-1].count == 8 and sum(day.count for day in month.days) == 9


def test_contact_search_matches_emails_and_attribute_values_not_keys(app: Flask, site: Site) -> None:
    now = datetime.now(UTC)
    store(
        app,
        site,
        event(
            "identify", "identify", now, email="jose@example.com", attributes={"FIRSTNAME": "José", "LASTNAME": "Ñúñez"}
        ),
        event("identify", "identify", now, email="ann@example.com", attributes={"FIRSTNAME": "Ann", "SMS": "100%"}),
    )

    def found(search: str) -> list[str]:
        with db.new_session(app) as session:
            return sorted(contact.email for contact, _ in contacts_page(session, site.id, search, 1).items)

    assert found("josé") == ["jose@example.com"]
    assert found("úñez") == ["jose@example.com"]  # stored JSON-escaped, searched decoded
    assert found("ann@") == ["ann@example.com"]
    assert found("FIRSTNAME") == []
    assert found("%") == ["ann@example.com"]  # a literal percent sign, not a wildcard
    assert found("") == ["ann@example.com", "jose@example.com"]


def test_contact_search_finds_values_with_quotes_and_backslashes(app: Flask, site: Site) -> None:
    """Values whose JSON text escapes characters: found by their own text, in part or around what is escaped."""
    now = datetime.now(UTC)
    attributes = {"FIRSTNAME": 'Zoë "Zo"', "LASTNAME": "Back\\slash"}
    store(app, site, event("identify", "identify", now, email="zoe@example.com", attributes=attributes))

    def found(search: str) -> list[str]:
        with db.new_session(app) as session:
            return [contact.email for contact, _ in contacts_page(session, site.id, search, 1).items]

    for search in ("zoë", '"zo"', 'ë "z', "k\\sl", "slash", "back"):
        assert found(search) == ["zoe@example.com"], search
    assert found('\\"zo') == []


@pytest.mark.skipif(not on_postgres(), reason="reads PostgreSQL's query plans")
def test_contact_search_can_read_the_trigram_indexes(app: Flask, site: Site) -> None:
    """The search's ILIKEs are on the very expressions migration 0025 indexes, for a word and for the words of a
    search with a space alike: among a site's thousands of contacts, the planner finds the one through the
    trigram indexes rather than reading them all."""
    now = datetime.now(UTC)
    attributes = {"FIRSTNAME": "Emma", "LASTNAME": "Bianchi"}
    store(app, site, event("identify", "identify", now, email="emma@example.com", attributes=attributes))
    others = [
        {
            "site_id": site.id,
            "email": f"ann.{n}@example.com",
            "attributes": {"FIRSTNAME": "Ann", "LASTNAME": f"Rossi {n}"},
        }
        for n in range(5000)
    ]
    with db.new_session(app) as session:
        session.execute(insert(Contact), others)
        session.commit()
    with app.extensions["sibyl.engine"].connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE contacts")
    for search in ("bianchi", "bianchi emma"):  # PostgreSQL joins the values in its key order
        with statements(app) as seen, db.new_session(app) as session:
            assert [contact.email for contact, _ in contacts_page(session, site.id, search, 1).items] == [
                "emma@example.com"
            ]
        (count, *_) = [(statement, parameters) for statement, parameters in seen if "ILIKE" in statement]
        with app.extensions["sibyl.engine"].connect() as connection:
            plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {count[0]}", count[1]))
        assert "ix_contacts_email_trgm" in plan and "ix_contacts_attributes_trgm" in plan, plan


def test_the_live_feed_returns_events_after_a_cursor(owner: FlaskClient, app: Flask, site: Site) -> None:
    now = datetime.now(UTC)
    store(app, site, event("page", "First", now))
    first = owner.get(f"/live/events.json?site={site.id}").get_json()["events"]
    assert [row["name"] for row in first] == ["First"]
    store(app, site, event("track", "Second", now))
    later = owner.get(f"/live/events.json?site={site.id}&after={first[0]['id']}").get_json()["events"]
    assert [row["name"] for row in later] == ["Second"]


def test_unknown_records_are_404_pages(owner: FlaskClient) -> None:
    for path in ("/contacts/999999999", "/contacts/99999999999999999999999", "/outbox/999999999", "/sites/999999999"):
        answer = owner.get(path)
        assert answer.status_code == 404 and answer.mimetype == "text/html", path


def test_the_openapi_document_lists_no_dashboard_page(owner: FlaskClient) -> None:
    paths = owner.get("/openapi.json").get_json()["paths"]
    assert not [path for path in paths if path in ("/", "/login") or path.startswith(("/sites", "/contacts", "/live"))]


@pytest.mark.parametrize("peak, top, step", [(0, 4, 1), (7, 8, 2), (45, 50, 10), (101, 150, 50), (1234, 1500, 500)])
def test_chart_axes_end_on_round_numbers(peak: int, top: int, step: int) -> None:
    assert axis(peak) == (top, step)


def test_users_create_takes_the_password_from_the_option_or_a_prompt(app: Flask) -> None:
    by_option = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    created = cli(app, "users", "create", by_option, "--password", PASSWORD)
    assert created.exit_code == 0 and f"Created dashboard user {by_option}" in created.stdout
    again = cli(app, "users", "create", by_option, "--password", PASSWORD)
    assert again.exit_code != 0 and "already exists" in again.stderr
    by_prompt = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    prompted = cli(app, "users", "create", by_prompt, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    assert "Password" in prompted.stdout and PASSWORD not in prompted.stdout  # hidden input is not echoed
    with db.new_session(app) as session:
        assert authenticate(session, by_prompt, PASSWORD) is not None


def test_a_contact_is_exported_as_json_and_deleted_from_its_page(owner: FlaskClient, app: Flask, site: Site) -> None:
    now = datetime.now(UTC)
    store(
        app,
        site,
        event(
            "identify",
            "identify",
            now,
            email="erase.me@example.com",
            attributes={"FIRSTNAME": "Ada"},
            time_zone="Europe/London",
        ),
        event("page", "Home", now, email="erase.me@example.com", url="https://shop.example/"),
    )
    with db.new_session(app) as session:
        contact_id = session.scalar(select(Contact.id).where(Contact.site_id == site.id))
    shown = owner.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert '<th scope="row">Time zone</th><td id="time-zone">Europe/London</td>' in shown
    download = owner.get(f"/contacts/{contact_id}/export.json")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="contact-{contact_id}.json"'
    document = download.get_json()
    assert document["contact"]["attributes"] == {"FIRSTNAME": "Ada"}
    assert document["contact"]["time_zone"] == "Europe/London"
    assert sorted(event["name"] for event in document["events"]) == ["Home", "identify"]

    page = f"/contacts/{contact_id}"
    assert owner.post(f"{page}/delete").status_code == 400  # no CSRF token, nothing deleted
    deleted = owner.post(f"{page}/delete", data={"csrf_token": csrf_token(owner, page)})
    assert deleted.status_code == 302 and deleted.headers["Location"] == "/contacts"
    assert owner.get(page).status_code == 404
    with db.new_session(app) as session:
        assert session.scalar(select(func.count()).select_from(Event).where(Event.site_id == site.id)) == 0
