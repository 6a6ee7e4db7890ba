"""What a workflow's emails led to, per step: unsubscribes counted against the newest email sent before them, and
conversions against the run's last email sent before its goal, with their revenue."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from server import db
from server.models import OutboxEmail, WorkflowDefinition

from .support.carts import track
from .support.cli import cli
from .support.dashboard import table_rows
from .support.smtp_sink import SmtpSink
from .support.store import Store
from .test_bounces import REMINDERS, Shop, open_shop
from .test_workflow_engine import send

GOAL = {"event": "order_completed", "within": "7d"}


@pytest.fixture
def shop(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> Shop:
    """The Reminders workflow (an email, two days, another email) with an order as its goal."""
    return open_shop(store, smtp_sink, tmp_path, {**REMINDERS, "goal": GOAL})


def second_email(shop: Shop, address: str) -> OutboxEmail:
    """The contact's first reminder, then, two days on, its second: both sent through the real SMTP server."""
    shop.first_email(address)
    sent = len(shop.sink.messages)
    shop.clock.advance(timedelta(days=2))
    shop.worker.run_pass()
    shop.sink.wait_for(sent + 1)
    first, second = [email for email in shop.emails() if email.recipient == address]
    assert (first.step, second.step) == ("steps[0]", "steps[2]")
    return second


def unsubscribe_link(shop: Shop, email: OutboxEmail) -> str:
    """The path of the one-click unsubscribe in the List-Unsubscribe header of the message received for `email`."""
    [message] = [message for message in shop.sink.messages if message["Message-ID"] == email.message_id]
    found = re.fullmatch(r"<\S+?(/unsubscribe/\S+)>", message["List-Unsubscribe"])
    assert found is not None
    return found.group(1)


def order(shop: Shop, address: str, total: float) -> None:
    """An order by `address`, on a cart of its own (the reminded cart stays open), received now."""
    send(
        shop.client,
        shop.site,
        track("order_completed", shop.clock.now, {"id": "cart:new", "data": {"total": total}}, email=address),
    )


def figures(shop: Shop, step: str, *names: str) -> dict[str, Any]:
    found: dict[str, Any] = shop.stats()["steps"][step]
    return {name: found[name] for name in names}


def test_an_unsubscribe_counts_against_the_newest_email_sent_to_the_contact(shop: Shop) -> None:
    second = second_email(shop, "both@example.com")
    first_only = shop.first_email("once@example.com")
    assert shop.stats()["groups"]["sent"]["unsubscribed"] == 0

    for email in (second, first_only):
        answer = shop.client.post(unsubscribe_link(shop, email), data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
    marked = {(email.recipient, email.step) for email in shop.emails() if email.unsubscribed_at is not None}
    assert marked == {("both@example.com", "steps[2]"), ("once@example.com", "steps[0]")}
    assert shop.contact("both@example.com").email_blacklist_reason == "unsubscribed"
    assert figures(shop, "steps[0]", "emails", "delivered", "unsubscribed") == {
        "emails": 2,
        "delivered": 2,
        "unsubscribed": 1,
    }
    assert figures(shop, "steps[2]", "emails", "delivered", "unsubscribed") == {
        "emails": 1,
        "delivered": 1,
        "unsubscribed": 1,
    }
    assert shop.stats()["groups"]["sent"]["unsubscribed"] == 2

    # Following the link again changes nothing: the contact is counted once, against the same email.
    shop.client.post(unsubscribe_link(shop, second), data={"List-Unsubscribe": "One-Click"})
    assert [email.unsubscribed_at for email in shop.emails()].count(None) == 1
    table = cli(shop.app, "workflows", "stats", shop.site.name, REMINDERS["name"]).output
    assert "3 delivered, opened by 0, clicked by 0 (people, not link scanners), 2 unsubscribed" in table
    assert (
        "steps[2]: 1 emails, 1 delivered, opened by 0, clicked by 0 (people, not link scanners), 1 unsubscribed"
        in table
    )


def test_an_imported_unsubscribe_is_counted_against_no_email(shop: Shop, tmp_path: Path) -> None:
    email = shop.first_email("bo@example.com")
    export = tmp_path / "contacts.csv"
    export.write_text("EMAIL;emailBlacklisted\nbo@example.com;true\n")
    assert cli(shop.app, "contacts", "import", shop.site.name, str(export)).exit_code == 0
    assert shop.contact("bo@example.com").email_blacklist_reason == "unsubscribed"
    assert shop.email(email.id).unsubscribed_at is None
    assert shop.stats()["groups"]["sent"]["unsubscribed"] == 0


def test_a_conversion_counts_for_the_step_of_the_last_email_sent_before_it(shop: Shop, owner: FlaskClient) -> None:
    shop.first_email("early@example.com")
    order(shop, "early@example.com", 12)  # after the first email; the second comes after the order
    second = second_email(shop, "late@example.com")
    assert len([email for email in shop.emails() if email.recipient == "early@example.com"]) == 2
    with db.new_session(shop.app) as session:  # the late contact's emails went out days ago, before its order
        for email in session.scalars(select(OutboxEmail).where(OutboxEmail.contact_id == second.contact_id)):
            assert email.sent_at is not None
            email.created_at, email.sent_at = email.created_at - timedelta(days=3), email.sent_at - timedelta(days=3)
        session.commit()
    order(shop, "late@example.com", 30)

    stats = shop.stats()
    assert (stats["groups"]["sent"]["conversions"], stats["groups"]["sent"]["revenue"]) == (2, 42)
    assert figures(shop, "steps[0]", "converted", "revenue") == {"converted": 1, "revenue": 12}
    assert figures(shop, "steps[2]", "converted", "revenue") == {"converted": 1, "revenue": 30}
    table = cli(shop.app, "workflows", "stats", shop.site.name, REMINDERS["name"]).output
    assert "steps[2]: 2 emails, 2 delivered," in table
    assert "1 converted after it as their last email (30.00)" in table

    with db.new_session(shop.app) as session:
        workflow_id = session.scalars(
            select(WorkflowDefinition.id).where(
                WorkflowDefinition.site_id == shop.site.id, WorkflowDefinition.name == REMINDERS["name"]
            )
        ).one()
    page = owner.get(f"/workflows/{workflow_id}").get_data(as_text=True)
    sent = {row[0].rsplit(" ", 1)[1]: row[2:] for row in table_rows(page, "steps") if row[1:2] == ["Sent"]}
    # Entered, waiting, emailed, withheld, delivered, opened, clicked, unsubscribed, converted, revenue: converted
    # counts the runs that passed the step, the note those whose last email before the order was this one.
    assert sent["steps[0]"] == [
        "2",
        "0",
        "2",
        "0",
        "2",
        "0",
        "0",
        "0",
        "2 · 1 after this email",
        "42.00 · 12.00 after this email",
    ]
    assert sent["steps[2]"] == [
        "2",
        "0",
        "2",
        "0",
        "2",
        "0",
        "0",
        "0",
        "1 · 1 after this email",
        "30.00 · 30.00 after this email",
    ]
