"""Brevo's shop plugins and integrations, replayed against a real receiver: each request exactly as the plugin's
code writes it (header lines, repeated names and key order included), each naming the code it comes from."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from server import create_app, db
from server.models import Cart, Contact, Event, Site

from .support.cli import cli
from .support.dashboard import csrf_token
from .support.raw_http import Answer, send_lines
from .support.servers import Process, start_receiver
from .support.store import Store
from .support.waiting import wait_until


def _email() -> str:
    return f"jane-{uuid.uuid4().hex[:8]}@example.com"


def _post(
    receiver: Process, path: str, headers: list[tuple[str, str]], body: dict[str, Any], *, ascii_only: bool = False
) -> Answer:
    return send_lines(receiver.url, "POST", path, headers, json.dumps(body, ensure_ascii=ascii_only).encode())


def _events(store: Store, site: Site) -> list[Event]:
    return store.events(site)


def _carts(store: Store, site: Site) -> list[Cart]:
    with db.new_session(store.app) as session:
        return list(session.scalars(select(Cart).where(Cart.site_id == site.id).order_by(Cart.id)))


def _contact(store: Store, site: Site, email: str) -> Contact:
    contact = store.contact(site, email)
    assert contact is not None, f"no contact {email}"
    return contact


@pytest.fixture
def site(store: Store) -> Site:
    return store.create_site(email_hosts=("shop.example",))


# WooCommerce: "Brevo for WooCommerce" 4.0.53, woocommerce-sendinblue-newsletter-subscription/src/clients/
# automation-client.php (the `ma-key` line written twice, no api-key) and src/managers/cart-events-manager.php (the
# body: item price as the line total, `false` for a missing image, `variant_id` "").
def _woocommerce_headers(site: Site) -> list[tuple[str, str]]:
    return [
        ("Accept", "*/*"),
        ("Content-Type", "application/json"),
        ("ma-key", site.client_key),
        ("ma-key", site.client_key),
        ("User-Agent", "sendinblue_plugins/woocommerce_common"),
    ]


def test_woocommerce_cart_then_order_with_the_key_line_sent_twice(receiver: Process, store: Store, site: Site) -> None:
    email = _email()
    cart_id = "cart:wp_woocommerce_session_3f2a9c0d8e7b6a5f4e3d2c1b0a998877"
    cart: dict[str, Any] = {
        "email": email,
        "event": "cart_updated",
        "eventdata": {
            "id": cart_id,
            "data": {
                "affiliation": "My Shop",
                "subtotal": 59.8,
                "discount": 0,
                "shipping": 4.9,
                "total_before_tax": 59.8,
                "tax": 12.94,
                "total": 77.64,
                "subtotal_parsed": 59.8,
                "total_parsed": 77.64,
                "currency": "EUR",
                "url": "https://shop.example/cart/",
                "checkouturl": "https://shop.example/checkout/",
                "items": [
                    {
                        "name": "Sneaker",
                        "sku": "SNK-1",
                        "id": 42,
                        "category": "Shoes,Men",
                        "variant_id": "",
                        "variant_sku": "",
                        "variant_name": "",
                        "quantity": 2,
                        "price": 59.8,
                        "price_taxinc": 71.76,
                        "price_parsed": 59.8,
                        "image": False,
                        "url": "https://shop.example/product/sneaker/",
                    }
                ],
            },
        },
    }
    assert _post(receiver, "/api/v2/trackEvent", _woocommerce_headers(site), cart).status == 204
    [stored] = _carts(store, site)
    assert (stored.state, stored.cart_key, stored.snapshot["items"][0]["name"]) == ("open", cart_id, "Sneaker")
    assert stored.contact_id == _contact(store, site, email).id

    order = {
        "email": email,
        "event": "order_completed",
        "eventdata": {"id": cart_id, "data": {**cart["eventdata"]["data"], "id": "1234", "revenue": 77.64}},
    }
    assert _post(receiver, "/api/v2/trackEvent", _woocommerce_headers(site), order).status == 204
    [closed] = _carts(store, site)
    assert (closed.state, closed.closed_reason) == ("closed", "ordered")
    assert [event.name for event in _events(store, site)] == ["cart_updated", "order_completed"]


def test_two_different_keys_in_repeated_header_lines_are_refused(receiver: Process, store: Store, site: Site) -> None:
    other = store.create_site()
    headers = [("Content-Type", "application/json"), ("ma-key", site.client_key), ("ma-key", other.client_key)]
    answer = _post(receiver, "/api/v2/trackEvent", headers, {"email": _email(), "event": "cart_updated"})
    assert answer.status == 401
    assert answer.json()["message"] == "ma-key: header holds 2 different keys; send one"
    assert _events(store, site) == [] and _events(store, other) == []


# PrestaShop: Brevo's `sendinblue` module 5.x, modules/sendinblue/services/ApiClientService.php::sendTrackEvent (the
# client key in both ma-key and api-key; `event` last; json_encode escaping non-ASCII) and models/AbstractModel.php
# (amounts as number_format strings with a thousands comma).
def _prestashop_headers(site: Site) -> list[tuple[str, str]]:
    return [
        ("Accept", "*/*"),
        ("Content-Type", "application/json"),
        ("User-Agent", "sendinblue_plugins/prestashop_1_7"),
        ("ma-key", site.client_key),
        ("api-key", site.client_key),
    ]


def test_prestashop_client_key_in_both_headers(receiver: Process, store: Store, site: Site) -> None:
    email = _email()
    properties = {"email": email, "firstname": "Jérôme", "lastname": "Doe"}
    cart = {
        "email": email,
        "properties": properties,
        "eventdata": {
            "id": "cart:123",
            "data": {
                "affiliation": "1",
                "currency": "EUR",
                "discount": "0.00",
                "total": "1,448.40",
                "total_parsed": 1448.4,
                "url": "https://shop.example/panier?action=show",
                "items": [
                    {
                        "id": "12",
                        "name": "Hummingbird T-shirt",
                        "quantity": "2",
                        "price": "600.00",
                        "price_parsed": 600.0,
                        "image": "https://shop.example/1-home_default/hummingbird.jpg",
                        "url": "https://shop.example/men/1-12-hummingbird.html",
                        "variant_id": "",
                    }
                ],
            },
        },
        "event": "cart_updated",
    }
    assert _post(receiver, "/api/v2/trackEvent", _prestashop_headers(site), cart, ascii_only=True).status == 204
    contact = _contact(store, site, email)
    assert (contact.attributes["FIRSTNAME"], contact.attributes["LASTNAME"]) == ("Jérôme", "Doe")
    assert contact.confirmed_at is None  # the public key, even in api-key, vouches for nobody
    [stored] = _carts(store, site)
    assert (stored.state, stored.snapshot["total"]) == ("open", "1,448.40")

    deleted = {"email": email, "properties": properties, "eventdata": {"id": "cart:123"}, "event": "cart_deleted"}
    assert _post(receiver, "/api/v2/trackEvent", _prestashop_headers(site), deleted, ascii_only=True).status == 204
    [closed] = _carts(store, site)
    assert (closed.state, closed.closed_reason) == ("closed", "deleted")


# Magento 2: Brevo's module (Sendinblue\Sendinblue, USER_AGENT sendinblue_plugins/magento_2), Observer/
# SibCartObserver.php as vendored in Leone/magento2-plugin: both keys the client key, decimals as database strings,
# "NA" for a missing image, currency 0 when unknown.
def test_magento_cart_with_decimal_strings(receiver: Process, store: Store, site: Site) -> None:
    email = _email()
    headers = [
        ("Content-Type", "application/json"),
        ("ma-key", site.client_key),
        ("api-key", site.client_key),
        ("User-Agent", "sendinblue_plugins/magento_2"),
    ]
    cart = {
        "email": email,
        "event": "cart_updated",
        "properties": {"FIRSTNAME": "Jane", "LASTNAME": "Doe"},
        "eventdata": {
            "id": "cart:345",
            "data": {
                "items": [
                    {
                        "name": "Joust Duffle Bag",
                        "sku": "24-MB01",
                        "category": "simple",
                        "id": "1",
                        "variant_id": "",
                        "price": "34.000000",
                        "quantity": "1.0000",
                        "url": "https://shop.example/joust-duffle-bag.html",
                        "image": "NA",
                    }
                ],
                "affiliation": "Default Store View",
                "subtotal": "34.0000",
                "discount": 0,
                "shipping": 0,
                "total_before_tax": 34,
                "tax": 0,
                "total": "34.0000",
                "currency": 0,
                "url": "https://shop.example/checkout/cart/",
            },
        },
    }
    assert _post(receiver, "/api/v2/trackEvent", headers, cart).status == 204
    [stored] = _carts(store, site)
    assert stored.state == "open" and stored.contact_id == _contact(store, site, email).id


# nopCommerce: nopSolutions/nopCommerce src/Plugins/Nop.Plugin.Misc.Brevo/Services/MarketingAutomationHttpClient.cs and
# MarketingAutomationManager.cs: identify before every event, Newtonsoft's `null` for empty properties and
# attributes, a charset in the content type, cart_deleted without data.
def test_nopcommerce_identify_then_cart_with_null_properties(receiver: Process, store: Store, site: Site) -> None:
    email = _email()
    headers = [
        ("Accept", "application/json"),
        ("ma-key", site.client_key),
        ("Content-Type", "application/json; charset=utf-8"),
    ]
    assert _post(receiver, "/api/v2/identify", headers, {"email": email, "attributes": None}).status == 204
    cart = {
        "email": email,
        "event": "cart_updated",
        "properties": None,
        "eventdata": {
            "id": "cart:2f1c9b3e-7a4d-4b8e-9f1a-0c2d3e4f5a6b",
            "data": {
                "affiliation": "Your store name",
                "subtotal": 1350.0,
                "revenue": 1350.0,
                "url": "https://shop.example/cart",
                "currency": "USD",
                "items": [
                    {
                        "id": 4,
                        "name": "Apple MacBook Pro",
                        "variant_id": 4,
                        "sku": "AP_MBP_13",
                        "category": "Notebooks",
                        "url": "https://shop.example/apple-macbook-pro",
                        "image": "https://shop.example/images/thumbs/0000005_apple-macbook-pro.jpeg",
                        "quantity": 1,
                        "price": 1350.0,
                    }
                ],
            },
        },
    }
    assert _post(receiver, "/api/v2/identify", headers, {"email": email, "attributes": None}).status == 204
    assert _post(receiver, "/api/v2/trackEvent", headers, cart).status == 204
    assert [cart.state for cart in _carts(store, site)] == ["open"]
    deleted = {
        "email": email,
        "event": "cart_deleted",
        "properties": None,
        "eventdata": {"id": "cart:2f1c9b3e-7a4d-4b8e-9f1a-0c2d3e4f5a6b"},
    }
    assert _post(receiver, "/api/v2/trackEvent", headers, deleted).status == 204
    assert [(cart.state, cart.closed_reason) for cart in _carts(store, site)] == [("closed", "deleted")]
    assert [event.kind for event in _events(store, site)] == ["identify", "identify", "track", "track"]


# RudderStack: rudderlabs/rudder-transformer src/v0/destinations/sendinblue/transform.js and util.js, as its
# fixtures in test/integrations/destinations/sendinblue/processor/data.ts: Segment's e-commerce names and fields
# (`products`, `product_id`) under eventdata.data, and page views with ma_* properties.
def test_rudderstack_order_with_products_and_a_page(receiver: Process, store: Store, site: Site) -> None:
    email = _email()
    headers = [("Content-Type", "application/json"), ("ma-key", site.client_key)]
    order = {
        "email": email,
        "event": "Order Completed",
        "properties": {"FIRSTNAME": "John", "LASTNAME": "Doe", "age": 19},
        "eventdata": {
            "id": "1341394-3812392190",
            "data": {
                "orderId": "1341394-3812392190",
                "products": [{"product_id": 1234, "product_name": "Track Pants", "amount": 1, "price": 220}],
            },
        },
    }
    page = {
        "email": email,
        "page": "https://shop.example/",
        "properties": {
            "ma_title": "Home",
            "ma_path": "/",
            "ma_referrer": "https://search.example/",
            "sib_name": "New Page",
        },
    }
    assert _post(receiver, "/api/v2/trackEvent", headers, order).status == 204
    assert _post(receiver, "/api/v2/trackPage", headers, page).status == 204
    track, viewed = _events(store, site)
    assert track.eventdata is not None
    assert (track.name, track.eventdata["data"]["products"][0]["product_id"]) == ("Order Completed", 1234)
    assert (viewed.kind, viewed.name) == ("page", "https://shop.example/")
    assert _contact(store, site, email).attributes["FIRSTNAME"] == "John"


# Stape's server-side GTM tag for Brevo, stape-io/brevo-tag template.js: `eventData` spelled in camelCase.
def test_stape_event_data_in_camel_case(receiver: Process, store: Store, site: Site) -> None:
    headers = [("Content-Type", "application/json"), ("Accept", "application/json"), ("ma-key", site.client_key)]
    body = {
        "properties": {},
        "eventData": {"id": "cart:9", "data": {"items": [{"name": "Mug", "price": "9.5", "quantity": "1"}]}},
        "email": _email(),
        "event": "cart_updated",
    }
    assert _post(receiver, "/api/v2/trackEvent", headers, body).status == 204
    [event] = _events(store, site)
    assert event.eventdata == {"id": "cart:9", "data": {"items": [{"name": "Mug", "price": "9.5", "quantity": "1"}]}}
    assert [cart.cart_key for cart in _carts(store, site)] == ["cart:9"]


# A PrestaShop tracker module, NovantaCreativeTeam/sendinblueresttracker src/Service/RestTracker.php: trackPage
# with the page in `link`, and a 204 expected.
def test_rest_tracker_page_in_link(receiver: Process, store: Store, site: Site) -> None:
    headers = [
        ("Accept", "application/json"),
        ("Content-Type", "application/json"),
        ("ma-key", site.client_key),
        ("User-Agent", "sendinblue_plugins/prestashop_1_7"),
    ]
    body = {"email": _email(), "link": "https://shop.example/contact", "properties": {"FIRSTNAME": "Ann"}}
    assert _post(receiver, "/api/v2/trackPage", headers, body).status == 204
    [event] = _events(store, site)
    assert (event.kind, event.name) == ("page", "https://shop.example/contact")


# Thelia: thelia-modules/Brevo Services/BrevoApiService.php: the client key as ma-key and the secret key as api-key
# on every tracker call: the shop's secret key vouches for the contact.
def test_thelia_secret_key_beside_the_client_key_vouches(receiver: Process, store: Store, site: Site) -> None:
    email = _email()
    headers = [
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("ma-key", site.client_key),
        ("api-key", site.api_key),
    ]
    body = {
        "email": email,
        "properties": {"FIRSTNAME": "Léa"},
        "eventdata": {"id": "ORD000123", "data": {"total": 42.5, "currency": "EUR"}},
        "event": "order_completed",
    }
    assert _post(receiver, "/api/v2/trackEvent", headers, body).status == 204
    assert _contact(store, site, email).confirmed_at is not None


def test_keys_of_two_sites_are_refused(receiver: Process, store: Store, site: Site) -> None:
    other = store.create_site()
    headers = [("Content-Type", "application/json"), ("ma-key", other.client_key), ("api-key", site.api_key)]
    answer = _post(receiver, "/api/v2/trackEvent", headers, {"email": _email(), "event": "cart_updated"})
    assert (answer.status, answer.json()["message"]) == (401, "ma-key and api-key belong to different sites")
    assert _events(store, site) == [] and _events(store, other) == []


# Brevo's WordPress plugin ("mailin" 3.3.4), mailin/inc/sendinblue.php: the older pixel, a GET with the client key in
# the query, called from the shop's server when a customer signs in; the plugin reads `email_id` from the answer.
def test_wordpress_pixel_identify(receiver: Process, store: Store, site: Site) -> None:
    email = _email()
    query = urlencode(
        {
            "email_id": email,
            "name": "jane",
            "sib_type": "identify",
            "url": "https://shop.example/wp-login.php",
            "session_id": "5f2b",
            "key": site.client_key,
        }
    )
    answer = send_lines(receiver.url, "GET", f"/p?{query}", [("User-Agent", "WordPress/6.8; https://shop.example")])
    assert (answer.status, answer.json()) == (200, {"email_id": email})
    [event] = _events(store, site)
    assert (event.kind, event.contact_id) == ("identify", _contact(store, site, email).id)


def test_pixel_with_an_unknown_key_or_type_is_refused(receiver: Process, store: Store, site: Site) -> None:
    unknown = send_lines(
        receiver.url, "GET", "/p?" + urlencode({"email_id": _email(), "sib_type": "identify", "key": "nope"}), []
    )
    assert (unknown.status, unknown.json()["message"]) == (401, "Key not found")
    odd = send_lines(
        receiver.url,
        "GET",
        "/p?" + urlencode({"email_id": _email(), "sib_type": "explode", "key": site.client_key}),
        [],
    )
    assert odd.status == 400 and "sib_type" in odd.json()["message"]
    assert _events(store, site) == []


# A busy shop: every customer's events come from the shop's one server with the public key.
@pytest.fixture(scope="module")
def strict_receiver(built_tracker: Path, database_url: str) -> Iterator[Process]:
    """A receiver with the default limits per address (the shared one lifts them: every test sends from here)."""
    process = start_receiver(
        database_url,
        built_tracker,
        worker="external",
        identify_limit_address="100/hour",
        new_contact_limit_address="20/hour",
    )
    yield process
    process.stop()


def _customers(receiver: Process, site: Site, count: int) -> list[int]:
    headers = [("Content-Type", "application/json"), ("ma-key", site.client_key)]
    return [_post(receiver, "/api/v2/identify", headers, {"email": _email()}).status for _ in range(count)]


def test_a_busy_shop_on_its_own_origin_is_served_unchanged(strict_receiver: Process, store: Store) -> None:
    """The shop's server is the machine its origin names (127.0.0.1 here): its calls are trusted by default."""
    site = store.create_site(origins=["http://127.0.0.1:8080"])
    assert _customers(strict_receiver, site, 30) == [204] * 30
    assert len(_events(store, site)) == 30


