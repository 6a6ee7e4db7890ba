"""The rate limiter's counters: `memory://` is the storage that counts one thread at a time."""

from __future__ import annotations

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from server import create_app
from server.ingest.request_rates import LockedMemoryStorage, limiter, storage_uri


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
