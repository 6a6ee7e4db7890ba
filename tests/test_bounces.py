"""Bounces and complaints: each email's VERP bounce address as the real SMTP server receives it, DSN and ARF samples
read from files, the bounce mailbox read end to end, the webhook for each relay's shape, and a bounced contact never
mailed again by any workflow."""

from __future__ import annotations

import json
import mailbox
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server import create_app, db
from server.automation.worker import Worker
from server.bounces.dsn import read_report
from server.bounces.relays import read_relay
from server.mail.bounce_address import BounceAddresses
from server.mail.outbox import Feedback
from server.models import Contact, Event, FeedbackReport, OutboxEmail, Run, Site

from .support.carts import cart_updated, track
from .support.cli import cli, set_workflow
from .support.clock import Clock
from .support.imap_server import ImapServer, available
from .support.smtp_sink import SmtpSink
from .support.store import Store
from .test_workflow_engine import catch_up, send

SAMPLES = Path(__file__).parent / "fixtures" / "bounces"
BOUNCE_ADDRESS = "bounces@shop.example"
# What the samples name, replaced by the real email's before they are applied.
SAMPLE_TOKEN_ADDRESS = "bounces+41-0123456789@shop.example"
SAMPLE_MESSAGE_ID = "5f1c0c7e9a2b4d6e8f0a1b2c3d4e5f6a7b8c9d0e@shop.example"
SAMPLE_RECIPIENTS = ("gone@example.net", "nobody@example.org", "nosuchuser@gmail.com", "full@example.net")
REMINDERS: dict[str, Any] = {
    "name": "Reminders",
    "trigger": {"event": "cart_updated", "per": "cart"},
    "steps": [{"email": {"subject": "Your cart"}}, {"wait": "2d"}, {"email": {"subject": "Your cart, again"}}],
}
WELCOME: dict[str, Any] = {
    "name": "Welcome back",
    "trigger": {"event": "came_back", "per": "event"},
    "steps": [{"email": {"template": "welcome-1", "subject": "Welcome back", "transactional": True}}],
}


@dataclass
class Shop:
    """A site with the Reminders workflow, the app its worker and commands run in, and the worker's clock."""

    app: Flask
    client: FlaskClient
    site: Site
    worker: Worker
    clock: Clock
    sink: SmtpSink

    def first_email(self, address: str) -> OutboxEmail:
        """A cart of `address` and its first reminder, sent through the real SMTP server."""
        sent = len(self.sink.messages)
        send(self.client, self.site, cart_updated(self.clock.now, email=address, cart=f"cart:{uuid.uuid4().hex[:8]}"))
        catch_up(self.clock)
        self.worker.run_pass()
        self.sink.wait_for(sent + 1)
        [email] = [email for email in self.emails() if email.recipient == address]
        return email

    def emails(self) -> list[OutboxEmail]:
        with db.new_session(self.app) as session:
            query = select(OutboxEmail).where(OutboxEmail.site_id == self.site.id).order_by(OutboxEmail.id)
            return list(session.scalars(query))

    def email(self, outbox_id: int) -> OutboxEmail:
        with db.new_session(self.app) as session:
            return session.get_one(OutboxEmail, outbox_id)

    def contact(self, address: str) -> Contact:
        with db.new_session(self.app) as session:
            return session.scalars(
                select(Contact).where(Contact.site_id == self.site.id, Contact.email == address)
            ).one()

    def runs(self, address: str) -> list[Run]:
        contact_id = self.contact(address).id
        with db.new_session(self.app) as session:
            return list(session.scalars(select(Run).where(Run.contact_id == contact_id).order_by(Run.id)))

    def timeline(self, address: str) -> list[Event]:
        contact_id = self.contact(address).id
        with db.new_session(self.app) as session:
            query = select(Event).where(Event.contact_id == contact_id, Event.name.like("email_%")).order_by(Event.id)
            return list(session.scalars(query))

    def stats(self) -> dict[str, Any]:
        result = cli(self.app, "workflows", "stats", self.site.name, REMINDERS["name"], "--json")
        assert result.exit_code == 0, result.output
        stats: dict[str, Any] = json.loads(result.output)
        return stats

    def post(self, body: bytes | str, content_type: str = "application/json", **headers: str) -> Any:
        headers = {"api-key": self.site.api_key, **headers}
        return self.client.post("/webhooks/bounces", data=body, headers={"Content-Type": content_type, **headers})