def test_a_shop_server_elsewhere_is_told_how_to_be_trusted(strict_receiver: Process, store: Store) -> None:
    site = store.create_site(origins=["https://shop.invalid"])
    assert _customers(strict_receiver, site, 20) == [204] * 20
    headers = [("Content-Type", "application/json"), ("ma-key", site.client_key)]
    refused = _post(strict_receiver, "/api/v2/identify", headers, {"email": _email()})
    assert refused.status == 429
    assert refused.json()["code"] == "too_many_requests"
    assert "--servers 127.0.0.1" in refused.json()["message"]
    assert len(_events(store, site)) == 20

    with db.new_session(store.app) as session:
        session.get_one(Site, site.id).servers = ["127.0.0.0/8"]
        session.commit()
    assert _wait_for_204(strict_receiver, site)


def _wait_for_204(receiver: Process, site: Site) -> bool:
    """The receiver keeps a site's settings for a few seconds: the next call after that is served."""
    return bool(wait_until(lambda: _customers(receiver, site, 1) == [204], timeout=15))


def _servers(store: Store, site: Site) -> list[str]:
    with db.new_session(store.app) as session:
        return list(session.get_one(Site, site.id).servers)


def test_the_shop_names_its_servers_on_the_command_line(store: Store, site: Site) -> None:
    result = cli(store.app, "sites", "set", site.name, "--servers", "203.0.113.7, 10.0.0.9/24,2001:db8::1")
    assert result.exit_code == 0, result.output
    assert f"{site.name}: trusted servers 10.0.0.0/24, 2001:db8::1/128, 203.0.113.7/32" in result.output
    assert _servers(store, site) == ["10.0.0.0/24", "2001:db8::1/128", "203.0.113.7/32"]

    refused = cli(store.app, "sites", "set", site.name, "--servers", "203.0.113.7,shop.example")
    assert refused.exit_code != 0 and "not an IP address or CIDR range: 'shop.example'" in refused.output
    assert _servers(store, site) == ["10.0.0.0/24", "2001:db8::1/128", "203.0.113.7/32"]

    assert cli(store.app, "sites", "set", site.name, "--servers", "").exit_code == 0
    assert _servers(store, site) == []


