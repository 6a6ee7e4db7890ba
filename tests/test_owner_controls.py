"""What a shop owner controls: who sees which site, passwords and users, the sites' keys, the hosts emails may
link to, and settings that must stay in range. Through Flask's test client and CLI runner."""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import db
from server.models import OutboxEmail, Site, User, Workflow

from .support.cli import cli
from .support.dashboard import PASSWORD, csrf_token, new_user, sign_in
from .support.sites import new_site

# Per-site access


def test_a_user_granted_one_site_sees_and_changes_only_that_one(app: Flask) -> None:
    mine, theirs = new_site(app, "owner"), new_site(app, "owner")
    client = sign_in(app.test_client(), new_user(app, [mine]))
    listing = client.get("/sites").get_data(as_text=True)
    assert mine.name in listing and theirs.name not in listing
    assert client.get(f"/sites/{mine.id}").status_code == 200
    assert client.get(f"/sites/{theirs.id}").status_code == 404
    assert theirs.name not in client.get(f"/contacts?site={theirs.id}").get_data(as_text=True)
    token = csrf_token(client, f"/sites/{mine.id}")
    refused = client.post(f"/sites/{theirs.id}/privacy", data={"csrf_token": token, "require_consent": "on"})
    assert refused.status_code == 404
    refused = client.post(
        "/automation",
        data={
            "csrf_token": token,
            "site": theirs.id,
            "delay": "1h",
            "max_resets": "1",
            "subject": "x",
            "contact_period": "1d",
        },
    )
    assert refused.status_code == 404
    assert client.post("/sites", data={"csrf_token": token, "name": "another"}).status_code == 403
    with db.new_session(app) as session:
        assert session.get_one(Site, theirs.id).require_consent is False


def test_users_commands_grant_sites_change_passwords_and_delete(app: Flask) -> None:
    first, second = new_site(app, "owner"), new_site(app, "owner")
    email = f"cli-{uuid.uuid4().hex[:6]}@example.com"
    result = cli(app, "users", "create", email, "--password", PASSWORD, "--site", first.name)
    assert result.exit_code == 0 and f"sees {first.name}" in result.output
    client = sign_in(app.test_client(), email)
    assert client.get(f"/sites/{second.id}").status_code == 404

    result = cli(app, "users", "sites", email, "--site", second.name)
    assert result.exit_code == 0, result.output
    assert client.get(f"/sites/{second.id}").status_code == 200 and client.get(f"/sites/{first.id}").status_code == 404
    assert cli(app, "users", "sites", email, "--all").exit_code == 0
    assert client.get(f"/sites/{first.id}").status_code == 200
    result = cli(app, "users", "list")
    assert f"{email}  every site" in result.output

    result = cli(app, "users", "password", email, "--password", "a new long password")
    assert result.exit_code == 0, result.output
    assert client.get("/sites").status_code == 302  # the session signed in with the old password has ended
    sign_in(app.test_client(), email, "a new long password")
    assert cli(app, "users", "password", email, "--password", "short").exit_code != 0

    result = cli(app, "users", "delete", email, "--yes")
    assert result.exit_code == 0, result.output
    with db.new_session(app) as session:
        assert session.scalar(select(User).where(User.email == email)) is None
    assert cli(app, "users", "delete", email, "--yes").exit_code != 0


# Keys


def test_a_rotated_key_is_refused_and_the_new_one_works(app: Flask) -> None:
    site = new_site(app, "owner")
    client = app.test_client()
    body = {"email": "shopper@example.com", "event": "viewed"}
    assert client.post("/api/v2/trackEvent", json=body, headers={"ma-key": site.client_key}).status_code == 204
    result = cli(app, "sites", "rotate-key", site.name, "--client")
    assert result.exit_code == 0, result.output
    new_client_key = result.output.strip().splitlines()[-1].removeprefix("client_key=")
    assert client.post("/api/v2/trackEvent", json=body, headers={"ma-key": site.client_key}).status_code == 401
    assert client.post("/api/v2/trackEvent", json=body, headers={"ma-key": new_client_key}).status_code == 204

    result = cli(app, "sites", "rotate-key", site.name)
    new_api_key = result.output.strip().splitlines()[-1].removeprefix("api_key=")
    assert result.exit_code == 0 and new_api_key.startswith("xkeysib-")
    assert client.get("/v3/contacts", headers={"api-key": site.api_key}).status_code == 401
    assert client.get("/v3/contacts", headers={"api-key": new_api_key}).status_code == 200


