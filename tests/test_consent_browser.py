"""Consent mode in Chromium against the real receiver: nothing leaves the page before consent, everything after."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page

from server import db
from server.models import Site

from .support.browser import PageHost
from .support.servers import Process
from .support.store import Store
from .support.tracked_pages import BREVO_LOADED, LOADED, open_tracked
from .support.waiting import wait_until

pytestmark = pytest.mark.browser

# Pretends the browser's Do-Not-Track setting is on (Playwright has no switch for it)
DO_NOT_TRACK = "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})"
STORAGE_BLOCKED = (
    "Object.defineProperty(window, 'localStorage', {get() { throw new DOMException('blocked', 'SecurityError') }})"
)


def site_code(
    store: Store, site: Site, receiver: Process, require_consent: bool = False, respect_dnt: bool = False
) -> str:
    """The site's tracking code once its consent settings are changed (as the dashboard or `sites set` change them)."""
    with db.new_session(store.app) as session:
        row = session.get_one(Site, site.id)
        row.require_consent, row.respect_dnt = require_consent, respect_dnt
        session.commit()
        return store.snippet(row, receiver.url)


class Traffic:
    """Every request a page makes, in order, so that a test can ask what went to /collect between two checks."""

    def __init__(self, page: Page, host: PageHost, receiver: Process) -> None:
        self.page, self.host, self.collect = page, host, receiver.url + "/collect"
        self.urls: list[str] = []
        self.checked = 0
        page.clock.install()  # lets checks run the tracker's timers (batching, retries) at once
        page.on("request", lambda request: self.urls.append(request.url))

    def collected_since_last_check(self) -> int:
        """Run the tracker's timers and its page-hide flush, then count the /collect requests since the last check."""
        self.page.clock.run_for(5_000)
        self.page.evaluate("dispatchEvent(new Event('pagehide'))")
        marker = f"{self.host.url}/marker-{uuid.uuid4().hex}"  # requested after anything the tracker sent
        self.page.evaluate("url => fetch(url)", marker)
        wait_until(lambda: marker in self.urls, page=self.page)
        end = self.urls.index(marker)
        sent = [url for url in self.urls[self.checked : end] if url == self.collect]
        self.checked = end + 1
        return len(sent)


def left_in_browser(page: Page, host: PageHost) -> tuple[list[str], list[str]]:
    """The tracker's traces: cookie names and localStorage keys."""
    cookies = sorted(cookie["name"] for cookie in page.context.cookies(host.url))
    return cookies, sorted(page.evaluate("Object.keys(localStorage)"))


def page_time(page: Page) -> datetime:
    return datetime.fromtimestamp(page.evaluate("Date.now()") / 1000, UTC)


def test_consent_mode_sends_nothing_before_consent_and_everything_after(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    traffic = Traffic(page, page_host, receiver)
    calls = """
        sendinblue.track('first', {n: 1});
        sendinblue.identify('ada@example.com', {FIRSTNAME: 'Ada'});
    """
    open_tracked(page, page_host, site_code(store, site, receiver, require_consent=True), "/consent", calls)
    page.evaluate("sendinblue.track('second', {n: 2}, {id: 'cart:1', data: {total: 4}})")
    called = page_time(page)
    assert traffic.collected_since_last_check() == 0
    assert left_in_browser(page, page_host) == ([], [])
    assert store.events(site) == []

    page.evaluate("sendinblue.consent()")
    events = store.wait_for_events(site, 4, page=page)
    assert [(event.kind, event.name) for event in events] == [
        ("page", "/consent"),
        ("track", "first"),
        ("identify", "identify"),
        ("track", "second"),
    ]
    assert all(event.occurred_at <= called for event in events)  # each keeps its call's time, not consent's
    assert events[3].eventdata == {"id": "cart:1", "data": {"total": 4}}
    contact = store.contact(site, "ada@example.com")
    assert contact is not None and contact.attributes == {"FIRSTNAME": "Ada"}
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies(page_host.url)}
    visitor = store.visitor(events[0].visitor_id)
    assert visitor is not None and visitor.cuid == cookies["sib_cuid"]
    assert page.evaluate("localStorage.sib_consent") == "1"

    page.evaluate("sendinblue.track('third')")
    store.wait_for_events(site, 5, page=page)
    assert traffic.collected_since_last_check() >= 2
    assert len({event.message_id for event in store.events(site)}) == 5


