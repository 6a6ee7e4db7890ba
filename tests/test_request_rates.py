"""The rate limiter: `memory://` counts one thread at a time, and Retry-After is its own only on its refusals."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from flask.testing import FlaskClient
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.test import TestResponse

from server import create_app
from server.ingest.request_rates import LockedMemoryStorage, limiter, storage_uri

from .support.browser import BROWSER_USER_AGENT
from .support.sites import new_site


def test_memory_means_the_locked_storage_and_others_stay_as_configured() -> None:
    assert isinstance(storage_from_string(storage_uri("memory://")), LockedMemoryStorage)
    assert storage_uri("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"


def test_the_app_counts_in_the_locked_storage(database_url: str) -> None:
    app = create_app({"DATABASE_URL": database_url, "RATE_LIMIT_STORAGE": "memory://"})
    with app.app_context():
        assert isinstance(limiter.storage, LockedMemoryStorage)


def test_the_locked_storage_counts_every_hit() -> None:
    counter = FixedWindowRateLimiter(storage_from_string(storage_uri("memory://")))
    limit = parse("3/minute")
    assert [counter.hit(limit, "address:127.0.0.1") for _ in range(4)] == [True, True, True, False]


def _collect(client: FlaskClient, key: str) -> TestResponse:
    body = {"key": key, "cuid": "visitor-1", "messages": [{"id": uuid.uuid4().hex, "type": "page", "url": "/"}]}
    return client.post("/collect", data=json.dumps(body), headers={"User-Agent": BROWSER_USER_AGENT})


def test_an_accepted_batch_carries_no_retry_after_and_the_limiters_refusal_does(database_url: str) -> None:
    app = create_app({"DATABASE_URL": database_url, "COLLECT_RATE_LIMIT": "2/minute"})
    site = new_site(app)
    client = app.test_client()
    answers = [_collect(client, site.client_key) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "Retry-After" not in answers[0].headers
    assert 0 < int(answers[2].headers["Retry-After"]) <= 60


def test_a_database_outage_says_retry_in_a_second_not_at_the_rate_limits_window(tmp_path: Path) -> None:
    """The tracker waits what Retry-After says: a restarting database is back within seconds."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/missing/sibyl.db", "AUTO_MIGRATE": False})
    answer = _collect(app.test_client(), "a-client-key")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
