"""Sites created straight in an app's database, for tests driving the app in process."""

from __future__ import annotations

import uuid

from flask import Flask

from server import db
from server.models import Site
from server.sites import create_site


def new_site(app: Flask, prefix: str = "site", origins: list[str] | None = None) -> Site:
    """A new site named `prefix`-something, with a two-hour cart delay."""
    with db.new_session(app) as session:
        return create_site(session, f"{prefix}-{uuid.uuid4().hex[:8]}", origins or [], 7200)
