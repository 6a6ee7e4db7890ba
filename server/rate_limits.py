"""Rate limits per key and, for the public tracker endpoint, per address (Flask-Limiter).

Flask-Limiter is maintained, speaks 429 with `Retry-After`, and stores counters in memory by
default or in Redis (`SIBYL_RATE_LIMIT_STORAGE=redis://…`) so that many processes share them.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def _api_key() -> str:
    """The key a REST call carries (secret `api-key` or public `ma-key`), else the caller's address."""
    key = request.headers.get("api-key") or request.headers.get("ma-key")
    return f"key:{key}" if key else f"address:{get_remote_address()}"


limiter = Limiter(key_func=_api_key, headers_enabled=True, strategy="fixed-window")


def init_app(app: Flask, api_blueprints: list[Blueprint], tracker_blueprint: Blueprint) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATE_LIMIT_STORAGE"]
    for blueprint in api_blueprints:
        limiter.limit(lambda: current_app.config["RATE_LIMIT"])(blueprint)
    limiter.limit(lambda: current_app.config["COLLECT_RATE_LIMIT"], key_func=get_remote_address)(tracker_blueprint)
    limiter.init_app(app)
