"""The tracker's optional modules in Chromium against the real receiver: each sends its event once, with the core's
delivery (a link followed at once still delivers it), leaves navigation alone, waits for consent like the core, and
nothing is sent by a module the site did not choose."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import Page

from server.models import Site

from .support.browser import PageHost
from .support.module_pages import (
    LEAVING_MARKER,
    Collected,
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


def test_an_outbound_link_followed_at_once_sends_its_event_once(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "outbound")
    links = open_links_page(page, page_host, code, "/out")
    page.click("#outbound")
    page.wait_for_url(links["outbound"])  # the navigation happened, to an untracked page: only the beacon delivers
    assert sent_before_leaving(store, site) == [("track", "outbound_link_clicked", {"url": links["outbound"]})]
    listed = requests.get(f"{receiver.url}/v3/events", headers={"api-key": site.api_key}, timeout=5).json()
    clicked = [event for event in listed["events"] if event["event_name"] == "outbound_link_clicked"]
    assert [event["event_properties"] for event in clicked] == [{"url": links["outbound"]}]


def test_an_internal_link_is_not_outbound(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "outbound")
    links = open_links_page(page, page_host, code, "/in")
    page.click("#internal")
    page.wait_for_url(links["internal"])
    assert sent_before_leaving(store, site) == []


def test_modifier_and_middle_clicks_count_and_open_their_tab(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "outbound")
    links = open_links_page(page, page_host, code, "/tabs")
    for click in ({"modifiers": ["Control"]}, {"button": "middle"}):
        with page.context.expect_page() as opened:
            page.click("#outbound", **click)
        opened.value.wait_for_url(links["outbound"])
    assert page.url == page_host.url + "/tabs"
    page.evaluate("sendinblue.track('left')")
    assert sent_before_leaving(store, site) == [("track", "outbound_link_clicked", {"url": links["outbound"]})] * 2


def test_a_download_link_sends_its_event_once_and_is_followed(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "downloads,outbound")
    links = open_links_page(page, page_host, code, "/dl")
    page.click("#download")  # .PDF, with a query: a download, not an outbound link
    page.wait_for_url(links["download"])
    assert sent_before_leaving(store, site) == [("track", "file_downloaded", {"url": links["download"]})]


def test_the_page_may_name_its_own_download_extensions(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "downloads")
    links = open_links_page(page, page_host, code, "/books", f"{LEAVING_MARKER}; window.sib.downloads = 'epub, mobi'")
    with page.context.expect_page():
        page.click("#download", modifiers=["Control"])  # a PDF is no longer a download on this page
    page.click("#ebook")
    page.wait_for_url(links["ebook"])
    assert sent_before_leaving(store, site) == [("track", "file_downloaded", {"url": links["ebook"]})]


def test_a_form_sends_its_event_and_identifies_by_its_email_field_only(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "forms")
    url = open_form_page(page, page_host, code, "/signup")
    page.click("#send")
    page.wait_for_url(f"{page_host.url}/signup/thanks?**")
    assert sent_before_leaving(store, site) == [
        ("track", "form_submitted", {"form": "newsletter", "url": url}),
        ("identify", "identify", {}),
    ]
    contact = store.contact(site, "ada@example.com")
    assert contact is not None
    for other in ("ada.other@example.org", "bob@example.com"):
        assert store.contact(site, other) is None


def test_a_form_without_an_email_field_identifies_nobody(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "forms")
    url = open_form_page(page, page_host, code, "/quote")
    page.click("#ask")
    page.wait_for_url(f"{page_host.url}/quote/thanks?**")
    assert sent_before_leaving(store, site) == [("track", "form_submitted", {"form": "quote", "url": url})]
    for other in ("eve@example.com", "mallory@example.com"):
        assert store.contact(site, other) is None


def test_a_click_inside_a_tagged_element_sends_its_event_with_its_properties(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "tagged")
    open_tagged_page(page, page_host, code, "/pricing")
    page.click("#plan-label")
    page.click("#untagged")
    page.evaluate("sendinblue.track('left')")
    assert sent_before_leaving(store, site) == [("track", "plan_chosen", {"plan-name": "pro", "seats": "3"})]


def test_nothing_is_sent_for_modules_the_site_did_not_choose(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "none")
    open_tagged_page(page, page_host, code, "/plain-tags")
    page.click("#plan-label")
    open_form_page(page, page_host, code, "/plain-form")
    page.click("#send")
    page.wait_for_url(f"{page_host.url}/plain-form/thanks?**")
    links = open_links_page(page, page_host, code, "/plain-links")
    page.click("#download")
    page.wait_for_url(links["download"])
    wait_until(lambda: len([e for e in store.events(site, "track") if e.name == "left"]) == 3)
    assert {(e.kind, e.name) for e in store.events(site)} == {
        ("page", "/plain-tags"),
        ("page", "/plain-form"),
        ("page", "/plain-links"),
        ("track", "left"),
    }
    assert store.contact(site, "ada@example.com") is None


def test_consent_mode_holds_module_events_back_like_the_cores(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = code_with_modules(store, site, receiver, "tagged,forms", "--require-consent")
    collected = Collected(page, page_host, receiver)
    open_tagged_page(page, page_host, code, "/consent", script="")
    page.click("#plan-label")
    assert collected.count() == 0
    page.evaluate("sendinblue.consent()")
    events = store.wait_for_events(site, 2, page=page)
    assert [(e.kind, e.name) for e in events] == [("page", "/consent"), ("track", "plan_chosen")]
