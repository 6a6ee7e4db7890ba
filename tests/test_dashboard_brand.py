"""The site page's Brand card over HTTP (Flask's test client): a save keeps every value as the CLI would, a refused
value is named beside its field with what was typed kept and nothing saved, typed markup is shown as text, and
another user's site is out of reach."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import db
from server.models import Site

from .support.dashboard import csrf_token, new_user, sign_in, text_of
from .support.sites import new_site

HOSTILE = "<script>alert('brand')</script>"
BRAND = {
    "sender_name": "Tea Shop",
    "sender_email": "Hello@Shop.Example",
    "logo_url": "https://shop.example/logo.png",
    "accent_color": "#0F766E",
    "intro_text": "Free delivery this week.",
    "postal_address": "1 Tea Street\n  Leeds LS1 1AA\n",
    "locale": "en-GB",
}


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "brand", origins=["https://shop.example"])


def site_page(site: Site) -> str:
    return f"/sites/{site.id}"


def save(client: FlaskClient, site: Site, **fields: str) -> Any:
    """The Brand form posted with `fields` (the others as typed: empty), with the page's CSRF token."""
    form = {field: "" for field in BRAND} | fields
    return client.post(f"/sites/{site.id}/brand", data={"csrf_token": csrf_token(client, site_page(site)), **form})


def stored(app: Flask, site: Site) -> dict[str, str | None]:
    with db.new_session(app) as session:
        found = session.get_one(Site, site.id)
        return {field: getattr(found, field) for field in BRAND}


def field_value(page: str, field: str) -> str:
    """What the Brand form's field shows, as a browser reads it (an input's value, a textarea's text)."""
    element_id = f"brand-{field}"
    textarea = re.search(rf'<textarea[^>]*id="{element_id}"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    if textarea:
        return html.unescape(textarea.group(1)).removeprefix("\n")
    tag = re.search(rf'<input[^>]*id="{element_id}"[^>]*>', page)
    assert tag, page
    value = re.search(r'value="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def is_invalid(page: str, field: str) -> bool:
    tag = re.search(rf'<(?:input|textarea)[^>]*id="brand-{field}"[^>]*>', page)
    assert tag, page
    return 'aria-invalid="true"' in tag.group(0)


def test_a_saved_brand_is_kept_as_the_cli_keeps_it(owner: FlaskClient, app: Flask, site: Site) -> None:
    answer = save(owner, site, **BRAND)
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{site_page(site)}#brand-title"
    assert stored(app, site) == {
        "sender_name": "Tea Shop",
        "sender_email": "hello@shop.example",
        "logo_url": "https://shop.example/logo.png",
        "accent_color": "#0f766e",
        "intro_text": "Free delivery this week.",
        "postal_address": "1 Tea Street\nLeeds LS1 1AA",
        "locale": "en_GB",
    }
    page = owner.get(site_page(site)).get_data(as_text=True)
    assert "Brand saved: emails written from now on show it." in page
    assert field_value(page, "accent_color") == "#0f766e"
    assert field_value(page, "postal_address") == "1 Tea Street\nLeeds LS1 1AA"
    assert not any(is_invalid(page, field) for field in BRAND)


def test_an_empty_field_clears_its_value(owner: FlaskClient, app: Flask, site: Site) -> None:
    assert save(owner, site, **BRAND).status_code == 302
    assert save(owner, site, **{**BRAND, "logo_url": "", "intro_text": "  "}).status_code == 302
    kept = stored(app, site)
    assert (kept["logo_url"], kept["intro_text"], kept["sender_name"]) == (None, None, "Tea Shop")


def test_a_refused_value_is_named_beside_its_field_and_nothing_is_saved(
    owner: FlaskClient, app: Flask, site: Site
) -> None:
    assert save(owner, site, **BRAND).status_code == 302
    typed = {**BRAND, "sender_name": "Tea & Co", "accent_color": "teal", "sender_email": "not an address"}
    answer = save(owner, site, **typed)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert text_of(page, "brand-accent_color-hint").startswith("A colour written #rrggbb, such as #0f766e.")
    assert text_of(page, "brand-sender_email-hint").startswith("'not an address' is not an email address.")
    assert [field for field in BRAND if is_invalid(page, field)] == ["sender_email", "accent_color"]
    assert {field: field_value(page, field) for field in BRAND} == typed  # what was typed, to correct
    assert stored(app, site)["sender_name"] == "Tea Shop"  # the good values of a refused form are not saved
    assert stored(app, site)["accent_color"] == "#0f766e"


def test_markup_typed_in_the_intro_and_address_is_shown_as_text(owner: FlaskClient, app: Flask, site: Site) -> None:
    assert save(owner, site, intro_text=HOSTILE, postal_address=HOSTILE).status_code == 302
    page = owner.get(site_page(site)).get_data(as_text=True)
    assert HOSTILE not in page
    assert field_value(page, "intro_text") == HOSTILE
    assert field_value(page, "postal_address") == HOSTILE
    refused = save(owner, site, intro_text=HOSTILE, postal_address=HOSTILE, locale="xx_nowhere")
    assert refused.status_code == 400
    assert HOSTILE not in refused.get_data(as_text=True)
    assert field_value(refused.get_data(as_text=True), "intro_text") == HOSTILE


def test_another_users_site_is_not_found(app: Flask, site: Site) -> None:
    own = new_site(app, "brand-own")
    with app.test_client() as other:
        sign_in(other, new_user(app, [own]))
        token = csrf_token(other, site_page(own))
        answer = other.post(f"/sites/{site.id}/brand", data={"csrf_token": token, **BRAND})
        assert answer.status_code == 404
        assert stored(app, site)["sender_name"] is None
        assert save(other, own, **BRAND).status_code == 302  # its own site's brand
        assert stored(app, own)["sender_name"] == "Tea Shop"
