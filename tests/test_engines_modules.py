"""The tracker's optional modules in Chromium, Firefox and WebKit against the real receiver: each sends its event
once, with its properties, as the page is left at once, and a site without modules sends none.

Each test runs once per engine (the `engine_browser` fixture); clicks are the element's own `click()`.
"""

from __future__ import annotations

import json

import pytest
import requests

from server.models import Site

from .support.browser import PageHost
from .support.engines import EngineBrowser
from .support.module_pages import (
    code_with_modules,
    open_form_page,
    open_links_page,
    open_tagged_page,
    sent_before_leaving,
)
from .support.servers import Process
from .support.store import Store
from .support.waiting import wait_until

pytestmark = pytest.mark.browser


def click(browser: EngineBrowser, element_id: str) -> None:
    browser.evaluate(f"(document.getElementById({json.dumps(element_id)}).click(), null)")


def wait_for_location(browser: EngineBrowser, url: str) -> None:
    """Wait until the page is `url` (its path and query, the host name being compared too)."""
    browser.wait_for(f"location.href == {json.dumps(url)}")


def test_an_outbound_link_followed_at_once_sends_its_event_once(
    engine_browser: EngineBrowser, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "outbound")
    links = open_links_page(engine_browser, page_host, code, "/engine-out")
    click(engine_browser, "outbound")
    wait_for_location(engine_browser, links["outbound"])  # an untracked page of another host: only the beacon delivers
    assert sent_before_leaving(store, site) == [("track", "outbound_link_clicked", {"url": links["outbound"]})]
    listed = requests.get(f"{receiver.url}/v3/events", headers={"api-key": site.api_key}, timeout=5).json()
    clicked = [event for event in listed["events"] if event["event_name"] == "outbound_link_clicked"]
    assert [event["event_properties"] for event in clicked] == [{"url": links["outbound"]}]


def test_a_download_link_sends_its_event_once_and_is_followed(
    engine_browser: EngineBrowser, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "downloads,outbound")
    links = open_links_page(engine_browser, page_host, code, "/engine-dl")
    click(engine_browser, "download")  # .PDF, with a query: a download, not an outbound link
    wait_for_location(engine_browser, links["download"])
    assert sent_before_leaving(store, site) == [("track", "file_downloaded", {"url": links["download"]})]


def test_a_form_sends_its_event_and_identifies_by_its_email_field_only(
    engine_browser: EngineBrowser, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "forms")
    url = open_form_page(engine_browser, page_host, code, "/engine-signup")
    click(engine_browser, "send")
    engine_browser.wait_for("location.pathname == '/engine-signup/thanks'")
    assert sent_before_leaving(store, site) == [
        ("track", "form_submitted", {"form": "newsletter", "url": url}),
        ("identify", "identify", {}),
    ]
    assert store.contact(site, "ada@example.com") is not None
    for other in ("ada.other@example.org", "bob@example.com"):
        assert store.contact(site, other) is None


def test_a_click_inside_a_tagged_element_sends_its_event_with_its_properties(
    engine_browser: EngineBrowser, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "tagged")
    open_tagged_page(engine_browser, page_host, code, "/engine-pricing")
    click(engine_browser, "plan-label")
    click(engine_browser, "untagged")
    engine_browser.evaluate("sendinblue.track('left')")
    assert sent_before_leaving(store, site) == [("track", "plan_chosen", {"plan-name": "pro", "seats": "3"})]


def test_nothing_is_sent_for_modules_the_site_did_not_choose(
    engine_browser: EngineBrowser, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "none")
    open_tagged_page(engine_browser, page_host, code, "/engine-plain-tags")
    click(engine_browser, "plan-label")
    open_form_page(engine_browser, page_host, code, "/engine-plain-form")
    click(engine_browser, "send")
    engine_browser.wait_for("location.pathname == '/engine-plain-form/thanks'")
    links = open_links_page(engine_browser, page_host, code, "/engine-plain-links")
    click(engine_browser, "outbound")
    wait_for_location(engine_browser, links["outbound"])
    wait_until(lambda: len([e for e in store.events(site, "track") if e.name == "left"]) == 3)
    assert {(e.kind, e.name) for e in store.events(site)} == {
        ("page", "/engine-plain-tags"),
        ("page", "/engine-plain-form"),
        ("page", "/engine-plain-links"),
        ("track", "left"),
    }
    assert store.contact(site, "ada@example.com") is None
