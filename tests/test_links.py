"""Links in emails: built from SIBYL_PUBLIC_URL whatever Host a request names, acting only on POST (mail scanners
follow every link), naming one contact and no later one that reused its id; and the secret key that signs them."""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select, text, update

from server import create_app, db
from server.automation.worker import Worker
from server.config import DEFAULT_PUBLIC_URL, secret_key
from server.dashboard.users import create_user
from server.ingest.pipeline import IncomingEvent, ingest
from server.mail.confirmation import confirmation_url
from server.mail.unsubscribe import unsubscribe_url
from server.models import Cart, Contact, Event, OutboxEmail, Run, Site, Visitor

from .support.dashboard import PASSWORD
from .support.databases import sqlite_at
from .support.guide import GUIDE_CART
from .support.sites import new_site
from .support.store import receive_carts_at

PUBLIC_URL = "https://track.example.com"
ATTACKER = "attacker.example"


@pytest.fixture(scope="module")
def app(database_url: str) -> Flask:
    return create_app({"DATABASE_URL": database_url, "WORKER": "external", "SMTP_URL": None, "PUBLIC_URL": PUBLIC_URL})


@pytest.fixture
def site(app: Flask) -> Site:
    return new_site(app, "links")


def new_contact(app: Flask, site: Site, email: str | None = None, **fields: Any) -> Contact:
    with db.new_session(app) as session:
        contact = Contact(
            site_id=site.id, email=email or f"{uuid.uuid4().hex[:8]}@example.com", attributes={}, **fields
        )
        session.add(contact)
        session.commit()
        return contact


def reload(app: Flask, contact: Contact) -> Contact:
    with db.new_session(app) as session:
        return session.get_one(Contact, contact.id)


def unsubscribe_link(app: Flask, contact: Contact) -> str:
    return unsubscribe_url(PUBLIC_URL, app.config["SECRET_KEY"], contact.site_id, contact.id, contact.link_nonce)


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC_URL + "/")
    return url.removeprefix(PUBLIC_URL)


def legacy_token(app: Flask, purpose: str, site_id: int, contact_id: int) -> str:
    """A link as emails sent before link nonces carry it: `[site_id, contact_id]`, signed."""
    return URLSafeSerializer(app.config["SECRET_KEY"], salt=f"sibyl-{purpose}").dumps([site_id, contact_id])


# Links come from SIBYL_PUBLIC_URL, never from a request's Host


def abandoned_cart(app: Flask, site: Site, email: str) -> None:
    """A contact's cart received three hours ago: due now with the site's two-hour delay."""
    moment = datetime.now(UTC) - timedelta(hours=3)
    event = IncomingEvent(
        uuid.uuid4().hex,
        "track",
        "cart_updated",
        moment,
        cuid=uuid.uuid4().hex,
        email=email,
        eventdata={"id": "cart:1", "data": GUIDE_CART},
    )
    with db.new_session(app) as session:
        ingest(session, session.get_one(Site, site.id), [event])
        receive_carts_at(session, site.id, moment)  # deadlines count from receipt: moved back as the clock cannot be
        session.execute(
            update(Run).where(Run.site_id != site.id, Run.state == "waiting").values(state="exited", due_at=None)
        )
        session.commit()


