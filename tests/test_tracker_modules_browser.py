"""The tracker's optional modules in Chromium alone, where Playwright's real mouse and clock are the point: an internal
link is not outbound, modifier and middle clicks count and open their tab, a page's own download list, a form
without an email field, consent mode holding module events back (what every engine must do is in
test_engines_modules.py)."""

from __future__ import annotations

import pytest
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

pytestmark = pytest.mark.browser


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