def test_the_dashboard_rotates_a_key_with_its_form_only(app: Flask, owner: FlaskClient) -> None:
    site = new_site(app, "owner")
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
    site = new_site(app, "owner", ["https://shop.example"])
    page = f"/sites/{site.id}"
    assert "<code>shop.example</code>" in owner.get(page).get_data(as_text=True)
    saved = owner.post(
        f"{page}/email-hosts",
        data={"hosts": "cdn.shop.example, https://img.shop.example/", "csrf_token": csrf_token(owner, page)},
    )
    assert saved.status_code == 302
    shown = owner.get(page).get_data(as_text=True)
    assert "<code>cdn.shop.example</code>" in shown and "<code>img.shop.example</code>" in shown
    bad = owner.post(f"{page}/email-hosts", data={"hosts": "<b>x</b>", "csrf_token": csrf_token(owner, page)})
    assert "Not saved" in owner.get(bad.headers["Location"]).get_data(as_text=True)
    result = cli(app, "sites", "set", site.name, "--email-hosts", "")
    assert result.exit_code == 0 and "emails link to shop.example." in result.output
    assert cli(app, "sites", "set", site.name, "--email-hosts", "a b").exit_code != 0


def test_the_outbox_preview_loads_no_remote_image(app: Flask, owner: FlaskClient) -> None:
    """Opening a preview must not tell a tracking pixel's owner that the shop looked."""
    site = new_site(app, "owner")
    with db.new_session(app) as session:
        email = OutboxEmail(
            site_id=site.id,
            dedupe_key=uuid.uuid4().hex,
            message_id="<x@shop.example>",
            sender="s@shop.example",
            recipient="r@example.com",
            subject="Hi",
            text="Hi",
            status="held",
            html='<p>Hi</p><img src="https://tracker.example/pixel.gif" alt="pixel">',
        )
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
    site = new_site(app, "owner")
    form = {
        "csrf_token": csrf_token(owner, "/automation"),
        "site": site.id,
        "delay": "1h",
        "max_resets": resets,
        "subject": "Your cart",
        "contact_period": "1d",
        "enabled": "on",
    }
    answer = owner.post("/automation", data=form)
    assert answer.status_code == 400 and "A whole number from 0 to 1,000,000." in answer.get_data(as_text=True)
    result = cli(app, "workflows", "set", site.name, "--max-resets", resets)
    assert result.exit_code != 0
    with db.new_session(app) as session:
        assert session.get_one(Workflow, site.id).max_resets == 100


@pytest.mark.parametrize(
    ("option", "value"), [("--delay", "99999999999999999999d"), ("--delay", "0"), ("--contact-period", "400d")]
)
def test_an_out_of_range_duration_is_an_option_error_not_a_crash(app: Flask, option: str, value: str) -> None:
    site = new_site(app, "owner")
    result = cli(app, "workflows", "set", site.name, option, value)
    assert result.exit_code == 2 and f"Invalid value for {option}: '{value}': from " in result.output


def test_the_automation_page_sets_quiet_hours_and_the_shops_zone_and_names_what_it_cannot_read(
    app: Flask, owner: FlaskClient
) -> None:
    site = new_site(app, "owner")
    form = {
        "csrf_token": csrf_token(owner, "/automation"),
        "site": site.id,
        "delay": "1h",
        "max_resets": "100",
        "subject": "Your cart",
        "contact_period": "1d",
        "enabled": "on",
    }
    answer = owner.post("/automation", data={**form, "quiet_hours": "21h to 8h", "time_zone": "Mars/Base"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "Write a span of the 24-hour clock, such as 21:00-08:00" in page and "An IANA time zone" in page
    with db.new_session(app) as session:
        settings = session.get_one(Workflow, site.id)
        assert (settings.quiet_start, settings.time_zone) == (None, "UTC")

    answer = owner.post("/automation", data={**form, "quiet_hours": "21:30-7:00", "time_zone": "Europe/Paris"})
    assert answer.status_code == 302
    page = owner.get(f"/automation?site={site.id}").get_data(as_text=True)
    assert 'value="21:30-07:00"' in page and 'value="Europe/Paris"' in page
    result = cli(app, "sites", "set", site.name)
    assert "quiet hours 21:30-07:00, time zone Europe/Paris" in result.output

    assert owner.post("/automation", data={**form, "quiet_hours": "", "time_zone": "UTC"}).status_code == 302
    with db.new_session(app) as session:
        settings = session.get_one(Workflow, site.id)
        assert (settings.quiet_start, settings.quiet_end, settings.time_zone) == (None, None, "UTC")
