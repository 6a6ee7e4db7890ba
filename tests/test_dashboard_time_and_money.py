"""What the dashboard shows of times, amounts and carts: times in the user's own time zone (files and feeds stay in
UTC), amounts as the site's locale writes them, items counted as a shop counts them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import db
from server.models import Contact, Site, User

from .support.browser import BROWSER_HEADERS
from .support.carts import THOMAS, cart_updated, track
from .support.dashboard import csrf_token, table_rows, text_of
from .support.sites import new_site

MOMENT = datetime(2026, 11, 28, 14, 5, 9, tzinfo=UTC)


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "numbers")


def send(client: FlaskClient, site: Site, *messages: dict[str, object]) -> None:
    body = {"key": site.client_key, "cuid": "n" * 20, "messages": list(messages)}
    answer = client.post("/collect", data=json.dumps(body), headers={**BROWSER_HEADERS, "Content-Type": "text/plain"})
    assert answer.status_code == 200, answer.get_data(as_text=True)


def contact_id(app: Flask, site: Site) -> int:
    with db.new_session(app) as session:
        found = session.scalar(select(Contact.id).where(Contact.site_id == site.id, Contact.email == THOMAS))
    assert found is not None
    return found


def zone_of(app: Flask, email: str) -> str | None:
    with db.new_session(app) as session:
        return session.scalars(select(User.time_zone).where(User.email == email)).one()


def page(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def choose_zone(client: FlaskClient, zone: str) -> tuple[int, str]:
    answer = client.post("/account/time-zone", data={"time_zone": zone, "csrf_token": csrf_token(client, "/account")})
    return answer.status_code, answer.get_data(as_text=True)


def test_times_are_shown_in_the_zone_the_user_chose_and_stay_utc_in_files_and_feeds(
    owner: FlaskClient, owner_email: str, app: Flask, site: Site
) -> None:
    send(owner, site, track("product_viewed", MOMENT))
    contact = f"/contacts/{contact_id(app, site)}"
    shown = page(owner, contact)
    assert "28 Nov 2026, 14:05:09" in text_of(shown, "timeline")  # to the second, in UTC until a zone is chosen
    assert text_of(shown, "time-zone-label") == "UTC"

    assert owner.post("/account/time-zone", data={"time_zone": "Asia/Kolkata"}).status_code == 400  # no CSRF token
    status, refused = choose_zone(owner, "Mars/Olympus_Mons")
    assert status == 400 and "Choose a time zone from the list" in refused
    assert zone_of(app, owner_email) is None
    assert choose_zone(owner, "Asia/Kolkata")[0] == 302
    assert zone_of(app, owner_email) == "Asia/Kolkata"
    assert '<option value="Asia/Kolkata" selected>' in page(owner, "/account")  # where it says it saved

    shown = page(owner, contact)
    assert "28 Nov 2026, 19:35:09" in text_of(shown, "timeline")  # UTC+05:30
    assert 'datetime="2026-11-28T14:05:09+00:00"' in shown  # what a machine reads stays UTC
    assert text_of(shown, "time-zone-label") == "Asia/Kolkata (IST, UTC+05:30)"  # once, in the footer
    assert shown.count("Asia/Kolkata") == 1
    (event,) = owner.get(f"/live/events.json?site={site.id}").get_json()["events"]
    assert (event["time"], event["iso"]) == ("28 Nov, 19:35:09", "2026-11-28T14:05:09+00:00")
    exported = owner.get(f"{contact}/export.json").get_data(as_text=True)
    assert "2026-11-28T14:05:09" in exported and "19:35" not in exported

    assert choose_zone(owner, "UTC")[0] == 302
    assert zone_of(app, owner_email) is None  # UTC is no zone of its own


def test_a_carts_amounts_and_items_are_written_as_the_sites_locale_writes_them(
    owner: FlaskClient, app: Flask, site: Site
) -> None:
    with db.new_session(app) as session:
        session.get_one(Site, site.id).locale = "fr_FR"
        session.commit()
    lines = [{"name": "Chemise", "price": 45, "quantity": 2}, {"name": "Chapeau", "price": "28", "quantity": 1}]
    send(owner, site, cart_updated(MOMENT, {"items": lines, "total": 118, "currency": "EUR"}))
    shown = page(owner, f"/contacts/{contact_id(app, site)}")
    cart = text_of(shown, "carts")
    assert "3 items · 2 lines Item Quantity Price Line total" in cart  # a line of 2 is two items
    assert "Chemise 2 45,00 € 90,00 € Chapeau 1 28,00 € 28,00 €" in cart
    assert "total 118,00 €" in cart
    runs = table_rows(page(owner, f"/automation?site={site.id}"), "runs")
    assert runs[1][2:4] == ["3 items · 2 lines", "118,00 €"]
