"""The automation worker: claims due carts, writes each recovery email to the outbox once, delivers it."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Row, Select, bindparam, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from . import db
from .carts import workflow_of
from .mail import Email, Mailer, PermanentFailure, TemporaryFailure, message_id, parse_smtp_url
from .models import Cart, Contact, OutboxEmail, Site, Workflow, utcnow
from .recovery_email import render_recovery_email
from .retention import prune_events

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

BATCH = 500
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
PRUNE_EVERY = timedelta(hours=1)
# The claimed carts and what their emails need of their contacts: plain rows, no objects to track.
_OWNED = (
    select(Cart.id, Cart.site_id, Cart.cycle, Cart.snapshot, Cart.contact_id, Contact.email, Contact.email_blacklisted, Contact.attributes)
    .join(Contact, Cart.contact_id == Contact.id)
    .where(Cart.id.in_(bindparam("cart_ids", expanding=True)))
)
# A lane's claimed emails, as plain rows: a lane only sends them and records each attempt.
_CLAIMED_EMAILS = (
    select(*(OutboxEmail.__table__.c[name] for name in ("id", "sender", "recipient", "subject", "html", "text", "message_id", "attempts")))
    .where(OutboxEmail.__table__.c.id.in_(bindparam("outbox_ids", expanding=True)))
    .order_by(OutboxEmail.__table__.c.id)
)
# An attempt's outcome (the columns set are the parameters given): built once, as it runs once per email.
_RECORD_ATTEMPT = update(OutboxEmail.__table__).where(OutboxEmail.__table__.c.id == bindparam("outbox_id"))


class Worker:
    """One worker; any number may run against the same database."""

    def __init__(self, app: Flask, clock: Clock = utcnow) -> None:
        self.app = app
        self.clock = clock
        self.poll = float(app.config["WORKER_POLL"])
        self.retry_base = float(app.config["SMTP_RETRY"])
        self.connections = int(app.config["SMTP_CONNECTIONS"])
        self.lease = timedelta(seconds=float(app.config["WORKER_LEASE"]))
        retention = app.config["RETENTION"]
        self.retention = timedelta(seconds=retention) if retention else None
        self.pruned_at: datetime | None = None
        smtp_url = app.config["SMTP_URL"]
        self.smtp = parse_smtp_url(smtp_url) if smtp_url else None
        self.sender = str(app.config["MAIL_FROM"])
        self.domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set; an idle worker waits `poll` seconds between passes."""
        while not stop.is_set():
            try:
                self.prune_when_due()
                busy = self.run_pass(stop)
            except Exception:  # a failing pass is logged and retried, never fatal to the loop
                log.exception("automation pass failed")
                busy = 0
            if not busy:
                stop.wait(self.poll)

    def prune_when_due(self) -> None:
        """With SIBYL_RETENTION set, delete old events about once an hour."""
        now = self.clock()
        if self.retention is None or (self.pruned_at is not None and now - self.pruned_at < PRUNE_EVERY):
            return
        with db.new_session(self.app) as session:
            prune_events(session, now - self.retention)
        self.pruned_at = now

    def run_pass(self, stop: threading.Event | None = None) -> int:
        """Queue the due carts' emails, then deliver what the outbox holds; the number of rows handled."""
        return self.queue_due_carts() + self.deliver(stop)

    def queue_due_carts(self) -> int:
        """Claim the due carts, mark the unchanged ones emailed and write their emails, in one transaction."""
        with db.new_session(self.app) as session:
            now = self.clock()
            marked = mark_emailed(session, claim_due_carts(session, now, self.lease), now)
            if not marked:
                return 0
            sites: dict[int, tuple[Site, Workflow]] = {}
            emails = []
            closed: dict[str, list[int]] = {}
            for cart in session.execute(_OWNED, {"cart_ids": marked}).all():
                if cart.email is None or cart.email_blacklisted:
                    closed.setdefault("unsubscribed" if cart.email else "no_email", []).append(cart.id)
                    continue
                if cart.site_id not in sites:
                    sites[cart.site_id] = (session.get_one(Site, cart.site_id), workflow_of(session, cart.site_id))
                emails.append(self._recovery_email(cart, *sites[cart.site_id], now))
            for reason, cart_ids in closed.items():
                session.execute(update(Cart).where(Cart.id.in_(cart_ids)).values(state="closed", closed_reason=reason))
            if emails:
                session.connection().execute(insert(OutboxEmail.__table__), emails)
            session.commit()
            return len(emails)

    def _recovery_email(self, cart: Row[Any], site: Site, workflow: Workflow, now: datetime) -> dict[str, Any]:
        """The outbox row for this cart cycle (a row of `_OWNED`): rendered now, keyed by cart and cycle."""
        firstname = (cart.attributes or {}).get("FIRSTNAME")
        rendered = render_recovery_email(
            shop_name=site.name,
            subject=workflow.subject,
            firstname=str(firstname) if firstname else None,
            cart=cart.snapshot,
        )
        key = f"cart-{cart.id}-cycle-{cart.cycle}"
        return {
            "site_id": site.id,
            "cart_id": cart.id,
            "contact_id": cart.contact_id,
            "dedupe_key": key,
            "message_id": message_id(key, self.domain),
            "sender": self.sender,
            "recipient": cart.email,
            "subject": rendered.subject,
            "html": rendered.html,
            "text": rendered.text,
            "status": "pending" if self.smtp else "held",
            "attempts": 0,
            "next_attempt_at": now if self.smtp else None,
            "created_at": now,
        }

    def deliver(self, stop: threading.Event | None = None) -> int:
        """Send the pending emails over a few SMTP connections at once, each marked before its next."""
        if self.smtp is None:
            return 0
        with db.new_session(self.app) as session:
            lease_until = self.clock() + self.lease
            claimed = claim_outbox(session, self.clock(), lease_until)
        lanes = [claimed[lane :: self.connections] for lane in range(self.connections)]
        threads = [threading.Thread(target=self._deliver_lane, args=(lane, lease_until, stop)) for lane in lanes if lane]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(claimed)

    def _deliver_lane(self, outbox_ids: list[int], lease_until: datetime, stop: threading.Event | None) -> None:
        """One connection's share of a pass; a stop releases what it has not sent yet."""
        with db.new_connection(self.app) as connection, Mailer(self.smtp) as mailer:  # type: ignore[arg-type]
            rows = connection.execute(_CLAIMED_EMAILS, {"outbox_ids": outbox_ids}).all()
            ours = set(outbox_ids)
            for index, row in enumerate(rows):
                if stop is not None and stop.is_set():
                    release_outbox(connection, [id_ for id_ in outbox_ids if id_ >= row.id])
                    return
                if self.clock() >= lease_until - self.lease / 2:
                    lease_until, ours = self._renew(connection, [later.id for later in rows[index:]], lease_until)
                if row.id in ours:
                    self._send(connection, mailer, row)

    def _renew(self, connection: Connection, outbox_ids: list[int], lease_until: datetime) -> tuple[datetime, set[int]]:
        """Renew this pass's lease on the emails left while it still has half its length to run.

        Until then no other worker can have taken them, so most emails are sent without a renewal
        of their own; those whose lease lapsed and another worker took are not ours any more.
        """
        outbox = OutboxEmail.__table__
        renewed_until = self.clock() + self.lease
        renewed = connection.execute(
            update(outbox)
            .where(outbox.c.id.in_(outbox_ids), outbox.c.status == "pending", outbox.c.lease_until == lease_until)
            .values(lease_until=renewed_until)
            .returning(outbox.c.id)
        )
        ours = set(renewed.scalars())
        connection.commit()
        return renewed_until, ours

    def _send(self, connection: Connection, mailer: Mailer, row: Row[Any]) -> None:
        """One attempt, recorded (and committed) before the next email is sent."""
        attempts = row.attempts + 1
        outcome: dict[str, Any] = {"attempts": attempts, "lease_until": None}
        try:
            mailer.send(Email(row.sender, row.recipient, row.subject, row.html, row.text, row.message_id))
        except TemporaryFailure as error:
            outcome["last_error"] = str(error)
            if attempts >= MAX_ATTEMPTS:
                outcome["status"] = "failed"
            else:
                outcome["next_attempt_at"] = self.clock() + self._backoff(attempts)
        except PermanentFailure as error:
            outcome.update(status="failed", last_error=str(error))
        else:
            outcome.update(status="sent", sent_at=self.clock(), last_error=None)
        connection.execute(_RECORD_ATTEMPT, {"outbox_id": row.id, **outcome})
        connection.commit()

    def _backoff(self, attempts: int) -> timedelta:
        return min(MAX_BACKOFF, timedelta(seconds=self.retry_base * 2 ** (attempts - 1)))


