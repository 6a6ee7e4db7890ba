"""The dashboard in Chromium against the real receiver: sign-in, a site's tracking code and status, the guide's
contact, the workflow switch, the outbox preview, and tracked markup that must stay text."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import select

from server import create_app, db
from server.automation.worker import Worker
from server.models import OutboxEmail, Site
from server.sites import RECEIVED_MESSAGE, by_name

from .support.browser import PageHost
from .support.clock import Clock
from .support.collect import send
from .support.dashboard import PASSWORD, new_user
from .support.guide import GUIDE_CART
from .support.servers import Process, start_shop
from .support.store import Store

pytestmark = pytest.mark.browser

THOMAS = "thomas.bianchi@example.com"
DELAY = timedelta(hours=2)
PAGES = ["/", "/sites", "/contacts", "/automation", "/outbox", "/live"]


@pytest.fixture
def user(store: Store) -> str:
    """A dashboard user's email (the password is PASSWORD)."""
    return new_user(store.app, prefix="owner")


def sign_in(page: Page, receiver: Process, email: str, password: str = PASSWORD, then: str = "/") -> None:
    page.goto(receiver.url + then)
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#login-form [type=submit]")


def signed_in(page: Page, receiver: Process, email: str, then: str = "/") -> None:
    sign_in(page, receiver, email, then=then)
    expect(page.locator(".account__email")).to_have_text(email)


def message(kind: str, moment: datetime, **fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "ts": int(moment.timestamp() * 1000), **fields}


def cart_updated(
    moment: datetime, data: dict[str, Any] = GUIDE_CART, email: str = THOMAS, **properties: Any
) -> dict[str, Any]:
    return message(
        "track",
        moment,
        name="cart_updated",
        properties={"email": email, **properties},
        eventdata={"id": "cart:42", "data": data},
    )


@pytest.fixture
def worker(store: Store, clock: Clock) -> Worker:
    """An in-process worker without SMTP: emails stay in the outbox ("held")."""
    app = create_app({"DATABASE_URL": store.app.config["DATABASE_URL"], "WORKER": "external", "SMTP_URL": None})
    return Worker(app, clock)


def outbox(store: Store, site: Site) -> list[OutboxEmail]:
    with db.new_session(store.app) as session:
        return list(session.scalars(select(OutboxEmail).where(OutboxEmail.site_id == site.id)))


