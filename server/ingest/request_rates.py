"""Rate limits per key and, for the public tracker endpoint, per address (Flask-Limiter).

Flask-Limiter is maintained, speaks 429 with `Retry-After`, and stores counters in memory by
default or in Redis (`SIBYL_RATE_LIMIT_STORAGE=redis://…`) so that many processes share them.
"""

from __future__ import annotations

import threading
import time

from flask import Blueprint, Flask, Response, current_app, request
from flask_limiter import HeaderNames, Limiter
from flask_limiter.util import get_remote_address
from limits.storage import Storage

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


class WindowCounters(Storage):
    """Fixed-window counters in this process's memory, what `memory://` means here. limits' own memory storage
    keeps them too, but starts a thread to expire them every 10 ms that it is in use (a tenth of a single event's
    cost, measured) and can start it twice when two threads count at once, failing the request with a 500 (limits
    5.8; alisaifee/limits#352). Here a counter expires when read after its window, and the stale ones are swept
    once a minute by whichever request counts then."""

    STORAGE_SCHEME = ["sibyl-memory"]  # noqa: RUF012 — limits reads this name; its base declares it so

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[int, float]] = {}  # key: (count, end of its window)
        self._swept_at = time.time()

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now - self._swept_at >= _SWEEP_EVERY:
                self._counters = {key: kept for key, kept in self._counters.items() if kept[1] > now}
                self._swept_at = now
            count, ends = self._counters.get(key, (0, now))
            if ends <= now:
                count, ends = 0, now + expiry
            self._counters[key] = (count + amount, ends)
            return count + amount

    def get(self, key: str) -> int:
        count, ends = self._counters.get(key, (0, 0.0))
        return count if ends > time.time() else 0

    def get_expiry(self, key: str) -> float:
        return self._counters.get(key, (0, time.time()))[1]

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            count = len(self._counters)
            self._counters = {}
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)


def storage_uri(configured: str) -> str:
    """The storage the limiter uses for the configured one: in memory, `WindowCounters`."""
    return "sibyl-" + configured if configured.startswith("memory://") else configured


_SWEEP_EVERY = 60.0  # seconds between sweeps of the counters whose window has ended

# Flask-Limiter puts its window's end in Retry-After on every answer, and raises a Retry-After already there to it:
# a 503 saying "1" (the database restarting) would tell the tracker to wait up to a minute. Its value goes under
# another name, and becomes Retry-After only on its own refusals (see `_retry_after_when_limited`).
_WINDOW_ENDS = "X-RateLimit-Retry-After"
limiter = Limiter(
    key_func=_api_key,
    headers_enabled=True,
    strategy="fixed-window",
    header_name_mapping={HeaderNames.RETRY_AFTER: _WINDOW_ENDS},
)
_limited: set[str] = set()  # blueprints are module globals: give each its limit once, however many apps are made


def _retry_after_when_limited(response: Response) -> Response:
    """Retry-After on the limiter's 429 only: the seconds until its window ends. Other answers keep their own (a
    503's, the identification budget's 429) or carry none."""
    window_ends = response.headers.pop(_WINDOW_ENDS, None)
    if response.status_code == 429 and window_ends is not None and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = window_ends
    return response


def init_app(app: Flask, api_blueprints: list[Blueprint], tracker_blueprint: Blueprint) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri(app.config["RATE_LIMIT_STORAGE"])
    app.after_request(_retry_after_when_limited)  # registered first, so that it runs after the limiter's own
    for blueprint in api_blueprints:
        if blueprint.name not in _limited:
            limiter.limit(lambda: current_app.config["RATE_LIMIT"])(blueprint)
            _limited.add(blueprint.name)
    if tracker_blueprint.name not in _limited:
        limiter.limit(lambda: current_app.config["COLLECT_RATE_LIMIT"], key_func=get_remote_address)(tracker_blueprint)
        _limited.add(tracker_blueprint.name)
    limiter.init_app(app)