def test_a_request_host_never_decides_the_links_of_the_inline_worker(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIBYL_PUBLIC_URL", raising=False)
    workers: list[Worker] = []

    class Recorded(Worker):
        """The inline worker, kept from running: the test drives it itself."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            workers.append(self)

        def run(self, stop: Any) -> None:
            pass

    monkeypatch.setattr("server.automation.worker.Worker", Recorded)
    inline = create_app({"DATABASE_URL": database_url, "WORKER": "inline", "SMTP_URL": None})
    assert inline.test_client().get("/healthz", headers={"Host": ATTACKER}).status_code == 200
    [worker] = workers

    shop = new_site(inline, "links")
    abandoned_cart(inline, shop, "ada@example.com")
    assert worker.advance_due_runs() == 1
    with db.new_session(inline) as session:
        [email] = session.scalars(select(OutboxEmail).where(OutboxEmail.site_id == shop.id))
    assert email.unsubscribe_url is not None and email.unsubscribe_url.startswith(DEFAULT_PUBLIC_URL + "/unsubscribe/")
    assert ATTACKER not in email.html + email.text


def test_the_dashboards_tracking_code_and_the_api_document_ignore_the_host(app: Flask, site: Site) -> None:
    owner = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    with db.new_session(app) as session:
        create_user(session, owner, PASSWORD)
    spoofed = f"https://{ATTACKER}"  # every request of this browser names the attacker's host
    with app.test_client() as signed_in:
        login_page = signed_in.get("/login", base_url=spoofed).get_data(as_text=True)
        found = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
        assert found is not None
        token = found.group(1)
        login = {"email": owner, "password": PASSWORD, "csrf_token": token}
        answer = signed_in.post("/login", data=login, base_url=spoofed, headers={"Referer": f"{spoofed}/login"})
        assert answer.status_code == 302
        page = signed_in.get(f"/sites/{site.id}", base_url=spoofed).get_data(as_text=True)
    assert f"{PUBLIC_URL}/sa.js" in page and ATTACKER not in page
    document = app.test_client().get("/openapi.json", headers={"Host": ATTACKER}).get_json()
    assert document["servers"] == [{"url": PUBLIC_URL}]


def test_a_deployment_without_sibyl_public_url_is_warned_at_start(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SIBYL_PUBLIC_URL", raising=False)
    with caplog.at_level(logging.WARNING):
        unset = create_app({"DATABASE_URL": database_url, "WORKER": "external"})
    assert unset.config["PUBLIC_URL"] == DEFAULT_PUBLIC_URL
    assert any("SIBYL_PUBLIC_URL is not set" in record.getMessage() for record in caplog.records)

    caplog.clear()
    monkeypatch.setenv("SIBYL_PUBLIC_URL", PUBLIC_URL + "/")
    with caplog.at_level(logging.WARNING):
        configured = create_app({"DATABASE_URL": database_url, "WORKER": "external"})
    assert configured.config["PUBLIC_URL"] == PUBLIC_URL
    assert not any("SIBYL_PUBLIC_URL" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "value", ["track.example.com", "ftp://track.example.com", "https://", "https://t.example/?a=1"]
)
def test_a_public_url_that_is_no_base_url_is_refused_at_start(
    value: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIBYL_PUBLIC_URL", value)
    with pytest.raises(ValueError, match="SIBYL_PUBLIC_URL"):
        create_app({"DATABASE_URL": database_url, "WORKER": "external"})


# GET shows a page with one button; POST acts


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_following_an_unsubscribe_link_changes_nothing_until_the_button(
    method: str, app: Flask, client: FlaskClient, site: Site
) -> None:
    contact = new_contact(app, site)
    path = path_of(unsubscribe_link(app, contact))
    for _ in range(3):  # a mail scanner, then its retries
        assert client.open(path, method=method).status_code == 200
    assert reload(app, contact).email_blacklisted is False

    page = client.get(path)
    html = page.get_data(as_text=True)
    assert re.search(r'<form method="post">\s*<button type="submit">Unsubscribe</button>\s*</form>', html)
    assert "action=" not in html  # the form posts back to the link itself
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"

    done = client.post(path)
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert reload(app, contact).email_blacklisted is True
    again = client.get(path).get_data(as_text=True)
    assert "You are unsubscribed" in again and "<form" not in again


def test_the_one_click_post_of_rfc_8058_unsubscribes_at_once(app: Flask, site: Site) -> None:
    contact = new_contact(app, site)
    mail_client = app.test_client(use_cookies=False)
    answer = mail_client.post(path_of(unsubscribe_link(app, contact)), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "You are unsubscribed" in answer.get_data(as_text=True)
    assert reload(app, contact).email_blacklisted is True


def test_a_confirmation_link_confirms_on_the_buttons_post_only(app: Flask, client: FlaskClient, site: Site) -> None:
    contact = new_contact(app, site)
    url = confirmation_url(PUBLIC_URL, app.config["SECRET_KEY"], site.id, contact.id, contact.link_nonce)
    path = path_of(url)
    assert client.head(path).status_code == 200
    page = client.get(path).get_data(as_text=True)
    assert '<button type="submit">Yes, remind me</button>' in page and 'method="post"' in page
    assert reload(app, contact).confirmed_at is None

    done = client.post(path).get_data(as_text=True)
    assert "you are confirmed" in done
    assert reload(app, contact).confirmed_at is not None


def test_a_confirmation_link_cannot_undo_an_unsubscribe(app: Flask, client: FlaskClient, site: Site) -> None:
    contact = new_contact(app, site, email_blacklisted=True)
    path = path_of(confirmation_url(PUBLIC_URL, app.config["SECRET_KEY"], site.id, contact.id, contact.link_nonce))
    for answer in (client.get(path), client.post(path)):
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200 and "confirms nothing" in html and "<form" not in html
    assert reload(app, contact).confirmed_at is None


def test_link_pages_escape_the_shop_name(app: Flask, client: FlaskClient) -> None:
    shop = new_site(app, '<script>alert(1)</script> & "Co"')
    contact = new_contact(app, shop)
    path = path_of(unsubscribe_link(app, contact))
    for answer in (client.get(path), client.post(path)):
        html = answer.get_data(as_text=True)
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;" in html


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_forged_link_shows_an_error_and_acts_on_no_one(
    method: str, app: Flask, client: FlaskClient, site: Site
) -> None:
    contact = new_contact(app, site)
    path = path_of(unsubscribe_link(app, contact))
    other_purpose = path_of(
        confirmation_url(PUBLIC_URL, app.config["SECRET_KEY"], site.id, contact.id, contact.link_nonce)
    )
    forgeries = (
        path[:-3],
        path.replace("/unsubscribe/", "/confirm/"),
        other_purpose.replace("/confirm/", "/unsubscribe/"),
    )
    for forged in forgeries:
        answer = client.open(forged, method=method)
        assert answer.status_code == 400 and "not valid" in answer.get_data(as_text=True)
    assert reload(app, contact).email_blacklisted is False and reload(app, contact).confirmed_at is None


# A link names one contact, never a later one given the same id


def test_a_link_of_a_deleted_contact_does_not_act_on_a_contact_reusing_its_id(
    app: Flask, client: FlaskClient, site: Site
) -> None:
    first = new_contact(app, site)
    link = path_of(unsubscribe_link(app, first))
    with db.new_session(app) as session:
        session.execute(text("DELETE FROM contacts WHERE id = :id"), {"id": first.id})
        session.commit()
    second = new_contact(app, site, id=first.id)  # the id handed out again, as SQLite did for the highest rowid

    for answer in (client.get(link), client.post(link)):
        assert answer.status_code == 200 and "no longer on file" in answer.get_data(as_text=True)
    assert reload(app, second).email_blacklisted is False


def test_every_contact_gets_its_own_link_nonce(app: Flask, site: Site) -> None:
    first, second = new_contact(app, site), new_contact(app, site)
    assert first.link_nonce and second.link_nonce and first.link_nonce != second.link_nonce
    assert first.link_nonce in URLSafeSerializer(app.config["SECRET_KEY"], salt="sibyl-unsubscribe").loads(
        unsubscribe_link(app, first).rsplit("/", 1)[1]
    )


def test_links_sent_before_nonces_keep_working_for_their_contacts_only(
    app: Flask, client: FlaskClient, site: Site
) -> None:
    before = new_contact(app, site)
    with db.new_session(app) as session:  # a contact from before link nonces
        session.execute(update(Contact).where(Contact.id == before.id).values(link_nonce=None))
        session.commit()
    after = new_contact(app, site)
    assert client.post(f"/unsubscribe/{legacy_token(app, 'unsubscribe', site.id, before.id)}").status_code == 200
    assert reload(app, before).email_blacklisted is True
    assert client.post(f"/confirm/{legacy_token(app, 'confirm', site.id, after.id)}").status_code == 200
    assert client.post(f"/unsubscribe/{legacy_token(app, 'unsubscribe', site.id, after.id)}").status_code == 200
    assert (reload(app, after).email_blacklisted, reload(app, after).confirmed_at) == (False, None)


def test_contact_ids_are_never_handed_out_again(app: Flask, site: Site) -> None:
    highest = new_contact(app, site)
    with db.new_session(app) as session:
        session.execute(text("DELETE FROM contacts WHERE id = :id"), {"id": highest.id})
        session.commit()
    assert new_contact(app, site).id > highest.id


# The migration to link nonces (SQLite: the contacts table rebuilt) keeps every row that references a contact

# A shop at revision 0006: Ada with a browser, two events, an emailed cart and its email; Bob, the highest id, deleted.
ROWS_AT_0006 = (
    (
        "INSERT INTO sites (id, name, client_key, api_key, origins, created_at, require_consent, respect_dnt) "
        "VALUES (1, 'shop', 'ck', 'ak', '[]', :now, 0, 0)"
    ),
    (
        "INSERT INTO contacts (id, site_id, email, attributes, created_at, modified_at) "
        "VALUES (7, 1, 'ada@example.com', '{}', :now, :now), (9, 1, 'bob@example.com', '{}', :now, :now)"
    ),
    (
        "INSERT INTO visitors (id, site_id, cuid, contact_id, first_seen_at, last_seen_at) "
        "VALUES (3, 1, 'c', 7, :now, :now)"
    ),
    (
        "INSERT INTO events (site_id, message_id, kind, name, visitor_id, contact_id, properties, occurred_at, "
        "received_at) VALUES (1, 'm1', 'page', 'home', 3, 7, '{}', :now, :now), "
        "(1, 'm2', 'track', 'cart_updated', 3, 7, '{}', :now, :now)"
    ),
    (
        "INSERT INTO carts (id, site_id, owner, cart_key, visitor_id, contact_id, state, snapshot, version, cycle, "
        "resets, updated_at) VALUES (5, 1, 'contact:7', 'cart:1', 3, 7, 'emailed', '{}', 2, 1, 0, :now)"
    ),
    (
        "INSERT INTO outbox (site_id, cart_id, contact_id, dedupe_key, message_id, sender, recipient, subject, html, "
        "text, status, attempts, created_at) VALUES (1, 5, 7, 'cart-5-cycle-1', '<m@x>', 's@x', 'ada@example.com', "
        "'S', 'h', 't', 'sent', 1, :now)"
    ),
    "DELETE FROM contacts WHERE id = 9",
)
# The contacts left, and the rows that reference Ada: her browser, events, cart and email.
COUNTS = (
    "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM visitors WHERE contact_id = 7), "
    "(SELECT count(*) FROM events WHERE contact_id = 7), (SELECT count(*) FROM carts WHERE contact_id = 7), "
    "(SELECT count(*) FROM outbox WHERE contact_id = 7 AND cart_id = 5)"
)


def test_migrating_a_sqlite_database_keeps_every_contacts_events_carts_and_emails(tmp_path: Path) -> None:
    engine = sqlite_at(tmp_path / "old.db", "0006", ROWS_AT_0006)

    db.upgrade(engine)

    with engine.connect() as connection:
        assert tuple(connection.execute(text(COUNTS)).one()) == (1, 1, 2, 1, 1)
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        assert connection.execute(text("SELECT link_nonce FROM contacts WHERE id = 7")).scalar() is None
    engine.dispose()

    migrated = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'old.db'}", "WORKER": "external", "PUBLIC_URL": PUBLIC_URL}
    )
    newcomers = [new_contact(migrated, Site(id=1)) for _ in range(2)]
    assert [newcomer.id for newcomer in newcomers] == [8, 9]  # 9 was deleted before: reused once, never again
    client = migrated.test_client()
    assert client.post(f"/unsubscribe/{legacy_token(migrated, 'unsubscribe', 1, 9)}").status_code == 200
    assert reload(migrated, newcomers[1]).email_blacklisted is False  # the old link was Bob's, not the newcomer's
    assert client.post(f"/unsubscribe/{legacy_token(migrated, 'unsubscribe', 1, 7)}").status_code == 200
    with db.new_session(migrated) as session:
        assert session.get_one(Contact, 7).email_blacklisted is True  # Ada's link, sent before, still works
        session.execute(text("DELETE FROM contacts WHERE id IN (7, 9)"))  # foreign keys on again: rows go with Ada
        session.commit()
        counts = [session.scalar(select(func.count()).select_from(model)) for model in (Event, Cart, OutboxEmail)]
        assert counts == [0, 0, 0]
        assert session.scalar(select(Visitor.contact_id).where(Visitor.id == 3)) is None
    assert new_contact(migrated, Site(id=1)).id == 10


# The secret key that signs every link


def _read_key(instance: str, barrier: Any, keys: Any) -> None:
    barrier.wait()
    try:
        keys.put(secret_key(instance))
    except ValueError as error:
        keys.put(f"error: {error}")


def test_processes_starting_at_once_share_one_complete_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIBYL_SECRET_KEY", raising=False)
    context = multiprocessing.get_context("fork")
    for round_ in range(20):
        instance = tmp_path / str(round_)
        instance.mkdir()
        barrier, keys = context.Barrier(8), context.Queue()
        processes = [context.Process(target=_read_key, args=(str(instance), barrier, keys)) for _ in range(8)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=30)
        found = {keys.get(timeout=5) for _ in processes}
        key_file = instance / "secret_key"
        assert found == {key_file.read_text()} and len(key_file.read_text()) == 64
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert os.listdir(instance) == ["secret_key"]  # no draft left behind


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_an_empty_secret_key_is_refused(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIBYL_SECRET_KEY", value)
    with pytest.raises(ValueError, match="SIBYL_SECRET_KEY is empty"):
        secret_key(str(tmp_path))
    monkeypatch.delenv("SIBYL_SECRET_KEY")
    (tmp_path / "secret_key").write_text(value)
    with pytest.raises(ValueError, match="secret_key is empty: delete the file"):
        secret_key(str(tmp_path))