@pytest.fixture
def dialogs(page: Page) -> Iterator[list[str]]:
    """Every alert/confirm/prompt the page opens (each dismissed): tracked markup must open none."""
    opened: list[str] = []

    def record(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    yield opened


def test_anonymous_requests_go_to_the_login_page(page: Page, receiver: Process) -> None:
    for path in PAGES:
        response = requests.get(receiver.url + path, allow_redirects=False, timeout=5)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path
    feed = requests.get(receiver.url + "/live/events.json", timeout=5)
    assert feed.status_code == 401 and feed.json()["code"] == "unauthorized"
    page.goto(receiver.url + "/contacts?q=x")
    expect(page).to_have_url(receiver.url + "/login?next=/contacts?q%3Dx")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_wrong_password_is_refused_and_the_right_one_signs_in_and_out(
    page: Page, receiver: Process, user: str
) -> None:
    sign_in(page, receiver, user, "not the password", then="/contacts")
    expect(page.locator("#login-error")).to_have_text("Wrong email or password.")
    sign_in(page, receiver, "nobody@example.com", PASSWORD, then="/contacts")
    expect(page.locator("#login-error")).to_be_visible()
    page.fill("#email", user)
    page.fill("#password", PASSWORD)
    page.click("#login-form [type=submit]")
    expect(page).to_have_url(receiver.url + "/contacts")  # back where the visitor was going
    cookie = next(c for c in page.context.cookies() if c["name"] == "sibyl_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(receiver.url + "/contacts")
    expect(page).to_have_url(receiver.url + "/login?next=/contacts")


def test_a_new_sites_copied_snippet_tracks_a_page_and_the_status_flips(
    page: Page, receiver: Process, store: Store, page_host: PageHost, user: str
) -> None:
    signed_in(page, receiver, user, then="/sites")
    name = f"Shop {uuid.uuid4().hex[:6]}"
    page.fill("#site-name", name)
    page.fill("#site-origins", page_host.url)
    page.click("#site-form [type=submit]")
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.locator("#tracking-status")).to_contain_text("No traffic received yet")
    with db.new_session(store.app) as session:
        site = by_name(session, name)
    assert site is not None and site.origins == [page_host.url]
    expect(page.locator("#client-key")).to_have_text(site.client_key)
    expect(page.get_by_text(site.api_key)).to_have_count(0)  # the secret key only on demand
    page.get_by_role("link", name="Show API key").click()
    expect(page.locator("#api-key")).to_have_text(site.api_key)

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=receiver.url)
    page.get_by_role("button", name="Copy code").click()
    expect(page.locator("#copy-feedback")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == store.snippet(site, receiver.url).strip()  # what `sites snippet` prints

    shop = page.context.new_page()
    shop.goto(page_host.add(f"/dashboard-{uuid.uuid4().hex[:6]}", head=copied))
    store.wait_for_events(site, 1, "page", page=shop)
    shop.close()
    page.get_by_role("link", name="Check again").click()
    expect(page.locator("#tracking-status")).to_have_text(RECEIVED_MESSAGE)
    expect(page.locator("#last-seen")).to_contain_text("just now")


def test_the_guides_cart_shows_on_thomas_bianchis_contact_page(
    page: Page, receiver: Process, store: Store, user: str
) -> None:
    shop, site = start_shop(store, receiver)
    try:
        page.goto(shop.url + "/signin")
        page.fill("#signin [name=email]", THOMAS)
        page.fill("#signin [name=firstname]", "Thomas")
        page.fill("#signin [name=lastname]", "Bianchi")
        page.click("#signin [type=submit]")
        for slug in ("black-shoes", "white-shirt"):
            page.goto(f"{shop.url}/products/{slug}")
            page.click(".add-btn")
            page.wait_for_url("**/cart")
        page.fill("input.qty[data-slug=black-shoes]", "2")
        page.click(".update-btn")
        store.wait_for_events(site, 3, "track", page=page)  # each add, then the new quantity
    finally:
        shop.stop()

    signed_in(page, receiver, user, then=f"/contacts?site={site.id}")
    page.get_by_role("searchbox", name="Search contacts").fill("Bianchi")
    page.keyboard.press("Enter")
    page.get_by_role("link", name=THOMAS).click()
    expect(page.locator("#contact-name")).to_have_text("Thomas Bianchi")
    attributes = page.locator("#attributes")
    expect(attributes.locator("tr", has_text="FIRSTNAME")).to_contain_text("Thomas")
    expect(attributes.locator("tr", has_text="LASTNAME")).to_contain_text("Bianchi")
    expect(page.locator("#visitors code")).to_have_count(1)
    event = page.locator("#timeline .event", has=page.get_by_role("heading", name="cart_updated")).first  # the last
    items = event.locator(".items tbody tr")
    expect(items).to_have_count(2)
    expect(items.nth(0).locator("td")).to_have_text(["Black shoes", "2", "$90.00", "$180.00"])
    expect(items.nth(1).locator("td")).to_have_text(["White shirt", "1", "$100.00", "$100.00"])
    expect(event.locator(".items__size")).to_have_text("3 items · 2 lines")
    expect(event.locator(".eventdata .fields tr", has_text="total")).to_contain_text("$280.00")
    expect(event.locator(".eventdata .fields tr", has_text="currency")).to_contain_text("USD")
    expect(page.locator("#timeline .event", has_text="Page view").first).to_be_visible()
    expect(page.locator("#carts-title + .cart .pill")).to_have_text("Open")


def test_turning_the_workflow_off_stops_the_email_and_on_again_sends_it(
    page: Page, receiver: Process, store: Store, site: Site, worker: Worker, clock: Clock, user: str
) -> None:
    send(receiver, site, cart_updated(clock.now, FIRSTNAME="Thomas"))
    signed_in(page, receiver, user, then=f"/automation?site={site.id}")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    expect(page.locator("#runs .pill")).to_have_text("Waiting")
    page.get_by_label("Send recovery emails").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").first).to_contain_text("the workflow is off")
    expect(page.locator("#workflow-status")).to_have_text("Off")
    expect(page.locator("#runs .pill")).to_have_text("Paused")

    clock.now += DELAY + timedelta(minutes=5)
    worker.run_pass()
    assert outbox(store, site) == []

    page.get_by_label("Send recovery emails").check()
    page.get_by_label("Delay after the last update").fill("90m")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#workflow-status")).to_have_text("On, but not sending: no mail server is set")
    expect(page.get_by_label("Delay after the last update")).to_have_value("90m")
    worker.run_pass()
    (email,) = outbox(store, site)
    assert email.recipient == THOMAS
    page.reload()
    expect(page.locator("#runs .pill")).to_have_text("Held: no mail server")


def test_a_bad_delay_is_refused_with_a_message(page: Page, receiver: Process, site: Site, user: str) -> None:
    signed_in(page, receiver, user, then=f"/automation?site={site.id}")
    page.get_by_label("Delay after the last update").fill("soon")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#delay-hint")).to_contain_text("Write a duration")
    page.goto(receiver.url + f"/automation?site={site.id}")
    expect(page.get_by_label("Delay after the last update")).to_have_value("2h")


def test_the_outbox_previews_the_recovery_email_in_a_sandbox(
    page: Page, receiver: Process, store: Store, site: Site, worker: Worker, clock: Clock, user: str
) -> None:
    send(receiver, site, cart_updated(clock.now, FIRSTNAME="Thomas", LASTNAME="Bianchi"))
    clock.now += DELAY * 2
    worker.run_pass()
    signed_in(page, receiver, user, then=f"/outbox?site={site.id}")
    row = page.locator("#outbox tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(THOMAS)
    expect(row.locator(".pill")).to_have_text("Held: no mail server")
    with page.expect_response(lambda response: "/outbox/" in response.url) as answer:
        row.get_by_role("link").click()
    policy = answer.value.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    preview = page.locator("iframe#preview")
    assert preview.get_attribute("sandbox") == ""  # no allow-scripts, no allow-same-origin
    frame = page.frame_locator("iframe#preview")
    expect(frame.get_by_text("Hi Thomas,")).to_be_visible()
    expect(frame.get_by_text("Black shoes")).to_be_visible()
    expect(frame.get_by_text("$280.00").first).to_be_visible()
    expect(page.locator("#text-part")).to_contain_text("White shirt")


HOSTILE_NAME = "<img src=x onerror=alert('firstname')>"
HOSTILE_PROPERTY = "<script>alert('property')</script>"
HOSTILE_ITEM = "<img src=x onerror=alert('item')>"
HOSTILE_EVENT = "<svg onload=alert('event')>"


def test_tracked_markup_is_shown_as_text_and_runs_nothing(
    page: Page,
    dialogs: list[str],
    receiver: Process,
    store: Store,
    site: Site,
    worker: Worker,
    clock: Clock,
    user: str,
) -> None:
    email = f"mallory-{uuid.uuid4().hex[:6]}@example.com"
    cart = {**GUIDE_CART, "items": [{"name": HOSTILE_ITEM, "price": 5, "quantity": 1}]}
    before = clock.now - DELAY * 2
    send(
        receiver,
        site,
        message("identify", before, email=email, properties={"FIRSTNAME": HOSTILE_NAME}),
        message("track", before, name=HOSTILE_EVENT, properties={"email": email, "note": HOSTILE_PROPERTY}),
        cart_updated(before, data=cart, email=email),
    )
    clock.now += DELAY * 2
    worker.run_pass()
    contact = store.contact(site, email)
    assert contact is not None

    signed_in(page, receiver, user, then=f"/?site={site.id}")
    expect(page.locator(".ranking").first).to_contain_text(HOSTILE_EVENT)
    page.goto(receiver.url + f"/contacts?site={site.id}")
    expect(page.locator("#contacts-table")).to_contain_text(HOSTILE_NAME)
    page.goto(receiver.url + f"/contacts/{contact.id}")
    expect(page.locator("#contact-name")).to_have_text(HOSTILE_NAME)
    expect(page.locator("#attributes")).to_contain_text(HOSTILE_NAME)
    expect(page.locator("#timeline")).to_contain_text(HOSTILE_PROPERTY)
    expect(page.locator("#timeline")).to_contain_text(HOSTILE_EVENT)
    expect(page.locator("#timeline .items")).to_contain_text(HOSTILE_ITEM)
    page.goto(receiver.url + f"/automation?site={site.id}")
    expect(page.locator("#runs")).to_contain_text(email)
    page.goto(receiver.url + f"/outbox?site={site.id}")
    page.locator("#outbox tbody tr").get_by_role("link").click()
    expect(page.frame_locator("iframe#preview").get_by_text(HOSTILE_ITEM)).to_be_visible()

    page.goto(receiver.url + f"/live?site={site.id}")
    expect(page.locator("#live-rows")).to_contain_text(HOSTILE_EVENT)
    late = "<img src=x onerror=alert('live')>"
    send(receiver, site, message("track", datetime.now(UTC), name=late, properties={"email": email}))
    expect(page.locator("#live-rows tr").first).to_contain_text(late, timeout=10_000)  # added by the page's script
    assert page.locator("#live-rows img, #timeline img, #live-rows script").count() == 0
    assert dialogs == []


def test_pages_work_by_keyboard_and_at_a_phones_width(page: Page, receiver: Process, site: Site, user: str) -> None:
    signed_in(page, receiver, user, then=f"/?site={site.id}")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Sibyl")
    page.set_viewport_size({"width": 375, "height": 740})
    for path in [*PAGES, f"/sites/{site.id}"]:
        page.goto(receiver.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 375px"
