"""The dashboard's Templates tab over HTTP (Flask's test client): the list with the shipped defaults, the editor
(a save is a new version, a refused template says why beside its part), the preview in a frame that can run
nothing, for the sample or a contact and its cart, test emails through the outbox and their hourly limit, versions
viewed and restored, and other users' sites out of reach."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from server import db
from server.dashboard.template_previews import TEST_SENDS_PER_HOUR
from server.email_templates.store import current_template
from server.models import OutboxEmail, Site, utcnow

from .support.carts import THOMAS, cart_updated
from .support.clock import Clock
from .support.dashboard import csrf_token, new_user, sign_in, table_rows, text_of
from .support.guide import GUIDE_CART
from .support.sites import new_site
from .test_dashboard_workflows import send

HOSTILE = "<script>alert('template')</script>"
PREVIEW_POLICY = "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'"
DEFAULT_SUBJECT = "You left something in your cart"  # the shipped cart-1's
CART_LOOP = "<p>{% for item in params.items %}{{ item.name }};{% endfor %}</p>"


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "templates", origins=["https://shop.example"])


def editor(site: Site, name: str = "cart-1") -> str:
    return f"/templates/{name}?site={site.id}"


def page_of(client: FlaskClient, path: str) -> str:
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return str(answer.get_data(as_text=True))


def post(client: FlaskClient, path: str, form_page: str, **fields: Any) -> Any:
    """`fields` posted to `path` as the form on `form_page` does, with that page's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **fields})


def save(client: FlaskClient, site: Site, name: str = "cart-1", **parts: str) -> Any:
    form = {"subject": "Your cart", "preheader": "", "html": CART_LOOP, "text": "", **parts}
    return post(client, f"/templates/{name}", editor(site, name), site=site.id, **form)


def list_row(page: str, name: str) -> list[str]:
    """The list's row of the template `name`: name, version, saved, subject."""
    (row,) = [row for row in table_rows(page, "templates") if row and row[0] == name]
    return row


def textarea(page: str, element_id: str) -> str:
    """The text of a textarea as a browser reads it (the newline right after its tag dropped)."""
    match = re.search(rf'<textarea[^>]*id="{element_id}"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert match, page
    return html.unescape(match.group(1)).removeprefix("\n")


def frame_html(sheet: str) -> str:
    """The email's HTML inside the preview document (its frame's `srcdoc`), as the frame shows it."""
    match = re.search(r'<iframe[^>]*id="preview-html"[^>]*srcdoc="([^"]*)"', sheet)
    assert match, sheet
    return html.unescape(match.group(1))


def sent_tests(app: Flask, site: Site) -> list[OutboxEmail]:
    with db.new_session(app) as session:
        query = select(OutboxEmail).where(OutboxEmail.site_id == site.id, OutboxEmail.dedupe_key.startswith("test-"))
        return list(session.scalars(query.order_by(OutboxEmail.id)))


def thomas_with_a_hostile_cart(client: FlaskClient, site: Site, clock: Clock) -> None:
    """Thomas, his first name and his cart's first item name written to run script, through the tracker."""
    items = [{**GUIDE_CART["items"][0], "name": HOSTILE}, *GUIDE_CART["items"][1:]]
    send(client, site, cart_updated(clock.now, {**GUIDE_CART, "items": items}, FIRSTNAME=HOSTILE))


# The list and the editor


def test_the_list_shows_the_shipped_defaults_until_the_site_saves_its_own(owner: FlaskClient, site: Site) -> None:
    listing = page_of(owner, f"/templates?site={site.id}")
    assert list_row(listing, "welcome-1")[:3] == ["welcome-1", "default", "—"]
    assert list_row(listing, "cart-1")[1] == "default"
    assert 'href="/templates"' in page_of(owner, "/")  # the navigation, beside Workflows
    assert save(owner, site, subject="Still yours").status_code == 302
    row = list_row(page_of(owner, f"/templates?site={site.id}"), "cart-1")
    assert (row[1], row[3]) == ("v1", "Still yours")


def test_each_save_is_a_new_version_listed_with_the_default_below(owner: FlaskClient, app: Flask, site: Site) -> None:
    default_page = page_of(owner, editor(site))
    assert text_of(default_page, "template-state") == "The shipped default: saving makes the site's own version 1"
    first = save(owner, site, subject="First")
    assert first.status_code == 302 and first.headers["Location"] == editor(site)
    second = save(owner, site, subject="Second", text="Hello {{ contact.FIRSTNAME }}")
    assert second.status_code == 302
    page = page_of(owner, editor(site))
    assert "Saved “cart-1”, version 2: new emails are written from it." in page
    assert text_of(page, "template-state").startswith("Version 2, saved ")
    versions = table_rows(page, "versions")[1:]
    assert [(row[0], row[2]) for row in versions] == [
        ("v2 current", "Second"),
        ("v1", "First"),
        ("default", DEFAULT_SUBJECT),
    ]
    with db.new_session(app) as session:
        current = current_template(session, site.id, "cart-1")
        assert current is not None and (current.version, current.subject, current.text) == (
            2,
            "Second",
            "Hello {{ contact.FIRSTNAME }}",
        )


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ("{% load static %}", "html: line 2: unknown tag 'load'"),
        ("{% debug %}", "html: line 2: unknown tag 'debug'"),
        ("{{ contact.FIRSTNAME|pprint }}", "html: line 2: unknown filter 'pprint'"),
    ],
)
def test_a_template_outside_the_language_is_refused_beside_its_part_and_kept_to_correct(
    owner: FlaskClient, app: Flask, site: Site, source: str, said: str
) -> None:
    typed = f"<p>Hi</p>\n{source}"
    answer = save(owner, site, subject="Typed subject", html=typed)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert text_of(page, "html-error") == said
    assert re.search(r'<textarea id="html"[^>]*aria-invalid="true"', page)
    assert textarea(page, "html") == typed  # what was typed, to correct
    assert 'value="Typed subject"' in page
    with db.new_session(app) as session:
        kept = current_template(session, site.id, "cart-1")
        assert kept is not None and kept.shipped  # nothing saved


