"""Waiting for a condition instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

POLL_SECONDS = 0.05


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, page: Page | None = None) -> Any:
    """Poll `condition` until it returns something truthy; fail the test at the timeout.

    With `page`, the pauses go through Playwright, so that its route handlers keep running.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value: {result!r})")
        if page is not None:
            page.wait_for_timeout(POLL_SECONDS * 1000)
        else:
            time.sleep(POLL_SECONDS)