def test_consent_is_remembered_across_page_loads(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    code = site_code(store, site, receiver, require_consent=True)
    open_tracked(page, page_host, code, "/remembered", "sendinblue.consent()")  # replayed from the loader's queue
    store.wait_for_events(site, 1, page=page)
    page.goto(page_host.add("/remembered/next", head=code))
    page.wait_for_function(LOADED)
    page.evaluate("sendinblue.track('no_question_asked')")
    store.wait_for_events(site, 3, page=page)
    assert [event.name for event in store.events(site)] == ["/remembered", "/remembered/next", "no_question_asked"]


def test_withdrawn_consent_stops_sending_and_deletes_the_cookie_and_the_queue(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    traffic = Traffic(page, page_host, receiver)
    code = site_code(store, site, receiver, require_consent=True)
    open_tracked(page, page_host, code, "/withdraw")
    page.evaluate("sendinblue.consent(); sendinblue.track('while_consenting')")
    first = store.wait_for_events(site, 2, page=page)
    assert left_in_browser(page, page_host)[0] == ["sib_cuid"]
    assert traffic.collected_since_last_check() >= 1

    page.evaluate("sendinblue.track('unsent_at_withdrawal'); sendinblue.consent(false); sendinblue.track('after')")
    assert traffic.collected_since_last_check() == 0
    assert left_in_browser(page, page_host) == ([], [])
    page.goto(page_host.add("/withdraw/next", head=code))
    page.wait_for_function(LOADED)
    assert traffic.collected_since_last_check() == 0
    assert left_in_browser(page, page_host) == ([], [])
    assert [event.name for event in store.events(site)] == [event.name for event in first]

    page.evaluate("sendinblue.consent()")  # consent again: a new visitor, and only this page's calls
    store.wait_for_events(site, 3, page=page)
    assert traffic.collected_since_last_check() >= 1
    events = store.events(site)
    assert [event.name for event in events] == ["/withdraw", "while_consenting", "/withdraw/next"]
    assert events[2].visitor_id != first[0].visitor_id


def test_without_consent_mode_the_tracker_sends_at_once(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site, receiver: Process
) -> None:
    traffic = Traffic(page, page_host, receiver)
    open_tracked(page, page_host, tracking_code, "/no-consent-mode", "sendinblue.track('counted')")
    assert traffic.collected_since_last_check() >= 1
    store.wait_for_events(site, 2, page=page)
    assert [event.name for event in store.events(site)] == ["/no-consent-mode", "counted"]
    assert left_in_browser(page, page_host)[0] == ["sib_cuid"]


def test_consent_by_brevo_command(
    page: Page, page_host: PageHost, brevo_code: str, store: Store, site: Site, receiver: Process
) -> None:
    traffic = Traffic(page, page_host, receiver)
    code = "<script>window.sib = {require_consent: true}</script>" + brevo_code
    page.goto(page_host.add("/brevo-consent", head=code + '<script>Brevo.push(["track", "early"])</script>'))
    page.wait_for_function(BREVO_LOADED)
    assert traffic.collected_since_last_check() == 0
    assert left_in_browser(page, page_host) == ([], [])
    page.evaluate("Brevo.push(['consent'])")
    store.wait_for_events(site, 2, page=page)
    assert [event.name for event in store.events(site)] == ["/brevo-consent", "early"]


def test_consent_given_with_storage_blocked_holds_for_the_page(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    page.add_init_script(STORAGE_BLOCKED)
    open_tracked(page, page_host, site_code(store, site, receiver, require_consent=True), "/consent-no-storage")
    page.evaluate("window.sib.consent(); sendinblue.track('after')")
    store.wait_for_events(site, 2, page=page)
    assert [event.name for event in store.events(site)] == ["/consent-no-storage", "after"]


def test_do_not_track_is_honoured_when_the_site_asks_even_after_consent(
    page: Page, page_host: PageHost, store: Store, site: Site, receiver: Process
) -> None:
    traffic = Traffic(page, page_host, receiver)
    page.add_init_script(DO_NOT_TRACK)
    code = site_code(store, site, receiver, require_consent=True, respect_dnt=True)
    open_tracked(page, page_host, code, "/dnt", "sendinblue.consent(); sendinblue.track('private')")
    page.evaluate("sendinblue.track('private_too')")
    assert traffic.collected_since_last_check() == 0
    page.goto(page_host.add("/dnt-only", head=site_code(store, site, receiver, respect_dnt=True)))
    page.wait_for_function(LOADED)
    assert traffic.collected_since_last_check() == 0
    assert "sib_cuid" not in left_in_browser(page, page_host)[0]
    assert store.events(site) == []