def test_the_shop_names_its_servers_on_the_site_page(owner: FlaskClient, store: Store, site: Site) -> None:
    page = f"/sites/{site.id}"
    saved = owner.post(
        f"{page}/servers", data={"servers": "203.0.113.7 10.1.0.0/16", "csrf_token": csrf_token(owner, page)}
    )
    assert saved.status_code == 302
    assert 'value="10.1.0.0/16 203.0.113.7/32"' in owner.get(page).get_data(as_text=True)
    bad = owner.post(f"{page}/servers", data={"servers": "999.1.1.1", "csrf_token": csrf_token(owner, page)})
    assert "Not saved: not an IP address or CIDR range" in owner.get(bad.headers["Location"]).get_data(as_text=True)
    assert _servers(store, site) == ["10.1.0.0/16", "203.0.113.7/32"]


def test_a_client_key_in_api_key_is_rate_limited_per_address_not_for_the_whole_shop(
    database_url: str, store: Store, site: Site
) -> None:
    """PrestaShop's and Magento's modules put the public key in `api-key` too: a stranger sending it must not spend
    the shop's own quota, as one sending the secret key (which only the shop has) would."""
    app = create_app({"DATABASE_URL": database_url, "WORKER": "external", "RATE_LIMIT": "3/minute"})
    headers = {"ma-key": site.client_key, "api-key": site.client_key}

    def identify(address: str) -> int:
        answer = app.test_client().post(
            "/api/v2/identify", json={"email": _email()}, headers=headers, environ_base={"REMOTE_ADDR": address}
        )
        return answer.status_code

    assert [identify("198.51.100.1") for _ in range(4)] == [204, 204, 204, 429]
    assert identify("198.51.100.2") == 204
