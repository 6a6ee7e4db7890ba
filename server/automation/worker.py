"""The automation worker: claims due carts, writes each recovery email to the outbox once, delivers it."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Row, Select, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from .. import db
from ..contacts.retention import prune_events
from ..mail.confirmation import confirmation_key, confirmation_url, render_confirmation_email
from ..mail.recovery import RenderedEmail, render_recovery_email
from ..mail.smtp import Email, Mailer, PermanentFailure, TemporaryFailure, message_id, parse_smtp_url
from ..mail.unsubscribe import list_unsubscribe_headers, unsubscribe_url
from ..models import Cart, Contact, OutboxEmail, Site, Workflow, utcnow
from ..sites import email_hosts
from .carts import workflow_of

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

BATCH = 500
MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)
PRUNE_EVERY = timedelta(hours=1)
# The claimed carts and what their emails need of their contacts: plain rows, no objects to track.
_OWNED = (
    select(Cart.id, Cart.site_id, Cart.cycle, Cart.snapshot, Cart.contact_id,
           Contact.email, Contact.email_blacklisted, Contact.confirmed_at, Contact.attributes, Contact.link_nonce)
    .join(Contact, Cart.contact_id == Contact.id)
    .where(Cart.id.in_(bindparam("cart_ids", expanding=True)))
)
# A lane's claimed emails, as plain rows: a lane only sends them and records each attempt.
_CLAIMED_EMAILS = (
    select(*(OutboxEmail.__table__.c[name] for name in (
        "id", "sender", "recipient", "subject", "html", "text", "message_id", "unsubscribe_url", "attempts"
    )))
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
        self.public_url = str(app.config["PUBLIC_URL"])  # SIBYL_PUBLIC_URL: never a request's Host
        self.secret_key = str(app.config["SECRET_KEY"])
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
            owned = session.execute(_OWNED, {"cart_ids": marked}).all()
            last_emailed = last_emailed_at(session, [cart.contact_id for cart in owned])
            sites: dict[int, tuple[Site, Workflow]] = {}
            emails = []
            closed: dict[str, list[int]] = {}
            unconfirmed: dict[str, tuple[Row[Any], Site]] = {}
            for cart in owned:
                if cart.site_id not in sites:
                    sites[cart.site_id] = (session.get_one(Site, cart.site_id), workflow_of(session, cart.site_id))
                site, workflow = sites[cart.site_id]
                reason = withheld(cart, workflow, last_emailed.get(cart.contact_id), now)
                if reason is not None:
                    closed.setdefault(reason, []).append(cart.id)
                    if reason == "unconfirmed":
                        unconfirmed[confirmation_key(cart.contact_id)] = (cart, site)
                    continue
                last_emailed[cart.contact_id] = now
                emails.append(self._recovery_email(cart, site, workflow, now))
            if unconfirmed:
                asked = set(session.scalars(
                    select(OutboxEmail.dedupe_key).where(OutboxEmail.dedupe_key.in_(unconfirmed))
                ))
                emails += [self._confirmation_email(key, cart, site, now) for key, (cart, site) in unconfirmed.items()
                           if key not in asked]
            for reason, cart_ids in closed.items():
                session.execute(update(Cart).where(Cart.id.in_(cart_ids)).values(state="closed", closed_reason=reason))
            if emails:
                session.connection().execute(insert(OutboxEmail.__table__), emails)
            session.commit()
            return len(emails)

    def _recovery_email(self, cart: Row[Any], site: Site, workflow: Workflow, now: datetime) -> dict[str, Any]:
        """The outbox row for this cart cycle (a row of `_OWNED`): rendered now, keyed by cart and cycle."""
        link = unsubscribe_url(self.public_url, self.secret_key, site.id, cart.contact_id, cart.link_nonce)
        rendered = render_recovery_email(
            shop_name=site.name,
            subject=workflow.subject,
            firstname=_firstname(cart),
            cart=cart.snapshot,
            unsubscribe_url=link,
            hosts=email_hosts(site),
        )
        return self._outbox_row(f"cart-{cart.id}-cycle-{cart.cycle}", site, cart, cart.id, rendered, link, now)

    def _confirmation_email(self, key: str, cart: Row[Any], site: Site, now: datetime) -> dict[str, Any]:
        """The one email asking the contact of a confirmed-only workflow (a row of `_OWNED`) to confirm."""
        link = unsubscribe_url(self.public_url, self.secret_key, site.id, cart.contact_id, cart.link_nonce)
        rendered = render_confirmation_email(
            shop_name=site.name,
            firstname=_firstname(cart),
            confirm_url=confirmation_url(self.public_url, self.secret_key, site.id, cart.contact_id, cart.link_nonce),
            unsubscribe_url=link,
        )
        return self._outbox_row(key, site, cart, None, rendered, link, now)

    def _outbox_row(
        self, key: str, site: Site, cart: Row[Any], cart_id: int | None, rendered: RenderedEmail, link: str,
        now: datetime,
    ) -> dict[str, Any]:
        """An outbox row under its unique key, ready for delivery (or held when no SMTP server is set)."""
        return {
            "site_id": site.id,
            "cart_id": cart_id,
            "contact_id": cart.contact_id,
            "dedupe_key": key,
            "message_id": message_id(key, self.domain),
            "sender": self.sender,
            "recipient": cart.email,
            "subject": rendered.subject,
            "html": rendered.html,
            "text": rendered.text,
            "unsubscribe_url": link,
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
        threads = [threading.Thread(target=self._run_lane, args=(lane, lease_until, stop)) for lane in lanes if lane]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(claimed)

    def _run_lane(self, outbox_ids: list[int], lease_until: datetime, stop: threading.Event | None) -> None:
        """A lane's thread: each email's failure is recorded on it, so only the database failing ends a lane early."""
        try:
            self._deliver_lane(outbox_ids, lease_until, stop)
        except Exception:  # its unsent emails go out again once their lease ends
            log.exception("delivery lane stopped early")

    def _deliver_lane(self, outbox_ids: list[int], lease_until: datetime, stop: threading.Event | None) -> None:
        """One connection's share of a pass; a stop releases what it has not sent yet."""
        with db.new_connection(self.app) as connection, Mailer(self.smtp) as mailer:  # type: ignore[arg-type]  # lanes run only with SMTP set
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
        """One attempt, recorded (and committed) before the next email is sent.

        Whatever goes wrong with this one email is its failure, never the lane's: an unforeseen error
        is recorded as a temporary failure (retried with backoff, then failed) on a fresh connection.
        """
        attempts = row.attempts + 1
        outcome: dict[str, Any] = {"attempts": attempts, "lease_until": None}
        try:
            headers = list_unsubscribe_headers(row.unsubscribe_url) if row.unsubscribe_url else {}
            mailer.send(Email(row.sender, row.recipient, row.subject, row.html, row.text, row.message_id, headers))
        except PermanentFailure as error:
            log.warning("outbox email %s failed: %s", row.id, error)
            outcome.update(status="failed", last_error=_error_text(error))
        except Exception as error:  # one email's problem must not end the lane
            failure = error if isinstance(error, TemporaryFailure) else self._unforeseen(mailer, row.id, error)
            outcome["last_error"] = _error_text(failure)
            if attempts >= MAX_ATTEMPTS:
                outcome["status"] = "failed"
            else:
                outcome["next_attempt_at"] = self.clock() + self._backoff(attempts)
        else:
            outcome.update(status="sent", sent_at=self.clock(), last_error=None)
        connection.execute(_RECORD_ATTEMPT, {"outbox_id": row.id, **outcome})
        connection.commit()

    @staticmethod
    def _unforeseen(mailer: Mailer, outbox_id: int, error: Exception) -> TemporaryFailure:
        """An error no rule foresaw: logged with its trace (not the email), and the connection started afresh."""
        log.error("outbox email %s: unexpected %s while sending", outbox_id, type(error).__name__, exc_info=error)
        mailer.close()
        return TemporaryFailure(f"unexpected error while sending: {type(error).__name__}: {error}")

    def _backoff(self, attempts: int) -> timedelta:
        return min(MAX_BACKOFF, timedelta(seconds=self.retry_base * 2 ** (attempts - 1)))


