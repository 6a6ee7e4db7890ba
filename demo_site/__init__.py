"""Sibyl demo shop: a small Flask shop that embeds the tracking snippet like a real site."""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask

from demo_site.cart_store import CartStore
from demo_site.snippet import load_snippet
from demo_site.views import bp

__all__ = ["create_app"]


def _env_config() -> dict[str, Any]:
    """Read the shop's settings from the environment."""
    return {
        "DEMO_SNIPPET": os.environ.get("DEMO_SNIPPET") or None,
        "DEMO_SNIPPET_FILE": os.environ.get("DEMO_SNIPPET_FILE") or None,
        "SECRET_KEY": os.environ.get("DEMO_SECRET_KEY") or secrets.token_hex(32),
    }


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the demo shop; ``config`` overrides values read from the environment."""
    app = Flask(__name__)
    app.config.update(_env_config())
    app.config.update(
        SESSION_COOKIE_NAME="demo_shop_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # Flask's default provider has it; the base type not
    if config:
        app.config.update(config)
    app.extensions["demo_carts"] = CartStore()
    app.register_blueprint(bp)

    @app.context_processor
    def inject_snippet() -> dict[str, Any]:
        snippet, problem = load_snippet(app.config)
        return {"tracking_snippet": snippet, "tracking_problem": problem}

    return app
