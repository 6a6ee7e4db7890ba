"""What a shop owner controls: who sees which site, passwords and users, the sites' keys, the hosts emails may
link to, and settings that must stay in range. Through Flask's test client and CLI runner."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import create_app, db
from server.dashboard.users import create_user
from server.models import OutboxEmail, Site, User, Workflow
from server.sites import create_site

from .test_dashboard_http import PASSWORD, csrf_token


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app({"DATABASE_URL": database_url, "WORKER": "external"})


def new_site(app: Flask, origins: list[str] | None = None) -> Site:
    with db.new_session(app) as session:
        return create_site(session, f"owner-{uuid.uuid4().hex[:8]}", origins or [], 7200)


def new_user(app: Flask, sites: list[Site] | None = None) -> str:
    address = f"user-{uuid.uuid4().hex[:8]}@example.com"
    with db.new_session(app) as session:
        allowed = [session.get_one(Site, s.id) for s in sites] if sites is not None else None
        create_user(session, address, PASSWORD, allowed)
    return address


def sign_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def cli(app: Flask, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    return result.exit_code, result.output


@pytest.fixture
def owner(app: Flask) -> Iterator[FlaskClient]:
    yield sign_in(app, new_user(app))


# Per-site access


def test_a_user_granted_one_site_sees_and_changes_only_that_one(app: Flask) -> None:
    mine, theirs = new_site(app), new_site(app)
    client = sign_in(app, new_user(app, [mine]))
    listing = client.get("/sites").get_data(as_text=True)
    assert mine.name in listing and theirs.name not in listing
    assert client.get(f"/sites/{mine.id}").status_code == 200
    assert client.get(f"/sites/{theirs.id}").status_code == 404
    assert theirs.name not in client.get(f"/contacts?site={theirs.id}").get_data(as_text=True)
    token = csrf_token(client, f"/sites/{mine.id}")
    refused = client.post(f"/sites/{theirs.id}/privacy", data={"csrf_token": token, "require_consent": "on"})
    assert refused.status_code == 404
    refused = client.post("/automation", data={"csrf_token": token, "site": theirs.id, "delay": "1h", "max_resets": "1",
                                               "subject": "x", "contact_period": "1d"})
    assert refused.status_code == 404
    assert client.post("/sites", data={"csrf_token": token, "name": "another"}).status_code == 403
    with db.new_session(app) as session:
        assert session.get_one(Site, theirs.id).require_consent is False


def test_users_commands_grant_sites_change_passwords_and_delete(app: Flask) -> None:
    first, second = new_site(app), new_site(app)
    email = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    code, output = cli(app, "users", "create", email, "--password", PASSWORD, "--site", first.name)
    assert code == 0 and f"sees {first.name}" in output
    client = sign_in(app, email)
    assert client.get(f"/sites/{second.id}").status_code == 404

    code, output = cli(app, "users", "sites", email, "--site", second.name)
    assert code == 0, output
    assert client.get(f"/sites/{second.id}").status_code == 200 and client.get(f"/sites/{first.id}").status_code == 404
    assert cli(app, "users", "sites", email, "--all")[0] == 0
    assert client.get(f"/sites/{first.id}").status_code == 200
    code, output = cli(app, "users", "list")
    assert f"{email}  every site" in output

    code, output = cli(app, "users", "password", email, "--password", "a new long password")
    assert code == 0, output
    assert client.get("/sites").status_code == 302  # the session signed in with the old password has ended
    sign_in(app, email, "a new long password")
    assert cli(app, "users", "password", email, "--password", "short")[0] != 0

    code, output = cli(app, "users", "delete", email, "--yes")
    assert code == 0, output
    with db.new_session(app) as session:
        assert session.scalar(select(User).where(User.email == email)) is None
    assert cli(app, "users", "delete", email, "--yes")[0] != 0


# Keys


def test_a_rotated_key_is_refused_and_the_new_one_works(app: Flask) -> None:
    site = new_site(app)
    client = app.test_client()
    body = {"email": "shopper@example.com", "event": "viewed"}
    assert client.post("/api/v2/trackEvent", json=body, headers={"ma-key": site.client_key}).status_code == 204
    code, output = cli(app, "sites", "rotate-key", site.name, "--client")
    assert code == 0, output
    new_client_key = output.strip().splitlines()[-1].removeprefix("client_key=")
    assert client.post("/api/v2/trackEvent", json=body, headers={"ma-key": site.client_key}).status_code == 401
    assert client.post("/api/v2/trackEvent", json=body, headers={"ma-key": new_client_key}).status_code == 204

    code, output = cli(app, "sites", "rotate-key", site.name)
    new_api_key = output.strip().splitlines()[-1].removeprefix("api_key=")
    assert code == 0 and new_api_key.startswith("xkeysib-")
    assert client.get("/v3/contacts", headers={"api-key": site.api_key}).status_code == 401
    assert client.get("/v3/contacts", headers={"api-key": new_api_key}).status_code == 200


def test_the_dashboard_rotates_a_key_with_its_form_only(app: Flask, owner: FlaskClient) -> None:
    site = new_site(app)
    page = f"/sites/{site.id}"
    assert owner.post(f"{page}/rotate-key", data={"key": "api"}).status_code == 400  # no CSRF token
    answer = owner.post(f"{page}/rotate-key", data={"key": "api", "csrf_token": csrf_token(owner, page)})
    assert answer.status_code == 302
    with db.new_session(app) as session:
        rotated = session.get_one(Site, site.id)
    assert rotated.api_key != site.api_key and rotated.client_key == site.client_key
    assert rotated.api_key in owner.get(answer.headers["Location"]).get_data(as_text=True)


# Hosts emails may link to


def test_email_hosts_are_the_origins_and_those_the_shop_lists(app: Flask, owner: FlaskClient) -> None:
    site = new_site(app, ["https://shop.example"])
    page = f"/sites/{site.id}"
    assert "<code>shop.example</code>" in owner.get(page).get_data(as_text=True)
    saved = owner.post(f"{page}/email-hosts", data={"hosts": "cdn.shop.example, https://img.shop.example/",
                                                    "csrf_token": csrf_token(owner, page)})
    assert saved.status_code == 302
    shown = owner.get(page).get_data(as_text=True)
    assert "<code>cdn.shop.example</code>" in shown and "<code>img.shop.example</code>" in shown
    bad = owner.post(f"{page}/email-hosts", data={"hosts": "<b>x</b>", "csrf_token": csrf_token(owner, page)})
    assert "Not saved" in owner.get(bad.headers["Location"]).get_data(as_text=True)
    code, output = cli(app, "sites", "set", site.name, "--email-hosts", "")
    assert code == 0 and "emails link to shop.example." in output
    assert cli(app, "sites", "set", site.name, "--email-hosts", "a b")[0] != 0


def test_the_outbox_preview_loads_no_remote_image(app: Flask, owner: FlaskClient) -> None:
    """Opening a preview must not tell a tracking pixel's owner that the shop looked."""
    site = new_site(app)
    with db.new_session(app) as session:
        email = OutboxEmail(site_id=site.id, dedupe_key=uuid.uuid4().hex, message_id="<x@shop.example>",
                            sender="s@shop.example", recipient="r@example.com", subject="Hi", text="Hi", status="held",
                            html='<p>Hi</p><img src="https://tracker.example/pixel.gif" alt="pixel">')
        session.add(email)
        session.commit()
    answer = owner.get(f"/outbox/{email.id}")
    assert answer.status_code == 200 and "tracker.example/pixel.gif" in answer.get_data(as_text=True)
    directives = dict(part.strip().split(" ", 1) for part in answer.headers["Content-Security-Policy"].split(";"))
    assert directives["img-src"].split() == ["'self'", "data:"]
    assert directives["default-src"] == "'none'"


