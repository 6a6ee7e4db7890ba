"""The outbox: every email written once under its unique key, claimed for delivery, and each attempt recorded."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..automation.claims import lease
from ..automation.states import CartState
from ..models import Cart, OutboxEmail, Run
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


class Feedback(StrEnum):
    """What came back about a sent email, weakest first: a soft bounce (the mailbox may take mail later), a hard
    bounce (it never will), a complaint (its reader marked it as spam). An email keeps the strongest."""

    SOFT_BOUNCE = "soft_bounce"
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"


UNSENT = (OutboxStatus.PENDING, OutboxStatus.HELD)
# The words a user reads for a held email, wherever it is shown: it never left the machine.
HELD_WORDS = "Held: no mail server"
# How long a held email may wait for a mail server and still be sent when released: a cart reminder days late is
# worse than none.
RELEASE_MAX_AGE = timedelta(days=2)


@dataclass(frozen=True)
class Sender:
    """Whom every email is from, and whether emails go out (an SMTP server is set) or are held in the outbox."""

    address: str
    delivers: bool


@lru_cache(maxsize=1024)
def message_domain(address: str) -> str:
    """The domain of the Message-IDs of emails from `address`: its own (read once per address, not for every
    email), so a site with a sender of its own has Message-IDs of its own domain."""
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


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
        "message_id": message_id(key, message_domain(sender_address or sender.address)),
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


def newest_sent(contact_id: int, *columns: Any) -> Select[Any]:
    """`columns` of the newest email sent to the contact (through the outbox's index on contact and creation time):
    the one an unsubscribe, or a bounce naming only the address, is counted against."""
    return (
        select(*columns)
        .where(OutboxEmail.contact_id == contact_id, OutboxEmail.status == OutboxStatus.SENT)
        .order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc())
        .limit(1)
    )


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


def newest_statuses(session: Session, run_ids: list[int]) -> dict[int, str]:
    """The status of each run's newest email (runs that wrote none are left out), through the index on run_id."""
    if not run_ids:
        return {}
    newest = select(func.max(OutboxEmail.id)).where(OutboxEmail.run_id.in_(run_ids)).group_by(OutboxEmail.run_id)
    rows = session.execute(select(OutboxEmail.run_id, OutboxEmail.status).where(OutboxEmail.id.in_(newest)))
    return {run_id: status for run_id, status in rows if run_id is not None}


def feedback_per_step(session: Session, workflow_id: int) -> dict[str, dict[Feedback, int]]:
    """The workflow's emails that bounced for good or drew a complaint, per step path and kind."""
    rows = session.execute(
        select(OutboxEmail.step, OutboxEmail.feedback, func.count())
        .join(Run, Run.id == OutboxEmail.run_id)
        .where(Run.workflow_id == workflow_id, OutboxEmail.feedback.in_((Feedback.HARD_BOUNCE, Feedback.COMPLAINT)))
        .group_by(OutboxEmail.step, OutboxEmail.feedback)
    )
    found: dict[str, dict[Feedback, int]] = {}
    for step, kind, count in rows:
        found.setdefault(step or "", {})[Feedback(str(kind))] = count
    return found


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


@dataclass(frozen=True)
class Release:
    """What releasing the held emails did: how many will be sent, and how many were too late to send."""

    released: int
    stale: int
    changed: int


def held_count(session: Session, site_id: int | None) -> int:
    """The held emails, of one site or of all."""
    query = select(func.count()).select_from(OutboxEmail).where(OutboxEmail.status == OutboxStatus.HELD)
    if site_id is not None:
        query = query.where(OutboxEmail.site_id == site_id)
    return session.scalar(query) or 0


def release_held(session: Session, now: datetime, site_id: int | None, max_age: timedelta | None) -> Release:
    """Make the held emails (of one site, or of all) pending and due now, for the worker's next delivery pass; in
    the caller's transaction. Not sent, but cancelled saying why: an email held longer than `max_age` (None: no
    limit), and a cart's email whose cart has changed since (ordered, deleted, emptied or updated again)."""
    held = [OutboxEmail.status == OutboxStatus.HELD, *([OutboxEmail.site_id == site_id] if site_id else [])]
    changed_carts = select(Cart.id).where(Cart.state != CartState.EMAILED)
    changed = _cancel(
        session, [*held, OutboxEmail.cart_id.in_(changed_carts)], "not sent: its cart changed while it was held"
    )
    stale = 0
    if max_age is not None:
        stale = _cancel(
            session,
            [*held, OutboxEmail.created_at < now - max_age],
            f"not sent: held over {max_age.total_seconds() / 3600:g} hours without a mail server",
        )
    released = _set(session, held, status=OutboxStatus.PENDING, next_attempt_at=now, lease_until=None)
    return Release(released=released, stale=stale, changed=changed)


def _cancel(session: Session, where: list[Any], reason: str) -> int:
    return _set(session, where, status=OutboxStatus.CANCELLED, last_error=reason, next_attempt_at=None)


def _set(session: Session, where: list[Any], **values: Any) -> int:
    """Set `values` on the outbox rows `where` selects; how many rows that was."""
    changed = session.execute(
        update(OutboxEmail)
        .where(*where)
        .values(**values)
        .returning(OutboxEmail.id)
        .execution_options(synchronize_session=False)
    )
    return len(changed.all())
