"""The workflow presets end to end: the demo shop in Chromium, the real tracker, receiver and worker, the shipped
templates, and a real SMTP server. The presets' waits are shortened to seconds; nothing else of them changes."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from server.automation.definitions import PRESETS
from server.models import Site

from .support.cli import cli
from .support.clicks import link_targets
from .support.servers import Process, start_shop
from .support.smtp_sink import SmtpSink
from .support.store import Store
from .test_demo_shop import EMAIL, add_to_cart, sign_in

pytestmark = pytest.mark.browser

SHORT_WAIT = "2s"


def shortened(document: dict[str, Any]) -> dict[str, Any]:
    """The preset with every wait and timeout of its steps two seconds long (its goal window kept)."""

    def steps(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        shorter = []
        for step in listed:
            step = dict(step)
            if "wait" in step:
                step["wait"] = SHORT_WAIT
            if "wait_for" in step:
                step["wait_for"] = {**step["wait_for"], "timeout": SHORT_WAIT}
            for branch in ("then", "else"):
                if branch in step:
                    step[branch] = steps(step[branch])
            shorter.append(step)
        return shorter

    return {**document, "steps": steps(document["steps"]), "enabled": True}


def with_preset(store: Store, site: Site, preset: str, tmp_path: Path) -> None:
    """The preset imported on the site, waits shortened; the site's own abandoned cart off; no email period (the
    shortened series would fall inside it)."""
    path = tmp_path / f"{preset}.json"
    path.write_text(json.dumps(shortened(json.loads((PRESETS / f"{preset}.json").read_text()))))
    for command in (
        ("workflows", "import", site.name, str(path)),
        ("workflows", "set", site.name, "--disable"),
        ("sites", "set", site.name, "--email-period", "0"),
    ):
        result = cli(store.app, *command)
        assert result.exit_code == 0, result.output


def update_cart(page: Page, server: Process) -> None:
    """Two pairs of black shoes in the cart, and Update: the add's `cart_updated`, then the guide's."""
    add_to_cart(page, server, "black-shoes")
    page.fill("input.qty[data-slug=black-shoes]", "2")
    page.click(".update-btn")


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def shop(store: Store, receiver_with_automation: Process) -> Any:
    server, site = start_shop(store, receiver_with_automation)
    yield server, site
    server.stop()


def test_the_cart_series_sends_its_three_emails_in_order(
    page: Page, shop: tuple[Process, Site], store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    server, site = shop
    with_preset(store, site, "cart-series", tmp_path)
    sign_in(page, server)
    update_cart(page, server)
    messages = smtp_sink.wait_for(3, timeout=30)
    assert [message["Subject"] for message in messages] == [
        "You left something in your cart",
        "Still thinking it over?",
        "Last chance: your cart is about to expire",
    ]
    assert all(message["To"] == EMAIL for message in messages)
    first = html_of(messages[0])
    assert "Hi Thomas," in first and "Black shoes" in first
    targets = link_targets(first, store.app.config["SECRET_KEY"])
    assert any(target.startswith(server.url + "/cart") for target in targets)


def test_an_order_ends_the_cart_series(
    page: Page, shop: tuple[Process, Site], store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    server, site = shop
    with_preset(store, site, "cart-series", tmp_path)
    sign_in(page, server)
    update_cart(page, server)
    (first,) = smtp_sink.wait_for(1, timeout=20)
    page.click(".checkout-btn")
    page.wait_for_url("**/thanks")
    store.wait_for_events(site, 3, "track")  # the cart's two updates (the add, the quantity) and the order, stored
    with pytest.raises(pytest.fail.Exception):
        smtp_sink.wait_for(2, timeout=6)  # the series' next email was due 2 s after the first
    assert first["Subject"] == "You left something in your cart"


def test_browse_abandonment_emails_a_product_viewed_without_a_cart(
    page: Page, shop: tuple[Process, Site], store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    server, site = shop
    with_preset(store, site, "browse-abandonment", tmp_path)
    sign_in(page, server)
    page.goto(server.url + "/products/white-shirt")
    (message,) = smtp_sink.wait_for(1, timeout=20)
    assert message["Subject"] == "Still interested?"
    html = html_of(message)
    assert "White shirt" in html
    assert server.url + "/products/white-shirt" in link_targets(html, store.app.config["SECRET_KEY"])


def test_the_welcome_email_greets_a_new_contact(
    page: Page, shop: tuple[Process, Site], store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    server, site = shop
    with_preset(store, site, "welcome", tmp_path)
    sign_in(page, server)
    (message,) = smtp_sink.wait_for(1, timeout=20)
    assert message["Subject"] == f"Welcome to {site.name}"
    assert "Hi Thomas," in html_of(message)


def test_the_post_purchase_follow_up_comes_after_an_order(
    page: Page, shop: tuple[Process, Site], store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    server, site = shop
    with_preset(store, site, "post-purchase", tmp_path)
    sign_in(page, server)
    add_to_cart(page, server, "black-shoes")
    page.click(".checkout-btn")
    page.wait_for_url("**/thanks")
    (message,) = smtp_sink.wait_for(1, timeout=20)
    assert message["Subject"] == "How is your order?"
    assert "Thank you for your order of $90.00" in html_of(message)