# Settings in range


@pytest.mark.parametrize("resets", ["99999999999999999999999", "1000001", "-1", "x"])
def test_an_out_of_range_reset_cap_is_a_form_error_not_a_500(app: Flask, owner: FlaskClient, resets: str) -> None:
    site = new_site(app)
    form = {"csrf_token": csrf_token(owner, "/automation"), "site": site.id, "delay": "1h", "max_resets": resets,
            "subject": "Your cart", "contact_period": "1d", "enabled": "on"}
    answer = owner.post("/automation", data=form)
    assert answer.status_code == 400 and "A whole number from 0 to 1,000,000." in answer.get_data(as_text=True)
    code, _ = cli(app, "workflows", "set", site.name, "--max-resets", resets)
    assert code != 0
    with db.new_session(app) as session:
        assert session.get_one(Workflow, site.id).max_resets == 100


@pytest.mark.parametrize(("option", "value"), [("--delay", "99999999999999999999d"), ("--delay", "0"),
                                               ("--contact-period", "400d")])
def test_an_out_of_range_duration_is_an_option_error_not_a_crash(app: Flask, option: str, value: str) -> None:
    site = new_site(app)
    code, output = cli(app, "workflows", "set", site.name, option, value)
    assert code == 2 and f"Invalid value for {option}: '{value}': from " in output