def mark_emailed(session: Session, claimed: list[tuple[int, int]], now: datetime) -> list[int]:
    """Of the claimed (id, version) pairs, mark emailed those still open, due and unchanged.

    A cart updated or cancelled since the claim has another version or state: the update wins.
    """
    if not claimed:
        return []
    rows = session.execute(
        update(Cart)
        .where(tuple_(Cart.id, Cart.version).in_(claimed), Cart.state == "open", Cart.due_at <= now)
        .values(state="emailed", emailed_at=now, due_at=None, lease_until=None, version=Cart.version + 1)
        .returning(Cart.id)
        .execution_options(synchronize_session=False)
    ).all()
    return [row.id for row in rows]


def lease(
    session: Session, model: type[Cart] | type[OutboxEmail], ready: Select[Any], until: datetime, *returning: Any
) -> list[Any]:
    """Lease up to BATCH of the rows `ready` selects until `until`, skipping rows another worker has locked."""
    claimable = ready.limit(BATCH).with_for_update(skip_locked=True).scalar_subquery()
    rows = session.execute(
        update(model)
        .where(model.id.in_(claimable))
        .values(lease_until=until)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return list(rows)


def claim_due_carts(session: Session, now: datetime, lease_for: timedelta) -> list[tuple[int, int]]:
    """Lease the due carts no one holds; (id, version) of each. Reads due rows only, through the deadline index."""
    free = or_(Cart.lease_until.is_(None), Cart.lease_until < now)
    ready = select(Cart.id).where(Cart.due_at <= now, free).order_by(Cart.due_at)
    return [(row.id, row.version) for row in lease(session, Cart, ready, now + lease_for, Cart.id, Cart.version)]


def claim_outbox(session: Session, now: datetime, lease_until: datetime) -> list[int]:
    """Lease the pending emails whose next attempt is due and that no one holds."""
    free = or_(OutboxEmail.lease_until.is_(None), OutboxEmail.lease_until < now)
    ready = (
        select(OutboxEmail.id)
        .where(OutboxEmail.status == "pending", OutboxEmail.next_attempt_at <= now, free)
        .order_by(OutboxEmail.next_attempt_at)
    )
    return sorted(row.id for row in lease(session, OutboxEmail, ready, lease_until, OutboxEmail.id))


def release_outbox(connection: Connection, outbox_ids: list[int]) -> None:
    connection.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(outbox_ids))
        .values(lease_until=None)
    )
    connection.commit()


def start_inline(app: Flask) -> None:
    """With SIBYL_WORKER=inline, the web process runs a worker thread, started by its first request."""
    lock = threading.Lock()
    started: list[threading.Thread] = []

    @app.before_request
    def _start_worker() -> None:
        if started:
            return
        with lock:
            if not started:
                thread = threading.Thread(
                    target=Worker(app).run, args=(threading.Event(),), name="sibyl-worker", daemon=True
                )
                thread.start()
                started.append(thread)
