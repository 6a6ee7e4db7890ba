"""Rate limits per key and, for the public tracker endpoint, per address (Flask-Limiter).

Flask-Limiter is maintained, speaks 429 with `Retry-After`, and stores counters in memory by
default or in Redis (`SIBYL_RATE_LIMIT_STORAGE=redis://…`) so that many processes share them.
"""

from __future__ import annotations

import threading

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage

from ..sites import is_secret_key_form


def _api_key() -> str:
    """Whom a REST call is counted against: a secret `api-key` alone, which only the shop holds; a public key
    (in `ma-key`, or in `api-key` as Brevo's PrestaShop and Magento modules send it) with the caller's address,
    so that no stranger can spend a shop's quota; else the address."""
    key = request.headers.get("api-key", "")
    if is_secret_key_form(key):
        return f"key:{key}"
    if key := key or request.headers.get("ma-key", ""):
        return f"public:{key}:{get_remote_address()}"
    return f"address:{get_remote_address()}"


class LockedMemoryStorage(MemoryStorage):
    """limits' in-memory counters, counted one thread at a time. Alone, two threads of a gunicorn worker counting at
    once can start its expiry timer twice and fail the request with a 500 (limits 5.8; fixed upstream in
    alisaifee/limits#352, not yet released). `memory://` means this storage."""

    STORAGE_SCHEME = ["sibyl-memory"]  # noqa: RUF012 — limits reads this name; its base declares it so

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self._counting = threading.Lock()

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with self._counting:
            return super().incr(key, expiry, amount)


def storage_uri(configured: str) -> str:
    """The storage the limiter uses for the configured one: in memory, the locked kind."""
    return "sibyl-" + configured if configured.startswith("memory://") else configured


limiter = Limiter(key_func=_api_key, headers_enabled=True, strategy="fixed-window")
_limited: set[str] = set()  # blueprints are module globals: give each its limit once, however many apps are made


def init_app(app: Flask, api_blueprints: list[Blueprint], tracker_blueprint: Blueprint) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri(app.config["RATE_LIMIT_STORAGE"])
    for blueprint in api_blueprints:
        if blueprint.name not in _limited:
            limiter.limit(lambda: current_app.config["RATE_LIMIT"])(blueprint)
            _limited.add(blueprint.name)
    if tracker_blueprint.name not in _limited:
        limiter.limit(lambda: current_app.config["COLLECT_RATE_LIMIT"], key_func=get_remote_address)(tracker_blueprint)
        _limited.add(tracker_blueprint.name)
    limiter.init_app(app)
