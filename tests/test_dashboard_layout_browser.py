"""Every dashboard page at a phone's width and a desktop's, in Chromium, over the docs' demo shop: nothing scrolls
sideways, runs show their status, badges are readable, no text is squeezed to a letter per line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser

from scripts.screenshots import WIDTHS, demo_dashboard, sign_in, visit
from server import create_app
from server.models import utcnow

from .support.browser import BROWSER_USER_AGENT
from .support.databases import fresh_database_url
from .support.layout import measure
from .support.servers import Process, start_receiver

pytestmark = pytest.mark.browser

BADGES = ".kind, .pill, .count"
CELLS = ".table td, .table th, .items td, .cell-name"
MUST_BE_SEEN = ".run-state .pill, .kind, .table--stack td"
WRAPPED = ".notice, .hint, .card > p"  # prose boxes: a long address or URL in them wraps instead of running out
MIN_CONTRAST = 4.5  # WCAG AA for small text


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, built_tracker: Path) -> Iterator[tuple[Process, dict[str, str]]]:
    """The receiver over the screenshots' demo shop (a small month of traffic), and the path of every page."""
    database_url = fresh_database_url(tmp_path_factory.mktemp("demo"))
    app: Flask = create_app({"DATABASE_URL": database_url, "WORKER": "external"})
    pages = demo_dashboard(app, utcnow(), visits_per_day=6)
    process = start_receiver(database_url, built_tracker, worker="external")
    yield process, pages
    process.stop()


def test_every_page_fits_a_phone_and_a_desktop(browser: Browser, demo: tuple[Process, dict[str, str]]) -> None:
    receiver, pages = demo
    problems: list[str] = []
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 800}, user_agent=BROWSER_USER_AGENT)
        page = context.new_page()
        for name, path in pages.items():
            if name != "login" and page.url.endswith("/login"):
                sign_in(page, receiver.url)
            visit(page, receiver.url + path)
            assert page.url == receiver.url + path, f"{name}: landed on {page.url}"
            seen = measure(page, BADGES, CELLS, MUST_BE_SEEN, WRAPPED)
            where = f"{name} at {width}px"
            if seen.overflow > 0:
                problems.append(f"{where} scrolls sideways by {seen.overflow}px")
            problems += [
                f"{where}: {low['text']!r} has contrast {low['ratio']:.2f}"
                for low in seen.contrast
                if low["ratio"] < MIN_CONTRAST
            ]
            problems += [f"{where}: {cell['text']!r} squeezed to {cell['width']:.0f}px" for cell in seen.squeezed]
            problems += [f"{where}: {text!r} is off-screen" for text in seen.offscreen]
            problems += [f"{where}: {text!r} runs out of its box" for text in seen.spilled]
            if name in ("automation", "flow", "live"):
                assert page.locator(".run-state .pill, .kind").count() > 0, f"{where}: no statuses to check"
        context.close()
    assert not problems, "\n".join(dict.fromkeys(problems))
