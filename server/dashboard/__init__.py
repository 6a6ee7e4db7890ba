"""The dashboard: the shop owner's pages under `/`, behind a login."""

from __future__ import annotations

from flask import Flask

from . import (  # noqa: F401 (each adds its pages to bp)
    account,
    auth,
    contacts,
    display,
    flows,
    live,
    outbox,
    overview,
    passwords,
    sites,
    template_editor,
    workflows,
)
from .blueprint import bp
from .scope import all_sites


def init_app(app: Flask) -> None:
    """Sign-in, CSRF, template filters and the pages."""
    auth.init_app(app)
    display.init_app(app)
    app.add_template_global(all_sites, "dashboard_sites")
    app.register_blueprint(bp)
