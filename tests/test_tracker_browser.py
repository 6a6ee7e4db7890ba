"""The built `sa.js` in Chromium against the real receiver: replay, page views, delivery, safety (what every engine
must do, Chromium included, is in test_engines.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Route

from server.models import Site

from .support.browser import PageHost
from .support.servers import Process, start_receiver
from .support.store import Store
from .support.tracked_pages import BREVO_LOADED, open_brevo, open_tracked
from .support.waiting import wait_until

pytestmark = pytest.mark.browser


def stored_names(store: Store, site: Site, kind: str | None = None) -> list[str]:
    return [event.name for event in store.events(site, kind)]


def sent_messages(page: Page, receiver: Process) -> list[dict[str, Any]]:
    """Every message the page sends to /collect from now on, as sent: the list fills while Playwright runs (a
    wait_until with the page)."""
    messages: list[dict[str, Any]] = []

    def collected(request: Request) -> None:
        if request.url == f"{receiver.url}/collect" and request.post_data:
            messages.extend(json.loads(request.post_data)["messages"])

    page.on("request", collected)
    return messages


@pytest.mark.browser_context_args(timezone_id="Asia/Tokyo")
def test_an_identify_call_gives_the_contact_the_browsers_time_zone(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site, receiver: Process
) -> None:
    sent = sent_messages(page, receiver)
    open_tracked(page, page_host, tracking_code, "/tz-identify", "sendinblue.identify('kenji@example.com')")
    wait_until(lambda: len(sent) == 2, page=page)
    store.wait_for_events(site, 2)
    contact = store.contact(site, "kenji@example.com")
    assert contact is not None and contact.time_zone == "Asia/Tokyo"
    assert [(m["type"], m.get("tz")) for m in sent] == [("page", None), ("identify", "Asia/Tokyo")]  # only the identify


@pytest.mark.browser_context_args(timezone_id="Asia/Tokyo")
def test_a_page_identified_by_sib_email_id_gives_the_contact_the_browsers_time_zone(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site, receiver: Process
) -> None:
    sent = sent_messages(page, receiver)
    open_tracked(page, page_host, tracking_code, "/tz-email-id", "window.sib.email_id = 'yuki@example.com'")
    page.evaluate("sendinblue.track('viewed')")
    wait_until(lambda: len(sent) == 2, page=page)
    store.wait_for_events(site, 2)
    contact = store.contact(site, "yuki@example.com")
    assert contact is not None and contact.time_zone == "Asia/Tokyo"
    assert {(m["email"], m["tz"]) for m in sent} == {("yuki@example.com", "Asia/Tokyo")}


def test_a_browser_without_intl_identifies_without_a_time_zone(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site, receiver: Process
) -> None:
    sent = sent_messages(page, receiver)
    page.add_init_script("delete window.Intl")
    open_tracked(page, page_host, tracking_code, "/tz-no-intl", "sendinblue.identify('old.browser@example.com')")
    wait_until(lambda: len(sent) == 2, page=page)
    store.wait_for_events(site, 2)
    contact = store.contact(site, "old.browser@example.com")
    assert contact is not None and contact.time_zone is None
    assert [("tz" in m) for m in sent] == [False, False]


def test_page_view_carries_brevos_reserved_properties_and_the_visitor_cookie(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    landing = page_host.add("/landing", head=tracking_code)
    page.goto(page_host.add("/from", body=f'<a href="{landing}">in</a>'))
    page.click("a")
    (view,) = store.wait_for_events(site, 1, "page")
    assert view.properties["ma_url"] == page_host.url + "/landing"
    assert view.properties["ma_path"] == "/landing"
    assert view.properties["ma_title"] == "/landing"
    assert view.properties["ma_referrer"] == page_host.url + "/from"
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies(page_host.url)}
    assert cookies["sib_cuid"]["sameSite"] == "Lax"
    visitor = store.visitor(view.visitor_id)
    assert visitor is not None and visitor.cuid == cookies["sib_cuid"]["value"]


def test_one_page_view_per_load_and_per_spa_navigation(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    open_tracked(page, page_host, tracking_code, "/spa")
    page.evaluate("history.pushState({}, '', '/spa/two')")
    page.evaluate("history.pushState({}, '', '/spa/two')")  # same path again: no new view
    page.evaluate("history.replaceState({}, '', '/spa/three')")
    page.evaluate("history.back()")  # back to the second /spa/two entry
    page.wait_for_function("location.pathname == '/spa/two'")
    page.evaluate("sendinblue.track('done')")
    store.wait_for_events(site, 1, "track")
    views = [event.properties["ma_path"] for event in store.events(site, "page")]
    assert views == ["/spa", "/spa/two", "/spa/three", "/spa/two"]


def test_loading_sa_js_twice_changes_nothing(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    again = (
        "document.head.appendChild(Object.assign(document.createElement('script'), "
        "{src: document.getElementById('sendinblue-js').src}))"
    )
    open_tracked(page, page_host, tracking_code, "/twice")
    page.evaluate(f"new Promise(done => {{ const s = {again}; s.onload = done; }})")
    page.evaluate("sendinblue.track('once')")
    store.wait_for_events(site, 2)
    assert [(e.kind, e.name) for e in store.events(site)] == [("page", "/twice"), ("track", "once")]


def test_server_errors_are_retried_until_every_event_arrives_once(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site, receiver: Process
) -> None:
    attempts: list[int] = []

    def fail_three_times(route: Route) -> None:
        attempts.append(1)
        if len(attempts) <= 3:
            route.fulfill(status=500, body="down for a moment")
        else:
            route.continue_()

    page.route(f"{receiver.url}/collect", fail_three_times)
    open_tracked(page, page_host, tracking_code, "/flaky", "sendinblue.track('kept')")
    store.wait_for_events(site, 2, timeout=30, page=page)
    assert len(attempts) >= 4
    assert stored_names(store, site) == ["/flaky", "kept"]


@pytest.fixture
def own_receiver(database_url: str, built_tracker: Path) -> Iterator[Process]:
    """A receiver of this test's own, so that it can be stopped and started again."""
    process = start_receiver(database_url, built_tracker, worker="external")
    yield process
    process.stop()


