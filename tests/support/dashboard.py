"""Dashboard users and their sign-in through Flask's test client, CSRF token included."""

from __future__ import annotations

import re
import uuid

from flask import Flask
from flask.testing import FlaskClient

from server import db
from server.dashboard.users import create_user
from server.models import Site

PASSWORD = "correct horse battery"


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the form on `path`, as a browser would read it from the page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def new_user(app: Flask, sites: list[Site] | None = None, prefix: str = "user") -> str:
    """A dashboard user's email (the password is PASSWORD), seeing `sites` only, or every site."""
    address = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    with db.new_session(app) as session:
        allowed = [session.get_one(Site, s.id) for s in sites] if sites is not None else None
        create_user(session, address, PASSWORD, allowed)
    return address


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> FlaskClient:
    """`client` signed in through the login form; the sign-in must succeed."""
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client
