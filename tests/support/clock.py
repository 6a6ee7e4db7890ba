"""A clock the test moves, passed to the worker instead of waiting hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """The worker's clock, moved by the test instead of waiting hours."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