@pytest.fixture
def shop(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> Shop:
    return open_shop(store, smtp_sink, tmp_path, REMINDERS)


def open_shop(store: Store, smtp_sink: SmtpSink, tmp_path: Path, reminders: dict[str, Any]) -> Shop:
    """A new site whose only workflow is `reminders` (named as REMINDERS), sending through the real SMTP server."""
    assert reminders["name"] == REMINDERS["name"]
    site = store.create_site()
    store.leave_only_carts_of(site)
    app = create_app(
        {
            "DATABASE_URL": store.app.config["DATABASE_URL"],
            "SMTP_URL": smtp_sink.url,
            "WORKER": "external",
            "BOUNCE_ADDRESS": BOUNCE_ADDRESS,
        }
    )
    set_workflow(app, site, "--disable")  # the built-in abandoned cart: only the Reminders write emails
    path = tmp_path / "reminders.json"
    path.write_text(json.dumps(reminders))
    assert cli(app, "workflows", "import", site.name, str(path)).exit_code == 0
    clock = Clock()
    return Shop(app, app.test_client(), site, Worker(app, clock), clock, smtp_sink)


def sample(name: str, email: OutboxEmail | None = None, addresses: BounceAddresses | None = None) -> bytes:
    """A sample from tests/fixtures/bounces, made to be about `email`: its bounce address, Message-ID, recipient."""
    text = (SAMPLES / name).read_text()
    if email is not None:
        assert addresses is not None
        text = text.replace(SAMPLE_TOKEN_ADDRESS, addresses.for_email(email.id))
        text = text.replace(SAMPLE_MESSAGE_ID, email.message_id.strip("<>"))
        for recipient in SAMPLE_RECIPIENTS:
            text = text.replace(recipient, email.recipient)
    return text.encode()


def addresses_of(shop: Shop) -> BounceAddresses:
    return BounceAddresses.of(shop.app.config)


@pytest.mark.parametrize(
    ("name", "kind", "status", "recipient"),
    [
        ("postfix_user_unknown.eml", Feedback.HARD_BOUNCE, "5.1.1", "gone@example.net"),
        ("exim_no_such_user.eml", Feedback.HARD_BOUNCE, "5.0.0", "nobody@example.org"),
        ("gmail_no_such_user.eml", Feedback.HARD_BOUNCE, "5.1.1", "nosuchuser@gmail.com"),
        ("soft_mailbox_full.eml", Feedback.SOFT_BOUNCE, "4.2.2", "full@example.net"),
        ("arf_complaint.eml", Feedback.COMPLAINT, None, "reader@example.com"),
    ],
)
def test_dsn_and_arf_samples_are_read_with_the_email_they_are_about(
    name: str, kind: Feedback, status: str | None, recipient: str
) -> None:
    [report] = read_report(sample(name)) or []
    assert (report.kind, report.status, report.recipient) == (kind, status, recipient)
    assert report.message_id == f"<{SAMPLE_MESSAGE_ID}>"  # from the returned headers or copy
    assert SAMPLE_TOKEN_ADDRESS in report.token_addresses
    assert report.key == (read_report(sample(name)) or [])[0].key  # the same report, the same key


def test_a_delay_warning_asks_for_nothing_and_an_auto_reply_is_no_report() -> None:
    assert read_report(sample("delay_warning.eml")) == []
    assert read_report(sample("out_of_office.eml")) is None


def test_the_bounce_token_names_the_email_only_with_its_signature() -> None:
    addresses = BounceAddresses("bounces@shop.example", "secret")
    address = addresses.for_email(1234)
    assert address.startswith("bounces+1234-") and address.endswith("@shop.example")
    assert addresses.outbox_id(address) == 1234
    assert addresses.outbox_id(address.upper()) == 1234  # a mail system changing the case changes nothing
    assert addresses.outbox_id(address.replace("+1234-", "+1235-")) is None  # another email: the signature fails
    assert BounceAddresses("bounces@shop.example", "another secret").outbox_id(address) is None
    assert addresses.outbox_id("bounces@shop.example") is None


def test_the_smtp_server_receives_each_email_from_its_own_bounce_address(shop: Shop) -> None:
    email = shop.first_email("verp@example.com")
    [(mail_from, recipients)] = shop.sink.envelopes
    assert recipients == ["verp@example.com"]
    assert mail_from == addresses_of(shop).for_email(email.id)
    assert mail_from.startswith("bounces+") and mail_from.endswith("@shop.example")
    assert addresses_of(shop).outbox_id(mail_from) == email.id
    assert shop.sink.messages[0]["From"] == email.sender  # the From the reader sees is unchanged


def test_without_a_bounce_address_the_envelope_sender_is_the_from_address(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    site = store.create_site()
    store.leave_only_carts_of(site)
    settings = {"DATABASE_URL": store.app.config["DATABASE_URL"], "SMTP_URL": smtp_sink.url, "WORKER": "external"}
    app = create_app(settings)
    clock = Clock()
    send(app.test_client(), site, cart_updated(clock.now, email="plain@example.com"))
    catch_up(clock)
    clock.advance(timedelta(hours=3))  # the site's abandoned cart, after its delay
    Worker(app, clock).run_pass()
    smtp_sink.wait_for(1)
    assert smtp_sink.envelopes == [(app.config["MAIL_FROM"], ["plain@example.com"])]


def test_the_mailbox_read_blacklists_a_hard_bounce_once_and_leaves_other_mail(shop: Shop, tmp_path: Path) -> None:
    email = shop.first_email("gone@example.com")
    assert (shop.stats()["groups"]["sent"]["delivered"], shop.stats()["steps"]["steps[0]"]["delivered"]) == (1, 1)
    folder = mailbox.Maildir(tmp_path / "Maildir", create=True)
    folder.add(sample("postfix_user_unknown.eml", email, addresses_of(shop)))
    folder.add(sample("out_of_office.eml"))
    folder.add(sample("delay_warning.eml"))

    result = cli(shop.app, "bounces", "read", str(tmp_path / "Maildir"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 applied, 0 applied before, 0 about no email known here; 2 messages removed, 1 ")
    assert [folder.get_bytes(key) for key in folder.iterkeys()] == [sample("out_of_office.eml")]

    contact = shop.contact("gone@example.com")
    assert (contact.email_blacklisted, contact.email_blacklist_reason) == (True, "hard_bounce")
    assert (shop.email(email.id).feedback, shop.email(email.id).status) == (Feedback.HARD_BOUNCE, "sent")
    assert [(run.state, run.exit_reason) for run in shop.runs("gone@example.com")] == [("exited", "blacklisted")]
    [event] = shop.timeline("gone@example.com")
    assert event.name == "email_bounced"
    assert event.properties | {"reason": None} == {
        "source": "dsn",
        "type": "hard",
        "status": "5.1.1",
        "reason": None,
        "email_id": email.id,
        "subject": "Your cart",
        "workflow": "Reminders",
        "step": "steps[0]",
    }
    assert shop.stats()["groups"]["sent"] == {
        "runs": 1,
        "emails": 1,
        "held": 0,
        "conversions": 0,
        "revenue": 0,
        "bounced": 1,
        "complained": 0,
        "opened": 0,
        "clicked": 0,
        "delivered": 0,
        "unsubscribed": 0,
    }
    assert shop.stats()["steps"] == {
        "steps[0]": {
            "emails": 1,
            "held": 0,
            "delivered": 0,  # the hard bounce is no longer delivered
            "opened": 0,
            "clicked": 0,
            "bounced": 1,
            "complained": 0,
            "unsubscribed": 0,
            "converted": 0,
            "revenue": 0,
        }
    }
    table = cli(shop.app, "workflows", "stats", shop.site.name, REMINDERS["name"]).output
    assert "came back: 1 bounced for good, 0 drew complaints" in table

    # The same bounce again (a copy in the mailbox): recognised, removed, applied once.
    folder.add(sample("postfix_user_unknown.eml", email, addresses_of(shop)))
    again = cli(shop.app, "bounces", "read", str(tmp_path / "Maildir"))
    assert again.output.startswith("0 applied, 1 applied before, 0 about no email known here; 1 messages removed")
    assert len(shop.timeline("gone@example.com")) == 1


def test_a_hard_bounced_contact_gets_no_further_email_from_any_workflow(shop: Shop, tmp_path: Path) -> None:
    email = shop.first_email("gone@example.com")
    shop.first_email("kept@example.com")  # another shopper, mailed all along
    raw = sample("gmail_no_such_user.eml", email, addresses_of(shop))
    assert shop.post(raw, "message/rfc822").get_json() == {"applied": 1, "duplicate": 0, "unmatched": 0}

    path = tmp_path / "welcome.json"
    path.write_text(json.dumps(WELCOME))
    assert cli(shop.app, "workflows", "import", shop.site.name, str(path)).exit_code == 0
    set_workflow(shop.app, shop.site, "--enable")  # the built-in abandoned cart too
    for address in ("gone@example.com", "kept@example.com"):
        send(shop.client, shop.site, cart_updated(shop.clock.now, email=address, cart=f"cart:{address}"))
        send(shop.client, shop.site, track("came_back", shop.clock.now, email=address))
    for _ in range(4):  # past every wait, every delay and every email period
        shop.clock.advance(timedelta(days=1))
        shop.worker.run_pass()
    assert {recipient for _, [recipient] in shop.sink.envelopes} == {"gone@example.com", "kept@example.com"}
    mailed = [recipient for _, [recipient] in shop.sink.envelopes]
    assert mailed.count("gone@example.com") == 1  # the bounced email only
    assert mailed.count("kept@example.com") > 2  # the other shopper got the later steps and the other workflows
    assert [email.status for email in shop.emails() if email.recipient == "gone@example.com"] == ["sent"]


def test_the_dashboard_shows_why_a_contact_is_blacklisted_and_what_came_back(shop: Shop, owner: FlaskClient) -> None:
    email = shop.first_email("gone@example.com")
    assert shop.post(sample("ses_complaint.json", email, addresses_of(shop))).status_code == 200
    contact_page = owner.get(f"/contacts/{shop.contact('gone@example.com').id}").get_data(as_text=True)
    assert "Email blacklisted: complaint" in contact_page
    email_page = owner.get(f"/outbox/{email.id}").get_data(as_text=True)
    assert "Came back</th><td>Complaint, " in email_page


def test_a_contacts_export_says_why_it_is_blacklisted_and_its_erasure_takes_the_reports(shop: Shop) -> None:
    email = shop.first_email("gone@example.com")
    assert shop.post(sample("postmark_bounce.json", email, addresses_of(shop))).status_code == 200
    result = cli(shop.app, "contacts", "export", shop.site.name, "gone@example.com")
    document = json.loads(result.output)
    assert document["contact"]["emailBlacklistReason"] == "hard_bounce"
    assert [row["feedback"] for row in document["emails"]] == ["hard_bounce"]
    contact_id = shop.contact("gone@example.com").id
    assert cli(shop.app, "contacts", "delete", shop.site.name, "gone@example.com", "--yes").exit_code == 0
    with db.new_session(shop.app) as session:
        assert session.scalars(select(FeedbackReport).where(FeedbackReport.contact_id == contact_id)).all() == []


def test_three_soft_bounces_within_a_week_count_as_a_hard_one(shop: Shop) -> None:
    email = shop.first_email("full@example.com")
    raw = sample("soft_mailbox_full.eml", email, addresses_of(shop))
    for copy in range(3):
        report = raw.replace(b"9B07E1C0A31@mail.shop.example", f"9B07E1C0A3{copy}@mail.shop.example".encode())
        assert shop.post(report, "message/rfc822").get_json() == {"applied": 1, "duplicate": 0, "unmatched": 0}
        blacklisted = shop.contact("full@example.com").email_blacklisted
        assert blacklisted is (copy == 2), copy
    assert shop.contact("full@example.com").email_blacklist_reason == "soft_bounces"
    assert (shop.email(email.id).feedback, shop.email(email.id).soft_bounces) == (Feedback.SOFT_BOUNCE, 3)
    assert shop.stats()["groups"]["sent"]["bounced"] == 0  # soft bounces are not counted as bounced emails
    assert [event.properties["type"] for event in shop.timeline("full@example.com")] == ["soft"] * 3


def test_soft_bounces_older_than_the_window_do_not_add_up(shop: Shop) -> None:
    email = shop.first_email("full@example.com")
    raw = sample("soft_mailbox_full.eml", email, addresses_of(shop))
    for copy in range(3):
        report = raw.replace(b"9B07E1C0A31@mail.shop.example", f"9B07E1C0A3{copy}@mail.shop.example".encode())
        assert shop.post(report, "message/rfc822").get_json() == {"applied": 1, "duplicate": 0, "unmatched": 0}
        with db.new_session(shop.app) as session:  # each report as if a week older than the next
            for row in session.scalars(select(FeedbackReport).where(FeedbackReport.outbox_id == email.id)):
                row.received_at -= timedelta(days=8)
            session.commit()
    assert shop.contact("full@example.com").email_blacklisted is False


RELAY_SAMPLES = [
    ("postmark_bounce.json", Feedback.HARD_BOUNCE, "hard_bounce"),
    ("postmark_spam_complaint.json", Feedback.COMPLAINT, "complaint"),
    ("mailgun_failed_permanent.json", Feedback.HARD_BOUNCE, "hard_bounce"),
    ("mailgun_complained.json", Feedback.COMPLAINT, "complaint"),
    ("sendgrid_events.json", Feedback.HARD_BOUNCE, "hard_bounce"),
    ("sendgrid_spamreport.json", Feedback.COMPLAINT, "complaint"),
    ("ses_sns_bounce.json", Feedback.HARD_BOUNCE, "hard_bounce"),
    ("ses_complaint.json", Feedback.COMPLAINT, "complaint"),
]


@pytest.mark.parametrize(("name", "kind", "reason"), RELAY_SAMPLES)
def test_the_webhook_applies_each_relays_bounces_and_complaints(
    shop: Shop, name: str, kind: Feedback, reason: str
) -> None:
    email = shop.first_email("gone@example.com")
    body = sample(name, email, addresses_of(shop))
    content_type = "text/plain; charset=UTF-8" if name.startswith("ses_sns") else "application/json"
    answer = shop.post(body, content_type)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"applied": 1, "duplicate": 0, "unmatched": 0}
    contact = shop.contact("gone@example.com")
    assert (contact.email_blacklisted, contact.email_blacklist_reason) == (True, reason)
    assert shop.email(email.id).feedback == kind
    [event] = shop.timeline("gone@example.com")
    assert event.name == ("email_complained" if kind is Feedback.COMPLAINT else "email_bounced")
    assert (event.properties["workflow"], event.properties["step"]) == ("Reminders", "steps[0]")
    figures = shop.stats()["steps"]["steps[0]"]
    came_back = {
        "bounced": int(kind is Feedback.HARD_BOUNCE),
        "complained": int(kind is Feedback.COMPLAINT),
        "delivered": int(kind is not Feedback.HARD_BOUNCE),  # a complaint came from a reader: it was delivered
    }
    assert {key: figures[key] for key in came_back} == came_back
    # A relay retrying its post changes nothing more.
    assert shop.post(body, content_type).get_json() == {"applied": 0, "duplicate": 1, "unmatched": 0}


def test_the_webhook_takes_the_key_as_a_basic_auth_password_and_refuses_other_keys(shop: Shop) -> None:
    email = shop.first_email("gone@example.com")
    body = sample("postmark_bounce.json", email, addresses_of(shop))
    no_key = shop.client.post("/webhooks/bounces", data=body, content_type="application/json")
    assert no_key.status_code == 401
    wrong = shop.client.post(
        "/webhooks/bounces", data=body, content_type="application/json", auth=("postmark", "not-the-key")
    )
    assert wrong.status_code == 401
    assert shop.post(body, **{"api-key": shop.site.client_key}).status_code == 401  # the public key is not enough
    assert shop.contact("gone@example.com").email_blacklisted is False
    right = shop.client.post(
        "/webhooks/bounces", data=body, content_type="application/json", auth=("postmark", shop.site.api_key)
    )
    assert right.get_json() == {"applied": 1, "duplicate": 0, "unmatched": 0}


def test_the_webhook_only_touches_its_own_sites_emails_and_contacts(shop: Shop, store: Store) -> None:
    email = shop.first_email("gone@example.com")
    other = store.create_site()
    body = sample("mailgun_failed_permanent.json", email, addresses_of(shop))
    answer = shop.client.post(
        "/webhooks/bounces", data=body, content_type="application/json", headers={"api-key": other.api_key}
    )
    assert answer.get_json() == {"applied": 0, "duplicate": 0, "unmatched": 1}
    assert shop.contact("gone@example.com").email_blacklisted is False


def test_the_webhook_accepts_a_relays_other_events_and_changes_nothing(shop: Shop) -> None:
    delivered = [{"email": "someone@example.com", "event": "delivered", "sg_event_id": "x", "timestamp": 1}]
    assert shop.post(json.dumps(delivered)).get_json() == {"applied": 0, "duplicate": 0, "unmatched": 0}
    opened = {"event-data": {"event": "opened", "recipient": "someone@example.com"}}
    assert shop.post(json.dumps(opened)).get_json() == {"applied": 0, "duplicate": 0, "unmatched": 0}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"", "application/json", 400, "body: empty"),
        (b"{not json", "application/json", 400, "not JSON"),
        (b'"a string"', "application/json", 400, "expected a JSON object or array"),
        (b'{"hello": "world"}', "application/json", 400, "not a bounce or complaint of a known shape"),
        (b"[1, 2]", "application/json", 400, "SendGrid's event batch"),
        (b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": ["x"]}', "application/json", 200, "unmatched"),
        (b'{"event-data": "failed"}', "application/json", 400, "event-data: expected an object"),
        (b'{"notificationType": "Bounce", "bounce": {"bouncedRecipients": "x"}}', "application/json", 400, "array"),
        (b'{"Type": "Notification", "Message": "{nope"}', "text/plain", 400, "Message: an SNS notification's"),
        (
            b'{"Type": "SubscriptionConfirmation", "SubscribeURL": "https://sns.example/confirm"}',
            "text/plain",
            400,
            "https://sns.example/confirm",
        ),
        (b"Subject: hello\r\n\r\nhi", "message/rfc822", 400, "not a delivery status notification"),
        (b"--x\r\n\r\n--x--", "multipart/report; report-type=delivery-status", 400, "not a delivery status"),
        (b"<xml/>", "application/xml", 415, "content-type"),
        (b'{"\xff": 1}', "application/json", 400, "not JSON"),
        # What no database stores is never looked up or kept: answered, not a 5xx.
        (b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": "a\\u0000@x"}', "application/json", 200, "0"),
        (b'[{"event": "bounce", "email": "\\ud800", "smtp-id": "<\\u0000>"}]', "application/json", 200, "0"),
        (b"Subject: x\r\nMessage-ID: <\x00>\r\n\r\n", "message/rfc822", 400, "not a delivery status"),
    ],
)
def test_the_webhook_answers_bad_input_with_a_clear_4xx(
    shop: Shop, body: bytes, content_type: str, status: int, words: str
) -> None:
    answer = shop.post(body, content_type)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert words in answer.get_data(as_text=True)


def test_relay_shapes_name_the_email_by_message_id_or_recipient() -> None:
    reports = read_relay(json.loads((SAMPLES / "sendgrid_events.json").read_text()))
    expected = [(Feedback.HARD_BOUNCE, f"<{SAMPLE_MESSAGE_ID}>")]  # the processed event asks for nothing
    assert [(report.kind, report.message_id) for report in reports] == expected
    [postmark] = read_relay(json.loads((SAMPLES / "postmark_bounce.json").read_text()))
    assert (postmark.message_id, postmark.recipient) == (None, "gone@example.net")  # Postmark's own id is not ours


def test_a_report_about_no_known_email_is_counted_and_removed(shop: Shop, tmp_path: Path) -> None:
    folder = mailbox.Maildir(tmp_path / "Maildir", create=True)
    folder.add(sample("exim_no_such_user.eml"))  # another server's token and Message-ID
    result = cli(shop.app, "bounces", "read", str(tmp_path / "Maildir"))
    assert result.output.startswith("0 applied, 0 applied before, 1 about no email known here; 1 messages removed")
    assert folder.keys() == []


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    if not available():
        pytest.skip("Dovecot is not installed: `make imap` installs Debian's dovecot-imapd")
    server = ImapServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_an_imap_mailbox_is_read_through_a_real_imap_server(shop: Shop, imap_server: ImapServer) -> None:
    email = shop.first_email("gone@example.com")
    folder = mailbox.Maildir(imap_server.maildir, create=True)
    folder.add(sample("exim_no_such_user.eml", email, addresses_of(shop)))
    folder.add(sample("out_of_office.eml"))
    imap_server.hand_over()

    result = cli(shop.app, "bounces", "read", imap_server.url)
    assert result.exit_code == 0, result.output + imap_server.log()
    assert result.output.startswith("1 applied, 0 applied before, 0 about no email known here; 1 messages removed, 1 ")
    assert shop.contact("gone@example.com").email_blacklist_reason == "hard_bounce"
    # The report was flagged and expunged on the server; the auto-reply is still there, so a second read applies
    # nothing.
    again = cli(shop.app, "bounces", "read", imap_server.url)
    assert again.output.startswith("0 applied, 0 applied before, 0 about no email known here; 0 messages removed, 1 ")
    assert [folder.get_bytes(key) for key in folder.iterkeys()] == [sample("out_of_office.eml")]


def test_a_wrong_imap_password_is_a_clear_error(shop: Shop, imap_server: ImapServer) -> None:
    result = cli(shop.app, "bounces", "read", imap_server.url.replace("s3cret", "wrong"))
    assert result.exit_code != 0 and "Authentication failed" in result.output and "wrong" not in result.output


def test_the_mailbox_read_refuses_what_is_no_mailbox(shop: Shop, tmp_path: Path) -> None:
    result = cli(shop.app, "bounces", "read", str(tmp_path))
    assert result.exit_code != 0 and "not a maildir" in result.output
    result = cli(shop.app, "bounces", "read", "pop3://user:secret@mail.example")
    assert result.exit_code != 0 and "imap://" in result.output and "secret" not in result.output
