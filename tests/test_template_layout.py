"""The shipped templates as mail apps lay them out: each default rendered and finished, then opened in Chromium at
a phone's width and a desktop's. Nothing may be wider than the screen, and the button and the unsubscribe link show."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from server.email_templates.compose import render_template
from server.email_templates.store import shipped, shipped_names

pytestmark = pytest.mark.browser

HOSTS = frozenset({"shop.example"})
UNSUBSCRIBE = "https://sibyl.example/unsubscribe/token"
WIDTHS = {"phone": 375, "desktop": 1024}
LINES = [
    {
        "name": "A pair of black leather shoes with a name long enough to wrap on a phone",
        "quantity": "2",
        "price": "$90.00",
        "total": "$180.00",
        "url": "https://shop.example/products/black-shoes",
        "image": "",
    },
    {"name": "White shirt", "quantity": "1", "price": "$100.00", "total": "$100.00", "url": "", "image": ""},
]
VARIABLES: dict[str, Any] = {
    "contact": {"FIRSTNAME": "Thomas", "EMAIL": "thomas@example.com"},
    "params": {},
    "unsubscribe": UNSUBSCRIBE,
    "shop": {
        "name": "Tea Shop",
        "logo": "",
        "accent": "#0f766e",
        "intro": "",
        "address": "1 Tea Street\nLeeds",
        "url": "https://shop.example/",
        "locale": "en_US",
    },
    "cart": {"lines": LINES, "total": "$280.00", "url": "https://shop.example/cart"},
    "page": {"title": "Black shoes", "url": "https://shop.example/products/black-shoes"},
}


@pytest.mark.parametrize("width", WIDTHS.values(), ids=list(WIDTHS))
@pytest.mark.parametrize("name", shipped_names())
def test_each_default_fits_the_screen_with_its_button_and_unsubscribe_link(
    browser: Browser, name: str, width: int
) -> None:
    template = shipped(name)
    assert template is not None
    email = render_template(template, VARIABLES, hosts=HOSTS, unsubscribe_url=UNSUBSCRIBE)
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        page.set_content(email.html)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than a {width}px screen"
        expect(page.get_by_role("link", name="Unsubscribe")).to_be_visible()
        button = page.locator("a.button")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        expect(page.get_by_text("Hi Thomas,")).to_be_visible()
    finally:
        context.close()