def test_a_refused_subject_is_named_beside_the_subject(owner: FlaskClient, site: Site) -> None:
    empty = save(owner, site, subject="  ")
    assert empty.status_code == 400 and text_of(empty.get_data(as_text=True), "subject-error") == "subject: required"
    broken = save(owner, site, subject="Hi {% if %}")
    assert broken.status_code == 400
    assert text_of(broken.get_data(as_text=True), "subject-error").startswith("subject: line 1: ")


def test_a_new_template_opens_an_empty_editor_and_names_are_checked(owner: FlaskClient, site: Site) -> None:
    listing = f"/templates?site={site.id}"
    bad = post(owner, "/templates", listing, site=site.id, name=HOSTILE)
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert text_of(page, "new-error") == "Use lower-case letters, digits, - and _ (at most 100), such as cart-1."
    assert HOSTILE not in page and 'value="&lt;script&gt;alert(' in page  # kept in the field, escaped
    taken = post(owner, "/templates", listing, site=site.id, name="welcome-1")
    assert taken.status_code == 400
    assert text_of(taken.get_data(as_text=True), "new-error") == (
        "This site already has a template named “welcome-1”: open it in the list."
    )
    created = post(owner, "/templates", listing, site=site.id, name="spring-sale")
    assert created.status_code == 302 and created.headers["Location"] == editor(site, "spring-sale")
    fresh = page_of(owner, editor(site, "spring-sale"))
    assert text_of(fresh, "template-state") == "New: not saved yet"
    assert 'id="test-form"' not in fresh  # nothing to send before a save
    assert save(owner, site, "spring-sale", subject="Spring").status_code == 302
    assert list_row(page_of(owner, listing), "spring-sale")[1] == "v1"
    assert owner.get(f"/templates/{html.escape('<b>')}?site={site.id}").status_code == 404


# The preview