def _error_text(error: Exception) -> str:
    """The failure as stored in `last_error`: printable (a server's reply may hold a NUL, which PostgreSQL refuses)."""
    return "".join(char if char.isprintable() else "\ufffd" for char in str(error))


def _firstname(cart: Row[Any]) -> str | None:
    firstname = (cart.attributes or {}).get("FIRSTNAME")
    return str(firstname) if firstname else None


def withheld(cart: Row[Any], workflow: Workflow, last_email_at: datetime | None, now: datetime) -> str | None:
    """Why the cart's contact (a row of `_OWNED`) gets no recovery email for it (the cart closes), or None."""
    if cart.email is None:
        return "no_email"
    if cart.email_blacklisted:
        return "unsubscribed"
    if workflow.confirmed_only and cart.confirmed_at is None:
        return "unconfirmed"
    if last_email_at is not None and now - last_email_at < timedelta(seconds=workflow.contact_period_seconds):
        return "recently_emailed"
    return None


def last_emailed_at(session: Session, contact_ids: list[int]) -> dict[int, datetime]:
    """When each contact was last sent (or queued) a recovery email; cancelled ones do not count."""
    rows = session.execute(
        select(OutboxEmail.contact_id, func.max(OutboxEmail.created_at))
        .where(
            OutboxEmail.contact_id.in_(set(contact_ids)),
            OutboxEmail.cart_id.is_not(None),
            OutboxEmail.status != "cancelled",
        )
        .group_by(OutboxEmail.contact_id)
    )
    return {contact_id: last for contact_id, last in rows if contact_id is not None}


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