def test_a_receiver_that_is_down_gets_the_events_when_it_returns(
    page: Page, page_host: PageHost, store: Store, site: Site, own_receiver: Process
) -> None:
    code = store.snippet(site, own_receiver.url)
    open_tracked(page, page_host, code, "/outage")
    store.wait_for_events(site, 1)
    own_receiver.stop()
    with page.expect_event("requestfailed", lambda request: request.url.endswith("/collect"), timeout=15000):
        page.evaluate("sendinblue.track('during_outage')")
    own_receiver.start()
    store.wait_for_events(site, 2, timeout=30)
    assert stored_names(store, site) == ["/outage", "during_outage"]


def test_an_event_tracked_right_before_leaving_arrives(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    open_tracked(page, page_host, tracking_code, "/leaving")
    store.wait_for_events(site, 1)
    elsewhere = page_host.add("/untracked")  # no tracking code: only the beacon can deliver
    page.evaluate(f"sendinblue.track('last_words'); location.href = {json.dumps(elsewhere)}")
    page.wait_for_url(elsewhere)
    assert stored_names(store, site, "track") or store.wait_for_events(site, 1, "track")
    assert stored_names(store, site, "track") == ["last_words"]


def test_a_later_visit_resends_unacknowledged_events_with_the_same_ids(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site, receiver: Process
) -> None:
    def store_but_lose_the_answer(route: Route) -> None:
        route.fetch()
        route.abort("connectionreset")

    page.route(f"{receiver.url}/collect", store_but_lose_the_answer)
    open_tracked(page, page_host, tracking_code, "/first-visit", "sendinblue.track('unacknowledged')")
    store.wait_for_events(site, 2, page=page)
    unsent = json.loads(page.evaluate("localStorage.sib_q"))
    assert len(unsent) == 2
    page.unroute_all(behavior="wait")
    resent: list[str] = []

    def collected(request: Request) -> None:
        if request.url == f"{receiver.url}/collect":
            resent.append(request.post_data or "")

    page.on("request", collected)
    page.goto(page_host.add("/later-visit", head=tracking_code))
    wait_until(lambda: page.evaluate("JSON.parse(localStorage.sib_q || '[]').length") == 0)
    assert all(any(message["id"] in body for body in resent) for message in unsent)
    events = store.events(site)
    assert [event.name for event in events] == ["/first-visit", "unacknowledged", "/later-visit"]
    assert [event.message_id for event in events[:2]] == [message["id"] for message in unsent]


def test_tracking_works_with_local_storage_blocked(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() { throw new DOMException('blocked', 'SecurityError') }})"
    )
    open_tracked(page, page_host, tracking_code, "/no-storage", "sendinblue.track('still_counted')")
    store.wait_for_events(site, 2)
    assert stored_names(store, site) == ["/no-storage", "still_counted"]
    assert errors == []


