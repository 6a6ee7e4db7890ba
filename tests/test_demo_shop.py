"""Brevo's abandoned-cart guide, end to end: the demo shop in Chromium, the real tracker and receiver."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from server.models import Event, Site

from .support.clicks import link_targets
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


def lines_of(event: Event) -> list[tuple[str, int]]:
    """A tracked cart's lines as (name, quantity), as the recovery email would list them."""
    assert event.name == "cart_updated" and event.eventdata is not None
    return [(item["name"], item["quantity"]) for item in event.eventdata["data"]["items"]]


def cart_updates(store: Store, site: Site, count: int) -> list[Event]:
    """The first `count` tracked events, in the order the browser made them (its clock, one browser)."""
    events = sorted(store.wait_for_events(site, count, "track"), key=lambda event: event.occurred_at)
    assert len(events) == count, [lines_of(event) for event in events]
    return events


def cart_link(event: Event) -> str:
    assert event.eventdata is not None
    link: str = event.eventdata["data"]["url"]
    return link


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

    *_, event = cart_updates(store, site, 3)  # two adds, then a new quantity
    assert event.eventdata is not None
    cart_id = event.eventdata["id"]
    assert cart_id.startswith("cart:")
    assert event.name == "cart_updated"
    assert event.properties == {"email": EMAIL, "FIRSTNAME": "Thomas", "LASTNAME": "Bianchi"}
    assert cart_link(event).startswith(server.url + "/cart/restore/")
    assert event.eventdata == {
        "id": cart_id,
        "data": {
            "items": [
                {
                    "name": "Black shoes",
                    "price": 90,
                    "quantity": 2,
                    "url": server.url + "/products/black-shoes",
                    "image": server.url + "/static/black-shoes.png",
                },
                {
                    "name": "White shirt",
                    "price": 100,
                    "quantity": 1,
                    "url": server.url + "/products/white-shirt",
                    "image": server.url + "/static/white-shirt.png",
                },
            ],
            "total": 280,
            "currency": "USD",
            "url": cart_link(event),
        },
    }
    headers = {"api-key": site.api_key}
    contact = requests.get(f"{receiver.url}/v3/contacts/{EMAIL}", headers=headers, timeout=5).json()
    assert contact["attributes"] == {"FIRSTNAME": "Thomas", "LASTNAME": "Bianchi"}
    listed = requests.get(f"{receiver.url}/v3/events", headers=headers, timeout=5).json()
    (latest,) = [listed_event for listed_event in listed["events"] if listed_event["eventdata"] == event.eventdata]
    assert latest["event_name"] == "cart_updated"
    assert latest["contact_id"] == contact["id"]
    page_views = store.events(site, "page")
    assert {view.contact_id for view in page_views} == {contact["id"]}
    assert {view.properties["ma_path"] for view in page_views} >= {"/signin", "/products/black-shoes", "/cart"}


def test_emptying_the_cart_sends_cart_deleted(page: Page, shop: tuple[Process, Site], store: Store) -> None:
    server, site = shop
    sign_in(page, server)
    add_to_cart(page, server, "white-shirt")
    page.click(".remove-btn")
    expect(page.locator("#cart-empty")).to_be_visible()
    added, event = sorted(store.wait_for_events(site, 2, "track"), key=lambda event: event.occurred_at)
    assert lines_of(added) == [("White shirt", 1)]
    assert event.name == "cart_deleted"
    assert added.eventdata is not None and event.eventdata == {"id": added.eventdata["id"]}


def test_checkout_sends_order_completed(page: Page, shop: tuple[Process, Site], store: Store) -> None:
    server, site = shop
    sign_in(page, server)
    add_to_cart(page, server, "black-shoes")
    page.click(".checkout-btn")
    page.wait_for_url("**/thanks")
    added, event = sorted(store.wait_for_events(site, 2, "track"), key=lambda event: event.occurred_at)
    assert event.name == "order_completed"
    assert added.eventdata is not None and event.eventdata is not None
    assert event.eventdata["id"] == added.eventdata["id"]
    assert event.eventdata is not None and event.eventdata["data"]["total"] == 90
    assert event.properties["email"] == EMAIL


