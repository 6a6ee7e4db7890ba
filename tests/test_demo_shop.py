"""Brevo's abandoned-cart guide, end to end: the demo shop in Chromium, the real tracker and receiver."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Page, expect

from server.models import Site

from .support.servers import Process, start_shop
from .support.smtp_sink import SmtpSink
from .support.store import Store

pytestmark = pytest.mark.browser

EMAIL = "thomas.bianchi@example.com"


def sign_in(page: Page, shop: Process) -> None:
    page.goto(shop.url + "/signin")
    page.fill("#signin [name=email]", EMAIL)
    page.fill("#signin [name=firstname]", "Thomas")
    page.fill("#signin [name=lastname]", "Bianchi")
    page.click("#signin [type=submit]")
    expect(page.locator("#signed-in-as")).to_contain_text(EMAIL)


def add_to_cart(page: Page, shop: Process, slug: str) -> None:
    page.goto(f"{shop.url}/products/{slug}")
    page.click(".add-btn")
    page.wait_for_url("**/cart")


def test_the_guides_cart_reaches_the_receiver_as_sent(
    page: Page, shop: tuple[Process, Site], store: Store, receiver: Process
) -> None:
    server, site = shop
    sign_in(page, server)
    add_to_cart(page, server, "black-shoes")
    add_to_cart(page, server, "white-shirt")
    page.fill("input.qty[data-slug=black-shoes]", "2")
    page.click(".update-btn")
    expect(page.locator("#cart-total")).to_have_attribute("data-total", "280")

    (event,) = store.wait_for_events(site, 1, "track")
    assert event.eventdata is not None
    cart_id = event.eventdata["id"]
    assert cart_id.startswith("cart:")
    assert event.name == "cart_updated"
    assert event.properties == {"email": EMAIL, "FIRSTNAME": "Thomas", "LASTNAME": "Bianchi"}
    assert event.eventdata == {
        "id": cart_id,
        "data": {
            "total": 280,
            "currency": "USD",
            "url": server.url + "/cart",
            "items": [
                {
                    "name": "Black shoes",
                    "price": 90,
                    "quantity": 2,
                    "url": server.url + "/products/black-shoes",
                    "image": server.url + "/static/black-shoes.svg",
                },
                {
                    "name": "White shirt",
                    "price": 100,
                    "quantity": 1,
                    "url": server.url + "/products/white-shirt",
                    "image": server.url + "/static/white-shirt.svg",
                },
            ],
        },
    }
    headers = {"api-key": site.api_key}
    contact = requests.get(f"{receiver.url}/v3/contacts/{EMAIL}", headers=headers, timeout=5).json()
    assert contact["attributes"] == {"FIRSTNAME": "Thomas", "LASTNAME": "Bianchi"}
    listed = requests.get(f"{receiver.url}/v3/events", headers=headers, timeout=5).json()
    assert listed["events"][0]["event_name"] == "cart_updated"
    assert listed["events"][0]["contact_id"] == contact["id"]
    assert listed["events"][0]["eventdata"] == event.eventdata
    page_views = store.events(site, "page")
    assert {view.contact_id for view in page_views} == {contact["id"]}
    assert {view.properties["ma_path"] for view in page_views} >= {"/signin", "/products/black-shoes", "/cart"}


def test_emptying_the_cart_sends_cart_deleted(page: Page, shop: tuple[Process, Site], store: Store) -> None:
    server, site = shop
    sign_in(page, server)
    add_to_cart(page, server, "white-shirt")
    page.click(".remove-btn")
    expect(page.locator("#cart-empty")).to_be_visible()
    (event,) = store.wait_for_events(site, 1, "track")
    assert event.name == "cart_deleted"
    assert event.eventdata is not None and event.eventdata["id"].startswith("cart:")


def test_checkout_sends_order_completed(page: Page, shop: tuple[Process, Site], store: Store) -> None:
    server, site = shop
    sign_in(page, server)
    add_to_cart(page, server, "black-shoes")
    page.click(".checkout-btn")
    page.wait_for_url("**/thanks")
    (event,) = store.wait_for_events(site, 1, "track")
    assert event.name == "order_completed"
    assert event.eventdata is not None and event.eventdata["data"]["total"] == 90
    assert event.properties["email"] == EMAIL


def test_update_cart_then_the_recovery_email_arrives(
    page: Page, store: Store, receiver_with_automation: Process, smtp_sink: SmtpSink
) -> None:
    server, site = start_shop(store, receiver_with_automation)
    try:
        store.set_cart_delay(site, 1)
        sign_in(page, server)
        add_to_cart(page, server, "black-shoes")
        page.fill("input.qty[data-slug=black-shoes]", "2")
        page.click(".update-btn")
        (message,) = smtp_sink.wait_for(1, timeout=20)
    finally:
        server.stop()
    assert message["To"] == EMAIL
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    text = plain.get_content()
    assert "Thomas" in text and "Black shoes" in text and "$180.00" in text
    assert server.url + "/cart" in text
