"""The automation worker: claims due carts, writes each recovery email to the outbox once, delivers it."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parseaddr

from flask import Flask
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from . import db
from .mail import Email, Mailer, PermanentFailure, TemporaryFailure, message_id, parse_smtp_url
from .carts import workflow_of
from .models import Cart, Contact, OutboxEmail, Site, utcnow
from .recovery_email import render_recovery_email

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

LEASE = timedelta(seconds=60)
BATCH = 500
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)


class Worker:
    """One worker; any number may run against the same database."""

    def __init__(self, app: Flask, clock: Clock = utcnow) -> None:
        self.app = app
        self.clock = clock
        self.poll = float(app.config["WORKER_POLL"])
        self.retry_base = float(app.config["SMTP_RETRY"])
        smtp_url = app.config["SMTP_URL"]
        self.smtp = parse_smtp_url(smtp_url) if smtp_url else None
        self.sender = str(app.config["MAIL_FROM"])
        self.domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set; an idle worker waits `poll` seconds between passes."""
        while not stop.is_set():
            try:
                busy = self.run_pass(stop)
            except Exception:  # a failing pass is logged and retried, never fatal to the loop
                log.exception("automation pass failed")
                busy = 0
            if not busy:
                stop.wait(self.poll)

    def run_pass(self, stop: threading.Event | None = None) -> int:
        """Queue the due carts' emails, then deliver what the outbox holds; the number of rows handled."""
        return self.queue_due_carts() + self.deliver(stop)

    def queue_due_carts(self) -> int:
        with db.new_session(self.app) as session:
            now = self.clock()
            claimed = claim_due_carts(session, now)
            queued = sum(self._queue_email(session, cart_id, version, now) for cart_id, version in claimed)
            session.commit()
            return queued

    def _queue_email(self, session: Session, cart_id: int, version: int, now: datetime) -> bool:
        """Re-check the cart, mark it emailed and write its email, in one transaction: a racing update wins."""
        cart = session.get(Cart, cart_id)
        if cart is None or cart.contact_id is None:
            return False
        marked = session.execute(
            update(Cart)
            .where(Cart.id == cart_id, Cart.version == version, Cart.state == "open", Cart.due_at <= now)
            .values(state="emailed", emailed_at=now, due_at=None, lease_until=None, version=version + 1)
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount != 1:
            return False
        contact = session.get(Contact, cart.contact_id)
        site = session.get(Site, cart.site_id)
        assert contact is not None and site is not None
        workflow = workflow_of(session, site.id)
        firstname = (contact.attributes or {}).get("FIRSTNAME")
        rendered = render_recovery_email(
            shop_name=site.name,
            subject=workflow.subject,
            firstname=str(firstname) if firstname else None,
            cart=cart.snapshot,
        )
        key = f"cart-{cart.id}-cycle-{cart.cycle}"
        session.add(
            OutboxEmail(
                site_id=site.id,
                cart_id=cart.id,
                contact_id=contact.id,
                dedupe_key=key,
                message_id=message_id(key, self.domain),
                sender=self.sender,
                recipient=contact.email,
                subject=rendered.subject,
                html=rendered.html,
                text=rendered.text,
                status="pending" if self.smtp else "held",
                next_attempt_at=now if self.smtp else None,
                created_at=now,
            )
        )
        return True

    def deliver(self, stop: threading.Event | None = None) -> int:
        """Send the pending emails over one SMTP connection, marking each before the next."""
        if self.smtp is None:
            return 0
        with db.new_session(self.app) as session:
            claimed = claim_outbox(session, self.clock())
            if not claimed:
                return 0
            with Mailer(self.smtp) as mailer:
                for index, outbox_id in enumerate(claimed):
                    if stop is not None and stop.is_set():
                        release_outbox(session, claimed[index:])
                        break
                    self._send(session, mailer, outbox_id)
            return len(claimed)

    def _send(self, session: Session, mailer: Mailer, outbox_id: int) -> None:
        row = session.get(OutboxEmail, outbox_id)
        if row is None or row.status != "pending":
            return
        row.attempts += 1
        try:
            mailer.send(
                Email(row.sender, row.recipient, row.subject, row.html, row.text, row.message_id)
            )
        except TemporaryFailure as error:
            row.last_error = str(error)
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            else:
                row.next_attempt_at = self.clock() + self._backoff(row.attempts)
        except PermanentFailure as error:
            row.status, row.last_error = "failed", str(error)
        else:
            row.status, row.sent_at, row.last_error = "sent", self.clock(), None
        row.lease_until = None
        session.commit()

    def _backoff(self, attempts: int) -> timedelta:
        return min(MAX_BACKOFF, timedelta(seconds=self.retry_base * 2 ** (attempts - 1)))


def claim_due_carts(session: Session, now: datetime) -> list[tuple[int, int]]:
    """Lease up to BATCH due carts no one else holds; (id, version) of each. Reads due rows only."""
    due = (
        select(Cart.id)
        .where(Cart.due_at <= now, or_(Cart.lease_until.is_(None), Cart.lease_until < now))
        .order_by(Cart.due_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(Cart)
        .where(Cart.id.in_(due.scalar_subquery()))
        .values(lease_until=now + LEASE)
        .returning(Cart.id, Cart.version)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return [(row.id, row.version) for row in rows]


def claim_outbox(session: Session, now: datetime) -> list[int]:
    """Lease up to BATCH pending emails whose next attempt is due."""
    ready = (
        select(OutboxEmail.id)
        .where(
            OutboxEmail.status == "pending",
            OutboxEmail.next_attempt_at <= now,
            or_(OutboxEmail.lease_until.is_(None), OutboxEmail.lease_until < now),
        )
        .order_by(OutboxEmail.next_attempt_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(ready.scalar_subquery()))
        .values(lease_until=now + LEASE)
        .returning(OutboxEmail.id)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted(row.id for row in rows)


def release_outbox(session: Session, outbox_ids: list[int]) -> None:
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(outbox_ids))
        .values(lease_until=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


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
