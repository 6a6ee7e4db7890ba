"""Passwords on the dashboard: a forgotten one reset through a link emailed to a real SMTP server (one hour, once,
from SIBYL_PUBLIC_URL), the same answer whether or not an address is a user's, limits, and a user's own change."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server import create_app, db
from server.dashboard.reset_links import reset_link, user_of_link
from server.dashboard.users import by_email
from server.models import utcnow

from .support.dashboard import PASSWORD, csrf_token, new_user, sign_in, text_of
from .support.smtp_sink import SmtpSink, body

PUBLIC_URL = "https://track.example.com"
NEW_PASSWORD = "a much better password"
ANSWER = "forgot-answer"


@pytest.fixture
def mailing_app(database_url: str, smtp_sink: SmtpSink) -> Flask:
    return create_app(
        {
            "DATABASE_URL": database_url,
            "WORKER": "external",
            "SMTP_URL": smtp_sink.url,
            "PUBLIC_URL": PUBLIC_URL,
            "MAIL_FROM": "Sibyl <sibyl@track.example.com>",
            "LOGIN_RATE_LIMIT": "3/minute",
        }
    )


def _browser(app: Flask, address: str) -> FlaskClient:
    """A browser from `address` (the limits count per address), on a Host other than the public URL's."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    client.environ_base["HTTP_HOST"] = "attacker.example"
    return client


@pytest.fixture
def visitor(mailing_app: Flask) -> FlaskClient:
    return _browser(mailing_app, f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7")


def _ask_for_link(client: FlaskClient, email: str) -> tuple[int, str]:
    answer = client.post(
        "/password/forgot", data={"email": email, "csrf_token": csrf_token(client, "/password/forgot")}
    )
    return answer.status_code, text_of(answer.get_data(as_text=True), ANSWER)


def _link_path(smtp_sink: SmtpSink, email: str) -> str:
    """The path of the reset link in the email the sink received for `email`."""
    message = next(m for m in smtp_sink.wait_for(1) if m["To"] == email)
    match = re.search(r"https?://\S+/password/reset/\S+", body(message, "plain"))
    assert match, body(message, "plain")
    link = match.group(0)
    assert link.startswith(f"{PUBLIC_URL}/password/reset/"), link  # never the request's Host
    assert link in body(message, "html")
    return link.removeprefix(PUBLIC_URL)


def _set_password(client: FlaskClient, path: str, password: str, again: str | None = None) -> int:
    data = {"password": password, "password_again": again or password, "csrf_token": csrf_token(client, "/login")}
    return client.post(path, data=data).status_code


def test_a_forgotten_password_is_reset_once_through_the_emailed_link(
    mailing_app: Flask, visitor: FlaskClient, smtp_sink: SmtpSink
) -> None:
    email = new_user(mailing_app, prefix="forgetful")
    login = visitor.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in login and "Forgot your password?" in login
    status, said = _ask_for_link(visitor, email)
    assert status == 200 and "If a dashboard account uses this address" in said
    path = _link_path(smtp_sink, email)

    page = visitor.get(path)
    assert page.status_code == 200 and 'name="password_again"' in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    sign_in(mailing_app.test_client(), email)  # showing the form changed nothing
    assert _set_password(visitor, path, NEW_PASSWORD, "another password") == 400
    assert _set_password(visitor, path, "short") == 400
    assert _set_password(visitor, path, NEW_PASSWORD) == 302

    sign_in(mailing_app.test_client(), email, NEW_PASSWORD)
    stranger = mailing_app.test_client()
    old = stranger.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(stranger)})
    assert old.status_code == 401
    used = visitor.get(path)
    assert used.status_code == 400 and "expired or was already used" in used.get_data(as_text=True)
    assert _set_password(_browser(mailing_app, "198.51.100.9"), path, "yet another password") == 400
    sign_in(mailing_app.test_client(), email, NEW_PASSWORD)


def test_the_answer_is_the_same_for_an_address_that_is_no_user(
    mailing_app: Flask, visitor: FlaskClient, smtp_sink: SmtpSink
) -> None:
    email = new_user(mailing_app, prefix="known")
    unknown = _ask_for_link(visitor, f"nobody-{uuid.uuid4().hex[:6]}@example.com")
    known = _ask_for_link(visitor, email)
    assert unknown == known
    smtp_sink.wait_for(1)
    assert [message["To"] for message in smtp_sink.messages] == [email]


def test_a_link_expires_after_an_hour_and_a_forged_one_never_works(mailing_app: Flask, visitor: FlaskClient) -> None:
    email = new_user(mailing_app, prefix="late")
    secret = str(mailing_app.config["SECRET_KEY"])
    with db.new_session(mailing_app) as session:
        user = by_email(session, email)
        assert user is not None
        token = reset_link(PUBLIC_URL, secret, user).rsplit("/", 1)[1]
        now = utcnow()
        assert user_of_link(session, secret, token, now + timedelta(minutes=59)) == user
        assert user_of_link(session, secret, token, now + timedelta(hours=1, seconds=2)) is None
        assert user_of_link(session, "another secret key", token, now) is None
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert visitor.get(f"/password/reset/{forged}").status_code == 400
    assert _set_password(visitor, f"/password/reset/{forged}", NEW_PASSWORD) == 400
    sign_in(mailing_app.test_client(), email)


def test_link_requests_are_limited_per_address_and_per_email(mailing_app: Flask, visitor: FlaskClient) -> None:
    statuses = [_ask_for_link(visitor, f"x-{n}-{uuid.uuid4().hex[:6]}@example.com")[0] for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    target = f"target-{uuid.uuid4().hex[:6]}@example.com"
    from_many = []
    for n in range(4):
        from_many.append(_ask_for_link(_browser(mailing_app, f"192.0.2.{n + 10}"), target)[0])
    assert from_many == [200, 200, 200, 429]


def test_without_a_mail_server_the_page_names_the_operators_command(database_url: str) -> None:
    app = create_app({"DATABASE_URL": database_url, "WORKER": "external", "SMTP_URL": None})
    client = app.test_client()
    page = text_of(client.get("/password/forgot").get_data(as_text=True), ANSWER)
    assert "flask --app server users set-password you@example.com" in page
    answer = client.post("/password/forgot", data={"email": new_user(app), "csrf_token": csrf_token(client)})
    assert answer.status_code == 200 and text_of(answer.get_data(as_text=True), ANSWER) == page


def test_a_signed_in_user_changes_their_own_password(mailing_app: Flask) -> None:
    email = new_user(mailing_app, prefix="changer")
    other_session = sign_in(mailing_app.test_client(), email)
    with mailing_app.test_client() as client:
        sign_in(client, email)
        assert 'href="/account"' in client.get("/").get_data(as_text=True)
        assert 'href="/account/password"' in client.get("/account").get_data(as_text=True)
        token = csrf_token(client, "/account/password")

        def change(current: str, again: str) -> TestResponse:
            form = {"current_password": current, "password": NEW_PASSWORD, "password_again": again}
            return client.post("/account/password", data={**form, "csrf_token": token})

        wrong = change("not it", NEW_PASSWORD)
        assert wrong.status_code == 401 and "not your current password" in wrong.get_data(as_text=True)
        differ = change(PASSWORD, "x" * 9)
        assert differ.status_code == 400 and "differ" in differ.get_data(as_text=True)
        changed = change(PASSWORD, NEW_PASSWORD)
        assert changed.status_code == 302
        assert client.get("/").status_code == 200  # this session stays signed in
    assert other_session.get("/").status_code == 302  # the other one ended
    sign_in(mailing_app.test_client(), email, NEW_PASSWORD)
