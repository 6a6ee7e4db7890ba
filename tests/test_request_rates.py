"""The rate limiter: `memory://` is this process's fixed-window counters, exact under threads, with no thread of
their own, and restarting with each window; Retry-After is its own only on its refusals."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

from flask.testing import FlaskClient
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.test import TestResponse

from server import create_app
from server.ingest.request_rates import WindowCounters, limiter, storage_uri

from .support.browser import BROWSER_USER_AGENT
from .support.sites import new_site
from .support.waiting import wait_until


def counters() -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(storage_from_string(storage_uri("memory://")))


def test_memory_means_the_window_counters_and_others_stay_as_configured() -> None:
    assert isinstance(storage_from_string(storage_uri("memory://")), WindowCounters)
    assert storage_uri("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"


def test_the_app_counts_in_the_window_counters(database_url: str) -> None:
    app = create_app({"DATABASE_URL": database_url, "RATE_LIMIT_STORAGE": "memory://"})
    with app.app_context():
        assert isinstance(limiter.storage, WindowCounters)


def test_every_hit_counts_and_a_new_window_starts_afresh() -> None:
    counter = counters()
    limit = parse("3/second")
    assert [counter.hit(limit, "address:127.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert counter.get_window_stats(limit, "address:127.0.0.1").remaining == 0
    wait_until(lambda: counter.hit(limit, "address:127.0.0.1"), timeout=3)
    assert counter.get_window_stats(limit, "address:127.0.0.1").remaining == 2


def test_threads_counting_at_once_lose_no_hit_and_start_no_thread() -> None:
    counter, limit = counters(), parse("100000/minute")
    threads_before = threading.active_count()
    workers = [
        threading.Thread(target=lambda: [counter.hit(limit, "key:shared") for _ in range(2_000)]) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert counter.get_window_stats(limit, "key:shared").remaining == 100_000 - 16_000
    assert threading.active_count() == threads_before


def _collect(client: FlaskClient, key: str) -> TestResponse:
    body = {"key": key, "cuid": "visitor-1", "messages": [{"id": uuid.uuid4().hex, "type": "page", "url": "/"}]}
    return client.post("/collect", data=json.dumps(body), headers={"User-Agent": BROWSER_USER_AGENT})


def test_an_accepted_batch_carries_no_retry_after_and_the_limiters_refusal_does(database_url: str) -> None:
    app = create_app({"DATABASE_URL": database_url, "WORKER": "external", "COLLECT_RATE_LIMIT": "2/minute"})
    site = new_site(app)
    client = app.test_client()
    answers = [_collect(client, site.client_key) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "Retry-After" not in answers[0].headers
    assert 0 < int(answers[2].headers["Retry-After"]) <= 60


def test_a_database_outage_says_retry_in_a_second_not_at_the_rate_limits_window(tmp_path: Path) -> None:
    """The tracker waits what Retry-After says: a restarting database is back within seconds."""
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/missing/sibyl.db", "WORKER": "external", "AUTO_MIGRATE": False}
    )
    answer = _collect(app.test_client(), "a-client-key")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
