"""The built `sa.js` in Chromium, Firefox and WebKit (as Safari is) against the real receiver: load, replay, leaving,
page views.

Each test runs once per engine (the `engine_browser` fixture) and checks what the receiver stored.
"""

from __future__ import annotations

import json

import pytest

from server.models import Site

from .support.browser import PageHost
from .support.engines import EngineBrowser
from .support.store import Store
from .support.tracked_pages import BREVO_LOADED, open_in

pytestmark = pytest.mark.browser


def test_brevos_snippet_loads_sa_js_and_the_page_view_arrives_with_the_visitor_cookie(
    engine_browser: EngineBrowser, page_host: PageHost, brevo_code: str, store: Store, site: Site
) -> None:
    open_in(engine_browser, page_host, brevo_code, "/engine-landing", loaded=BREVO_LOADED)
    (view,) = store.wait_for_events(site, 1)
    assert (view.kind, view.name) == ("page", "/engine-landing")
    assert view.properties["ma_url"] == page_host.url + "/engine-landing"
    assert view.properties["ma_title"] == "/engine-landing"
    cuid = engine_browser.evaluate("document.cookie.match(/(?:^|; )sib_cuid=([^;]+)/)?.[1]")
    visitor = store.visitor(view.visitor_id)
    assert cuid and visitor is not None and visitor.cuid == cuid


def test_calls_made_before_load_are_sent_once_each_in_order(
    engine_browser: EngineBrowser, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    calls = """
        sendinblue.track('first', {n: 1});
        sendinblue.identify('ines@example.com', {FIRSTNAME: 'Ines'});
        sendinblue.track('second', {n: 2}, {id: 'cart:11', data: {total: 4}});
        window.queuedBeforeLoad = window.sib.equeue.length;
    """
    open_in(engine_browser, page_host, tracking_code, "/engine-replay", calls)
    assert engine_browser.evaluate("window.queuedBeforeLoad") == 4  # the snippet's page() and the three calls
    events = store.wait_for_events(site, 4)
    assert [(event.kind, event.name) for event in events] == [
        ("page", "/engine-replay"),
        ("track", "first"),
        ("identify", "identify"),
        ("track", "second"),
    ]
    assert events[3].eventdata == {"id": "cart:11", "data": {"total": 4}}
    assert all(event.url == page_host.url + "/engine-replay" for event in events)
    contact = store.contact(site, "ines@example.com")
    assert contact is not None and contact.attributes == {"FIRSTNAME": "Ines"}
    assert {event.contact_id for event in events} == {contact.id}


def test_brevo_commands_pushed_before_load_are_sent_once_each_in_order(
    engine_browser: EngineBrowser, page_host: PageHost, brevo_code: str, store: Store, site: Site
) -> None:
    calls = """
        Brevo.push(["track", "first", {n: 1}]);
        Brevo.push(["identify", {identifiers: {email_id: "jane@example.com"}, attributes: {FIRSTNAME: "Jane"}}]);
        Brevo.push(["track", "second", {n: 2}, {id: "cart:7", data: {total: 3}}]);
        Brevo.push(["page", "Checkout", {step: 2}]);
        window.queuedBeforeLoad = Brevo.length;
    """
    open_in(engine_browser, page_host, brevo_code, "/brevo-replay", calls, loaded=BREVO_LOADED)
    assert engine_browser.evaluate("window.queuedBeforeLoad") == 5  # init and the four calls
    assert engine_browser.evaluate("Brevo.length") == 0
    events = store.wait_for_events(site, 5)
    assert [(event.kind, event.name) for event in events] == [
        ("page", "/brevo-replay"),  # Brevo's SDK tracks the page view by itself
        ("track", "first"),
        ("identify", "identify"),
        ("track", "second"),
        ("page", "Checkout"),
    ]
    assert events[3].eventdata == {"id": "cart:7", "data": {"total": 3}}
    assert events[4].properties["step"] == 2 and events[4].properties["ma_path"] == "/brevo-replay"
    contact = store.contact(site, "jane@example.com")
    assert contact is not None and contact.attributes == {"FIRSTNAME": "Jane"}
    assert {event.contact_id for event in events} == {contact.id}


def test_a_cart_update_on_a_page_left_at_once_arrives_exactly_once(
    engine_browser: EngineBrowser, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    open_in(engine_browser, page_host, tracking_code, "/engine-cart")
    store.wait_for_events(site, 1)
    elsewhere = page_host.add("/engine-untracked")  # no tracking code: only what left with the page can deliver
    cart = {"id": "cart:13", "data": {"total": 42.5, "currency": "EUR", "items": [{"name": "Teapot", "quantity": 1}]}}
    engine_browser.evaluate(
        f"(sendinblue.track('cart_updated', {{}}, {json.dumps(cart)}), location.href = {json.dumps(elsewhere)}, null)"
    )
    engine_browser.wait_for("location.pathname == '/engine-untracked'")
    (update,) = store.wait_for_events(site, 1, "track")
    assert (update.name, update.eventdata) == ("cart_updated", cart)
    open_in(engine_browser, page_host, tracking_code, "/engine-back")  # would resend whatever the tracker kept
    store.wait_for_events(site, 2, "page")
    assert [(event.name, event.eventdata) for event in store.events(site, "track")] == [("cart_updated", cart)]


def test_one_page_view_per_page_load(
    engine_browser: EngineBrowser, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    for path in ["/engine-one", "/engine-two", "/engine-two"]:
        open_in(engine_browser, page_host, tracking_code, path)
    engine_browser.evaluate("sendinblue.track('done')")
    store.wait_for_events(site, 1, "track")
    views = [event.properties["ma_path"] for event in store.events(site, "page")]
    assert views == ["/engine-one", "/engine-two", "/engine-two"]
