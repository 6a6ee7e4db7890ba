"""The outbox: every email written once under its unique key, claimed for delivery, and each attempt recorded."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..automation.claims import lease
from ..models import OutboxEmail
from .render import RenderedEmail
from .smtp import message_id

_OUTBOX = OutboxEmail.__table__
# A lane's claimed emails, as plain rows: a lane only sends them and records each attempt.
_CLAIMED_EMAILS = (
    select(
        *(
            _OUTBOX.c[name]
            for name in (
                "id",
                "sender",
                "recipient",
                "subject",
                "html",
                "text",
                "message_id",
                "unsubscribe_url",
                "attempts",
            )
        )
    )
    .where(_OUTBOX.c.id.in_(bindparam("outbox_ids", expanding=True)))
    .order_by(_OUTBOX.c.id)
)
# An attempt's outcome (the columns set are the parameters given): built once, as it runs once per email.
_RECORD_ATTEMPT = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("outbox_id"))


class OutboxStatus(StrEnum):
    """Pending until sent or failed for good; held while no SMTP server is set; cancelled by an unsubscribe."""

    PENDING = "pending"
    HELD = "held"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


UNSENT = (OutboxStatus.PENDING, OutboxStatus.HELD)


@dataclass(frozen=True)
class Sender:
    """Whom every email is from, and whether emails go out (an SMTP server is set) or are held in the outbox."""

    address: str
    delivers: bool

    @cached_property
    def domain(self) -> str:
        """The domain of the Message-IDs: the sender's own (read once, not for every email)."""
        return parseaddr(self.address)[1].rpartition("@")[2] or "localhost"


def outbox_row(
    sender: Sender,
    key: str,
    *,
    site_id: int,
    cart_id: int | None,
    contact_id: int | None,
    recipient: str,
    rendered: RenderedEmail,
    unsubscribe_url: str,
    now: datetime,
    run_id: int | None = None,
    step: str | None = None,
    transactional: bool = False,
    template: tuple[str, int] | None = None,
    failure: str | None = None,
    sender_address: str | None = None,
) -> dict[str, Any]:
    """An outbox row under its unique key, its Message-ID derived from it: ready for delivery, or held; or, with a
    `failure` (a template that could not be rendered), failed for good at once, saying why. `template`: the name
    and version it was written from; `sender_address`: the shop's own From, instead of the server's. A test email
    from the dashboard has no contact, run or cart."""
    status = OutboxStatus.PENDING if sender.delivers else OutboxStatus.HELD
    return {
        "site_id": site_id,
        "cart_id": cart_id,
        "run_id": run_id,
        "step": step,
        "transactional": transactional,
        "contact_id": contact_id,
        "dedupe_key": key,
        "message_id": message_id(key, sender.domain),
        "sender": sender_address or sender.address,
        "recipient": recipient,
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
        "unsubscribe_url": unsubscribe_url,
        "status": OutboxStatus.FAILED if failure else status,
        "attempts": 0,
        "last_error": failure,
        "next_attempt_at": now if sender.delivers and not failure else None,
        "created_at": now,
        "template": template[0] if template else None,
        "template_version": template[1] if template else None,
    }


def queue(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write the rows (of `outbox_row`) in the caller's transaction: a key written twice fails it."""
    if rows:
        session.connection().execute(insert(_OUTBOX), rows)


def already_queued(session: Session, keys: Collection[str]) -> set[str]:
    """Those of the keys an email was ever written under."""
    if not keys:
        return set()
    return set(session.scalars(select(OutboxEmail.dedupe_key).where(OutboxEmail.dedupe_key.in_(keys))))


def last_emailed_at(session: Session, contact_ids: list[int]) -> dict[int, datetime]:
    """When each contact was last sent (or queued) an automation email that counts towards the site's email period:
    a cart's or a workflow step's, not a transactional one; cancelled ones do not count."""
    rows = session.execute(
        select(OutboxEmail.contact_id, func.max(OutboxEmail.created_at))
        .where(
            OutboxEmail.contact_id.in_(set(contact_ids)),
            or_(OutboxEmail.cart_id.is_not(None), OutboxEmail.run_id.is_not(None)),
            OutboxEmail.transactional.is_(False),
            OutboxEmail.status != OutboxStatus.CANCELLED,
        )
        .group_by(OutboxEmail.contact_id)
    )
    return {contact_id: last for contact_id, last in rows if contact_id is not None}


def cancel_unsent(session: Session, contact_id: int, reason: str) -> None:
    """Cancel the contact's emails not sent yet, with the reason as their last error."""
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.contact_id == contact_id, OutboxEmail.status.in_(UNSENT))
        .values(status=OutboxStatus.CANCELLED, last_error=reason, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


def claim_outbox(session: Session, now: datetime, lease_until: datetime) -> list[int]:
    """Lease the pending emails whose next attempt is due and that no one holds."""
    free = or_(OutboxEmail.lease_until.is_(None), OutboxEmail.lease_until < now)
    ready = (
        select(OutboxEmail.id)
        .where(OutboxEmail.status == OutboxStatus.PENDING, OutboxEmail.next_attempt_at <= now, free)
        .order_by(OutboxEmail.next_attempt_at)
    )
    return sorted(row.id for row in lease(session, OutboxEmail, ready, lease_until, OutboxEmail.id))


def claimed_emails(connection: Connection, outbox_ids: list[int]) -> list[Row[Any]]:
    """What sending the claimed emails takes, in the order of their ids."""
    return list(connection.execute(_CLAIMED_EMAILS, {"outbox_ids": outbox_ids}).all())


def renew_lease(connection: Connection, outbox_ids: list[int], lease_until: datetime, until: datetime) -> set[int]:
    """Move the lease of those emails still pending under `lease_until` to `until`; the ids renewed."""
    renewed = connection.execute(
        update(_OUTBOX)
        .where(
            _OUTBOX.c.id.in_(outbox_ids), _OUTBOX.c.status == OutboxStatus.PENDING, _OUTBOX.c.lease_until == lease_until
        )
        .values(lease_until=until)
        .returning(_OUTBOX.c.id)
    )
    ours = set(renewed.scalars())
    connection.commit()
    return ours


def release_outbox(connection: Connection, outbox_ids: list[int]) -> None:
    """Give the emails back at once, for any worker's next pass."""
    connection.execute(update(OutboxEmail).where(OutboxEmail.id.in_(outbox_ids)).values(lease_until=None))
    connection.commit()


def record_attempt(connection: Connection, outbox_id: int, outcome: dict[str, Any]) -> None:
    """Store an attempt's outcome (the columns it sets) and commit it, before the next email is sent."""
    connection.execute(_RECORD_ATTEMPT, {"outbox_id": outbox_id, **outcome})
    connection.commit()
