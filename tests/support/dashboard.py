"""Dashboard users and their sign-in through Flask's test client, CSRF token included."""

from __future__ import annotations

import html
import re
import uuid
from html.parser import HTMLParser

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


class _Tables(HTMLParser):
    """The text of each cell of each row of one table (found by id), as a reader sees it: tags dropped, spaces
    collapsed."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0  # tables open inside the wanted one, itself included
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(page: str, table_id: str) -> list[list[str]]:
    """The rows of the table `table_id` on `page` (its header row first), each a list of its cells' text."""
    parser = _Tables(table_id)
    parser.feed(page)
    return parser.rows


def text_of(page: str, element_id: str) -> str:
    """The text of the element `element_id` on `page`, tags dropped and spaces collapsed ("" when there is none)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(2))).split()) if match else ""