def test_the_preview_frame_is_sandboxed_and_its_document_may_run_nothing(owner: FlaskClient, site: Site) -> None:
    page = page_of(owner, editor(site))
    frame = re.search(r'<iframe[^>]*id="preview"[^>]*>', page)
    assert frame and 'sandbox=""' in frame.group(0)
    source = html.unescape(re.search(r'src="([^"]+)"', frame.group(0)).group(1))  # type: ignore[union-attr]
    assert source == f"/templates/cart-1/preview?site={site.id}"
    sheet = owner.get(source)
    assert sheet.status_code == 200
    assert sheet.headers["Content-Security-Policy"].startswith(PREVIEW_POLICY)
    assert "sandbox" in sheet.headers["Content-Security-Policy"].split("; ")
    assert sheet.headers["X-Frame-Options"] == "SAMEORIGIN"
    text = sheet.get_data(as_text=True)
    assert "<script" not in text  # the document runs no script of its own either
    assert re.search(r'<iframe[^>]*id="preview-html"[^>]*sandbox=""', text)
    assert text_of(text, "preview-to") == "the sample contact"
    assert text_of(text, "preview-subject") == DEFAULT_SUBJECT
    email = frame_html(text)
    assert "Hi Alex," in email
    for item in ("Linen shirt", "Canvas tote", "Wool socks"):  # the sample cart of three items
        assert item in email and item in text_of(text, "preview-text")
    assert "€122.00" in email  # the sample cart's total, as the site's locale writes euros
    assert text_of(text, "preview-from") == "shop@localhost"  # the server's sender: the site has none of its own


def test_the_preview_shows_the_unsaved_form_and_needs_the_forms_token(
    owner: FlaskClient, app: Flask, site: Site
) -> None:
    form = {"site": site.id, "subject": "Hi {{ contact.FIRSTNAME }}", "preheader": "", "html": CART_LOOP, "text": ""}
    answer = post(owner, "/templates/cart-1/preview", editor(site), **form)
    assert answer.status_code == 200
    assert answer.headers["Content-Security-Policy"].startswith(PREVIEW_POLICY)
    sheet = answer.get_data(as_text=True)
    assert text_of(sheet, "preview-subject") == "Hi Alex"
    assert "Linen shirt;Canvas tote;Wool socks;" in frame_html(sheet)
    with db.new_session(app) as session:
        kept = current_template(session, site.id, "cart-1")
        assert kept is not None and kept.shipped  # a preview saves nothing
    forged = owner.post("/templates/cart-1/preview", data=form)
    assert forged.status_code == 400 and "Linen shirt" not in forged.get_data(as_text=True)


def test_a_preview_that_cannot_be_made_says_why(owner: FlaskClient, site: Site) -> None:
    form = {"site": site.id, "subject": "Hi", "preheader": "", "text": ""}
    refused = post(owner, "/templates/cart-1/preview", editor(site), **form, html="<p>\n{% debug %}</p>")
    assert refused.status_code == 400
    assert text_of(refused.get_data(as_text=True), "preview-error") == (
        "Not saved as it is: html: line 2: unknown tag 'debug'"
    )
    runaway = (
        "".join("{% for a" + str(depth) + ' in "0123456789" %}' for depth in range(5)) + "x" + ("{% endfor %}" * 5)
    )
    failed = post(owner, "/templates/cart-1/preview", editor(site), **form, html=runaway)
    assert failed.status_code == 400
    assert text_of(failed.get_data(as_text=True), "preview-error").startswith("cannot render: ")
    unknown = owner.get(f"/templates/cart-1/preview?site={site.id}&contact=nobody@example.com")
    assert unknown.status_code == 400
    assert text_of(unknown.get_data(as_text=True), "preview-error") == (
        f"contact: {site.name} has no contact with the address nobody@example.com"
    )
    on_editor = owner.get(f"{editor(site)}&contact=nobody@example.com")
    assert on_editor.status_code == 400
    assert text_of(on_editor.get_data(as_text=True), "contact-error") == (
        f"contact: {site.name} has no contact with the address nobody@example.com"
    )
    assert owner.get(f"/templates/cart-1/preview?site={site.id}&version=3").status_code == 404