def test_add_remove_and_a_new_quantity_each_send_the_whole_cart(
    page: Page, shop: tuple[Process, Site], store: Store
) -> None:
    server, site = shop
    sign_in(page, server)
    add_to_cart(page, server, "black-shoes")  # from the product page
    page.goto(server.url + "/")
    page.click(".add-btn[data-slug=sun-hat]")  # from the home page's list
    page.wait_for_url("**/cart")
    page.click(".remove-btn[data-slug=black-shoes]")
    expect(page.locator("tr.cart-line[data-slug=black-shoes]")).to_have_count(0)
    page.fill("input.qty[data-slug=sun-hat]", "3")
    page.press("input.qty[data-slug=sun-hat]", "Tab")  # the new quantity, set and left: no Update cart button
    expect(page.locator("#cart-total")).to_have_attribute("data-total", "105")

    events = cart_updates(store, site, 4)
    assert [lines_of(event) for event in events] == [
        [("Black shoes", 1)],
        [("Black shoes", 1), ("Sun hat", 1)],
        [("Sun hat", 1)],
        [("Sun hat", 3)],
    ]
    assert len({event.eventdata and event.eventdata["id"] for event in events}) == 1  # one cart throughout
    assert events[-1].eventdata is not None and events[-1].eventdata["data"]["total"] == 105


def test_the_cart_link_restores_the_cart_in_a_browser_that_never_saw_it(
    page: Page, browser: Browser, shop: tuple[Process, Site], store: Store
) -> None:
    server, site = shop
    sign_in(page, server)
    add_to_cart(page, server, "black-shoes")
    add_to_cart(page, server, "white-shirt")
    *_, event = cart_updates(store, site, 2)
    link = cart_link(event)
    token = link.removeprefix(server.url + "/cart/restore/")
    assert len(token) >= 32 and token not in (event.eventdata or {}).get("id", "")

    phone = browser.new_context()  # no cookies, no session: the phone the email is opened on
    try:
        other = phone.new_page()
        other.goto(link)
        other.wait_for_url("**/cart")
        expect(other.locator("tr.cart-line")).to_have_count(2)
        expect(other.locator("tr.cart-line[data-slug=black-shoes] input.qty")).to_have_value("1")
        expect(other.locator("tr.cart-line[data-slug=white-shirt] input.qty")).to_have_value("1")
        expect(other.locator("#cart-total")).to_have_attribute("data-total", "190")
        forged = other.goto(server.url + "/cart/restore/" + "A" * len(token))
        assert forged is not None and forged.status == 404
        expect(other.locator("#cart-gone")).to_be_visible()
    finally:
        phone.close()


def test_the_shops_pictures_are_pngs(page: Page, shop: tuple[Process, Site]) -> None:
    server, _ = shop
    page.goto(server.url + "/")
    sources: list[Any] = page.eval_on_selector_all(
        ".grid img", "images => images.map(image => [image.src, image.complete && image.naturalWidth])"
    )
    assert len(sources) == 5
    for source, width in sources:
        assert source.endswith(".png") and width == 240, source
        answer = requests.get(source, timeout=5)
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_recovery_email_shows_the_cart_with_png_pictures_and_its_restoring_link(
    page: Page, store: Store, receiver_with_automation: Process, smtp_sink: SmtpSink
) -> None:
    server, site = start_shop(store, receiver_with_automation)
    try:
        sign_in(page, server)
        add_to_cart(page, server, "black-shoes")
        page.fill("input.qty[data-slug=black-shoes]", "2")
        page.click(".update-btn")
        *_, event = cart_updates(store, site, 2)
        assert lines_of(event) == [("Black shoes", 2)]
        store.set_cart_delay(site, 1)  # the cart as it stands now falls due in a second
        (message,) = smtp_sink.wait_for(1, timeout=20)
    finally:
        server.stop()
    assert message["To"] == EMAIL
    plain = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert plain is not None and html_part is not None
    text = plain.get_content()
    assert "Thomas" in text and "Black shoes" in text and "$180.00" in text
    assert cart_link(event) in link_targets(text, store.app.config["SECRET_KEY"])  # the cart's link, counted
    images = re.findall(r'<img[^>]+src="([^"]+)"', html_part.get_content())
    assert server.url + "/static/black-shoes.png" in images
    assert all(image.endswith(".png") for image in images if image.startswith(server.url)), images