def test_track_link_never_delays_the_click_and_the_click_arrives(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    target = page_host.add("/destination")
    body = f'<a id="out" href="{target}">go</a> <a id="tab" target="_blank" href="{target}?tab">tab</a>'
    script = (
        "addEventListener('DOMContentLoaded', "
        "() => sendinblue.trackLink(document.querySelectorAll('a'), {from: 'test'}))"
    )
    open_tracked(page, page_host, tracking_code, "/links", script, body)
    with page.context.expect_page() as new_tab:
        page.click("#tab")
    assert new_tab.value.url.endswith("/destination?tab")
    page.click("#out")
    page.wait_for_url(target, timeout=2000)
    links = store.wait_for_events(site, 2, "link")
    assert sorted(event.name for event in links) == [target, target + "?tab"]
    assert all(event.properties == {"from": "test"} for event in links)


def test_odd_calls_break_nothing_and_warn_once_each(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site
) -> None:
    errors: list[str] = []
    warnings: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def warned(message: ConsoleMessage) -> None:
        if message.type == "warning":
            warnings.append(message.text)

    page.on("console", warned)
    open_tracked(page, page_host, tracking_code, "/odd")
    odd = [
        "sendinblue.track()",
        "sendinblue.track(123)",
        "sendinblue.track('x'.repeat(300))",
        "sendinblue.track('ok', 'not an object')",
        "sendinblue.identify('not-an-email')",
        "sendinblue.trackLink(null)",
    ]
    guarded = (f"(() => {{ try {{ {call}; return true }} catch (e) {{ return String(e) }} }})()" for call in odd)
    results = page.evaluate(f"[{', '.join(guarded)}]")
    assert results == [True] * len(odd)
    page.evaluate("sendinblue.track('fine')")
    store.wait_for_events(site, 2)
    assert stored_names(store, site) == ["/odd", "fine"]
    assert len(warnings) == len(odd)
    assert errors == []


def test_opted_out_pages_send_nothing_and_set_no_cookie(
    page: Page, page_host: PageHost, tracking_code: str, store: Store, site: Site, receiver: Process
) -> None:
    requests_seen: list[str] = []

    def collected(request: Request) -> None:
        if request.url.startswith(receiver.url + "/collect"):
            requests_seen.append(request.url)

    page.on("request", collected)
    open_tracked(
        page, page_host, tracking_code, "/opted-out", "window.sib.disabled = true; sendinblue.track('private')"
    )
    page.evaluate("sendinblue.track('private_too')")
    page.goto(page_host.add("/after-opt-out"))  # leaving would flush anything queued
    assert requests_seen == []
    assert "sib_cuid" not in {cookie["name"] for cookie in page.context.cookies(page_host.url)}
    assert store.events(site) == []


def test_brevo_function_push_identify_creates_the_contact_with_its_attributes(
    page: Page, page_host: PageHost, brevo_code: str, store: Store, site: Site
) -> None:
    identify = """
        Brevo.push(function () {
            window.identifyExisted = typeof Brevo.identify === "function";
            Brevo.identify({
                identifiers: {email_id: "jane.doe@example.com"},
                attributes: {FIRSTNAME: "Jane", LASTNAME: "Doe"},
            });
        });
    """
    open_brevo(page, page_host, brevo_code, "/brevo-identify", identify)
    store.wait_for_events(site, 1, "identify")
    assert page.evaluate("window.identifyExisted") is True
    contact = store.contact(site, "jane.doe@example.com")
    assert contact is not None and contact.attributes == {"FIRSTNAME": "Jane", "LASTNAME": "Doe"}
    (view,) = store.events(site, "page")
    assert view.contact_id == contact.id  # the visitor's page view moved to the contact


def test_brevo_push_after_load_runs_at_once_and_the_calls_are_callable_directly(
    page: Page, page_host: PageHost, brevo_code: str, store: Store, site: Site
) -> None:
    target = page_host.add("/brevo-destination")
    open_brevo(page, page_host, brevo_code, "/brevo-after", body=f'<a id="out" href="{target}">go</a>')
    page.evaluate("""() => {
        Brevo.push(["track", "pushed", {n: 1}, {id: "cart:8", data: {total: 5}}]);
        Brevo.push(function () { Brevo.track("from_function") });
        Brevo.track("direct", {n: 2});
        Brevo.page("Virtual", {step: 3});
        Brevo.push(["trackLink", document.getElementById("out"), {from: "brevo"}]);
    }""")
    assert page.evaluate("Brevo.length") == 0  # nothing left waiting in the array
    page.click("#out")
    page.wait_for_url(target)
    store.wait_for_events(site, 6)
    assert [(event.kind, event.name) for event in store.events(site)] == [
        ("page", "/brevo-after"),
        ("track", "pushed"),
        ("track", "from_function"),
        ("track", "direct"),
        ("page", "Virtual"),
        ("link", target),
    ]
    pushed = store.events(site, "track")[0]
    assert pushed.properties == {"n": 1} and pushed.eventdata == {"id": "cart:8", "data": {"total": 5}}
    assert store.events(site, "link")[0].properties == {"from": "brevo"}


def test_sa_js_that_runs_before_the_brevo_snippet_takes_the_key_from_init(
    page: Page, page_host: PageHost, brevo_code: str, store: Store, site: Site
) -> None:
    loaded_first = brevo_code.replace(" async>", ">")  # as when the async script wins the race
    open_brevo(page, page_host, loaded_first, "/brevo-early", 'Brevo.push(["track", "early"])')
    events = store.wait_for_events(site, 2)
    assert [(event.kind, event.name) for event in events] == [("page", "/brevo-early"), ("track", "early")]


def test_brevo_pages_get_one_page_view_per_load_and_per_spa_navigation(
    page: Page, page_host: PageHost, brevo_code: str, store: Store, site: Site
) -> None:
    open_brevo(page, page_host, brevo_code, "/brevo-views")
    page.reload()
    page.wait_for_function(BREVO_LOADED)
    page.evaluate("history.pushState({}, '', '/brevo-views/two')")
    page.evaluate("Brevo.track('done')")
    store.wait_for_events(site, 1, "track")
    views = [event.properties["ma_path"] for event in store.events(site, "page")]
    assert views == ["/brevo-views", "/brevo-views", "/brevo-views/two"]


def test_odd_brevo_commands_break_nothing_and_warn_once_each(
    page: Page, page_host: PageHost, brevo_code: str, store: Store, site: Site
) -> None:
    errors: list[str] = []
    warnings: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def warned(message: ConsoleMessage) -> None:
        if message.type == "warning":
            warnings.append(message.text)

    page.on("console", warned)
    open_brevo(page, page_host, brevo_code, "/brevo-odd")
    odd = [
        'Brevo.push(["nope"])',
        'Brevo.push(["track"])',
        'Brevo.push(["identify", {identifiers: {email_id: "not-an-email"}}])',
        'Brevo.identify("jane@example.com")',
        "Brevo.push(function () { throw new Error('site bug') })",
    ]
    guarded = (f"(() => {{ try {{ {call}; return true }} catch (e) {{ return String(e) }} }})()" for call in odd)
    results = page.evaluate(f"[{', '.join(guarded)}]")
    assert results == [True] * len(odd)
    page.evaluate("Brevo.push(['track', 'fine'])")
    store.wait_for_events(site, 2)
    assert stored_names(store, site) == ["/brevo-odd", "fine"]
    assert len(warnings) == len(odd)
    assert errors == []


def test_brevo_pages_opted_out_before_the_snippet_send_nothing(
    page: Page, page_host: PageHost, brevo_code: str, store: Store, site: Site, receiver: Process
) -> None:
    requests_seen: list[str] = []

    def collected(request: Request) -> None:
        if request.url.startswith(receiver.url + "/collect"):
            requests_seen.append(request.url)

    page.on("request", collected)
    opted_out = "<script>window.sib = {disabled: true}</script>" + brevo_code
    open_brevo(page, page_host, opted_out, "/brevo-opted-out", 'Brevo.push(["track", "private"])')
    page.evaluate("Brevo.track('private_too')")
    page.goto(page_host.add("/brevo-after-opt-out"))  # leaving would flush anything queued
    assert requests_seen == []
    assert "sib_cuid" not in {cookie["name"] for cookie in page.context.cookies(page_host.url)}
    assert store.events(site) == []