def test_a_contacts_values_and_cart_are_never_html_in_the_dashboard(
    owner: FlaskClient, client: FlaskClient, app: Flask, site: Site, clock: Clock
) -> None:
    thomas_with_a_hostile_cart(client, site, clock)
    assert save(owner, site, subject="{{ contact.FIRSTNAME }}, your cart", html=CART_LOOP).status_code == 302
    pages = [
        page_of(owner, f"/templates?site={site.id}"),
        page_of(owner, f"{editor(site)}&contact={THOMAS}"),
        page_of(owner, f"/templates/cart-1/versions/1?site={site.id}&contact={THOMAS}"),
    ]
    sheet = owner.get(f"/templates/cart-1/preview?site={site.id}&contact={THOMAS}")
    assert sheet.status_code == 200
    document = sheet.get_data(as_text=True)
    assert text_of(document, "preview-to") == THOMAS
    assert text_of(document, "preview-subject") == f"{HOSTILE}, your cart"  # shown as text
    email = frame_html(document)
    assert "&lt;script&gt;alert(" in email and "&lt;/script&gt;;White shirt;" in email  # the latest cart, escaped
    for page in [*pages, document, email]:
        assert HOSTILE not in page
        assert "<script>" not in page


# Test emails


def test_a_test_email_is_written_to_the_outbox_once_and_held_without_smtp(
    owner: FlaskClient, app: Flask, site: Site
) -> None:
    with db.new_session(app) as session:
        session.get_one(Site, site.id).sender_name = "Templates shop"
        session.commit()
    answer = post(owner, "/templates/cart-1/test", editor(site), site=site.id, address="  Me@Example.com ")
    assert answer.status_code == 302 and answer.headers["Location"] == editor(site)
    (email,) = sent_tests(app, site)
    assert email.dedupe_key.startswith("test-cart-1-")
    assert (email.status, email.recipient, email.contact_id, email.run_id, email.cart_id) == (
        "held",
        "me@example.com",
        None,
        None,
        None,
    )
    assert email.subject == f"[Test] {DEFAULT_SUBJECT}"
    assert email.sender == "Templates shop <shop@localhost>"  # the shop's sender, as its emails have
    assert (email.template, email.template_version) == ("cart-1", 0)
    assert "Linen shirt" in email.html
    page = page_of(owner, editor(site))
    assert (
        "Test email of “cart-1”, the shipped default, to me@example.com written to the outbox: held there: "
        "no SMTP server is set." in html.unescape(page)
    )
    assert f"{TEST_SENDS_PER_HOUR - 1} of {TEST_SENDS_PER_HOUR} left this hour" in text_of(page, "address-hint")
    assert f"[Test] {DEFAULT_SUBJECT}" in page_of(owner, f"/outbox?site={site.id}")
    assert "Linen shirt" in text_of(page_of(owner, f"/outbox/{email.id}"), "text-part")  # its own page, to read


@pytest.mark.parametrize("address", ["not an address", "a@b", "Me <me@example.com>", "me@example.com, you@example.com"])
def test_a_test_email_needs_one_valid_address(owner: FlaskClient, app: Flask, site: Site, address: str) -> None:
    answer = post(owner, "/templates/cart-1/test", editor(site), site=site.id, address=address)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert text_of(page, "address-error").startswith("address: not one valid email address (")
    assert re.search(r'<input type="email" id="address"[^>]*aria-invalid="true"', page)
    assert sent_tests(app, site) == []


def test_test_emails_are_limited_per_site_and_hour(owner: FlaskClient, app: Flask, site: Site) -> None:
    for _ in range(TEST_SENDS_PER_HOUR):
        sent = post(owner, "/templates/cart-1/test", editor(site), site=site.id, address="me@example.com")
        assert sent.status_code == 302
    refused = post(owner, "/templates/cart-1/test", editor(site), site=site.id, address="me@example.com")
    assert refused.status_code == 429
    assert text_of(refused.get_data(as_text=True), "address-error") == (
        f"address: at most {TEST_SENDS_PER_HOUR} test emails an hour; try again later"
    )
    assert len(sent_tests(app, site)) == TEST_SENDS_PER_HOUR
    other = new_site(app, "templates-other")
    assert (
        post(owner, "/templates/cart-1/test", editor(other), site=other.id, address="me@example.com").status_code == 302
    )
    with db.new_session(app) as session:  # an hour on: the site's earlier tests no longer count
        session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.site_id == site.id)
            .values(created_at=utcnow() - timedelta(minutes=61))
        )
        session.commit()
    again = post(owner, "/templates/cart-1/test", editor(site), site=site.id, address="me@example.com")
    assert again.status_code == 302


def test_a_test_email_for_a_contact_uses_its_cart_and_writes_nothing_to_the_contact(
    owner: FlaskClient, client: FlaskClient, app: Flask, site: Site, clock: Clock
) -> None:
    thomas_with_a_hostile_cart(client, site, clock)
    page = f"{editor(site)}&contact={THOMAS}"
    answer = post(owner, "/templates/cart-1/test", page, site=site.id, contact=THOMAS, address="me@example.com")
    assert answer.status_code == 302 and answer.headers["Location"] == page
    (email,) = sent_tests(app, site)
    assert (email.recipient, email.contact_id) == ("me@example.com", None)
    assert "White shirt" in email.html and HOSTILE not in email.html


# Versions


def test_a_version_is_shown_and_restored_as_a_new_version(owner: FlaskClient, app: Flask, site: Site) -> None:
    assert save(owner, site, subject="First", html="<p>one</p>").status_code == 302
    assert save(owner, site, subject="Second", html="<p>two</p>").status_code == 302
    shown = page_of(owner, f"/templates/cart-1/versions/1?site={site.id}")
    assert text_of(shown, "version-title") == "cart-1: version 1"
    assert text_of(shown, "source-html") == "<p>one</p>"
    assert 'src="/templates/cart-1/preview?site=' in shown and "version=1" in shown
    assert "one" in frame_html(page_of(owner, f"/templates/cart-1/preview?site={site.id}&version=1"))
    restored = post(owner, "/templates/cart-1/versions/1/restore", editor(site), site=site.id)
    assert restored.status_code == 302 and restored.headers["Location"] == editor(site)
    assert "Restored version 1 of “cart-1” as version 3." in page_of(owner, editor(site))
    default = post(owner, "/templates/cart-1/versions/0/restore", editor(site), site=site.id)
    assert default.status_code == 302
    with db.new_session(app) as session:
        current = current_template(session, site.id, "cart-1")
        assert current is not None and current.version == 4
        assert current.subject == DEFAULT_SUBJECT
    versions = [row[0] for row in table_rows(page_of(owner, editor(site)), "versions")[1:]]
    assert versions == ["v4 current", "v3", "v2", "v1", "default"]
    for missing in ("9", "99999999999999999999999"):
        assert owner.get(f"/templates/cart-1/versions/{missing}?site={site.id}").status_code == 404
        assert owner.get(f"/templates/cart-1/preview?site={site.id}&version={missing}").status_code == 404


# Who sees what


def test_another_users_site_is_not_found(app: Flask, site: Site) -> None:
    own = new_site(app, "templates-own")
    with app.test_client() as other:
        sign_in(other, new_user(app, [own]))
        mine = editor(own)
        for path in (
            f"/templates?site={site.id}",
            editor(site),
            f"/templates/cart-1/preview?site={site.id}",
            f"/templates/cart-1/versions/0?site={site.id}",
        ):
            assert other.get(path).status_code == 404, path
        for path, fields in (
            ("/templates", {"name": "mine"}),
            ("/templates/cart-1", {"subject": "Taken", "html": "<p>x</p>"}),
            ("/templates/cart-1/preview", {"subject": "Taken", "html": "<p>x</p>"}),
            ("/templates/cart-1/test", {"address": "me@example.com"}),
            ("/templates/cart-1/versions/0/restore", {}),
        ):
            assert post(other, path, mine, site=site.id, **fields).status_code == 404, path
        assert sent_tests(app, site) == []
        with db.new_session(app) as session:
            kept = current_template(session, site.id, "cart-1")
            assert kept is not None and kept.shipped
        assert page_of(other, mine)  # its own site's editor
