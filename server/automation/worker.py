"""The automation worker: claims due carts and due workflow runs, decides each one, writes its emails to the outbox
once, delivers them."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from .. import db
from ..commerce.cart_items import readable_cart
from ..contacts.retention import prune_events
from ..mail.confirmation import confirmation_context, confirmation_key, confirmation_url
from ..mail.delivery import Delivery
from ..mail.outbox import Sender, already_queued, last_emailed_at, outbox_row, queue
from ..mail.recovery import recovery_context
from ..mail.render import RenderedEmail, render
from ..mail.smtp import parse_smtp_url
from ..mail.unsubscribe import unsubscribe_url
from ..models import Cart, Contact, Site, Workflow, utcnow
from ..sites import email_hosts
from .carts import workflow_of
from .claims import claim_due_carts, close_withheld, mark_emailed, take_unchanged
from .decisions import decide
from .runner import Mailer, RunPass, claim_due_runs
from .states import CloseReason

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

PRUNE_EVERY = timedelta(hours=1)
# The taken carts and what their emails need of their contacts: plain rows, no objects to track.
_OWNED = (
    select(
        Cart.id,
        Cart.site_id,
        Cart.cycle,
        Cart.snapshot,
        Cart.contact_id,
        Contact.email,
        Contact.email_blacklisted,
        Contact.confirmed_at,
        Contact.attributes,
        Contact.link_nonce,
    )
    .join(Contact, Cart.contact_id == Contact.id)
    .where(Cart.id.in_(bindparam("cart_ids", expanding=True)))
)


class Worker:
    """One worker; any number may run against the same database."""

    def __init__(self, app: Flask, clock: Clock = utcnow) -> None:
        self.app = app
        self.clock = clock
        self.public_url = str(app.config["PUBLIC_URL"])  # SIBYL_PUBLIC_URL: never a request's Host
        self.secret_key = str(app.config["SECRET_KEY"])
        self.poll = float(app.config["WORKER_POLL"])
        self.lease = timedelta(seconds=float(app.config["WORKER_LEASE"]))
        retention = app.config["RETENTION"]
        self.retention = timedelta(seconds=retention) if retention else None
        self.pruned_at: datetime | None = None
        smtp_url = app.config["SMTP_URL"]
        smtp = parse_smtp_url(smtp_url) if smtp_url else None
        self.sender = Sender(str(app.config["MAIL_FROM"]), delivers=smtp is not None)
        self.mailer = Mailer(self.sender, self.public_url, self.secret_key)
        self.delivery = (
            Delivery(
                app,
                clock,
                smtp,
                connections=int(app.config["SMTP_CONNECTIONS"]),
                lease=self.lease,
                retry_base=float(app.config["SMTP_RETRY"]),
            )
            if smtp is not None
            else None
        )

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
        """Queue the due carts' and runs' emails, then deliver what the outbox holds; the number of rows handled."""
        return self.queue_due_carts() + self.advance_due_runs() + self.deliver(stop)

    def advance_due_runs(self) -> int:
        """Claim the due runs; in one transaction advance those unchanged since through the steps due now, write
        their emails and their new positions. The number of runs advanced."""
        with db.new_session(self.app) as session:
            now = self.clock()
            claimed = claim_due_runs(session, now, self.lease)
            if not claimed:
                return 0
            RunPass(session, self.mailer, now).handle(claimed)
            session.commit()
            return len(claimed)

    def queue_due_carts(self) -> int:
        """Claim the due carts; in one transaction take those unchanged since, decide each, write the emails,
        mark emailed the carts whose email was written and close the others with the reason it was withheld."""
        with db.new_session(self.app) as session:
            now = self.clock()
            taken = take_unchanged(session, claim_due_carts(session, now, self.lease), now)
            if not taken:
                return 0
            owned = session.execute(_OWNED, {"cart_ids": taken}).all()
            sites = _Sites(session)
            last_emailed = last_emailed_at(session, [cart.contact_id for cart in owned])
            decisions = decide(owned, sites.workflow, last_emailed, now)
            emailed = [cart for cart, reason in decisions if reason is None]
            withheld: defaultdict[CloseReason, list[int]] = defaultdict(list)
            for cart, reason in decisions:
                if reason is not None:
                    withheld[reason].append(cart.id)
            unconfirmed = {
                confirmation_key(cart.contact_id): cart
                for cart, reason in decisions
                if reason is CloseReason.UNCONFIRMED
            }
            asked = already_queued(session, unconfirmed)
            emails = [
                self._recovery_email(session, cart, sites.site(cart.site_id), sites.workflow(cart.site_id), now)
                for cart in emailed
            ]
            emails += [
                self._confirmation_email(key, cart, sites.site(cart.site_id), now)
                for key, cart in unconfirmed.items()
                if key not in asked
            ]
            mark_emailed(session, [cart.id for cart in emailed], now)
            for reason, cart_ids in withheld.items():
                close_withheld(session, cart_ids, reason)
            queue(session, emails)
            session.commit()
            return len(emails)

    def _recovery_email(
        self, session: Session, cart: Row[Any], site: Site, workflow: Workflow, now: datetime
    ) -> dict[str, Any]:
        """The outbox row for this cart cycle (a row of `_OWNED`): rendered now, its lines completed from the
        site's catalogue, keyed by cart and cycle."""
        link = unsubscribe_url(self.public_url, self.secret_key, site.id, cart.contact_id, cart.link_nonce)
        rendered = render(
            "recovery",
            recovery_context(
                shop_name=site.name,
                subject=workflow.subject,
                firstname=_firstname(cart),
                cart=readable_cart(session, site.id, cart.snapshot),
                unsubscribe_url=link,
                hosts=email_hosts(site),
            ),
        )
        return self._outbox_row(f"cart-{cart.id}-cycle-{cart.cycle}", site, cart, cart.id, rendered, link, now)

    def _confirmation_email(self, key: str, cart: Row[Any], site: Site, now: datetime) -> dict[str, Any]:
        """The one email asking the contact of a confirmed-only workflow (a row of `_OWNED`) to confirm."""
        link = unsubscribe_url(self.public_url, self.secret_key, site.id, cart.contact_id, cart.link_nonce)
        rendered = render(
            "confirmation",
            confirmation_context(
                shop_name=site.name,
                firstname=_firstname(cart),
                confirm_url=confirmation_url(
                    self.public_url, self.secret_key, site.id, cart.contact_id, cart.link_nonce
                ),
                unsubscribe_url=link,
            ),
        )
        return self._outbox_row(key, site, cart, None, rendered, link, now)

    def _outbox_row(
        self,
        key: str,
        site: Site,
        cart: Row[Any],
        cart_id: int | None,
        rendered: RenderedEmail,
        link: str,
        now: datetime,
    ) -> dict[str, Any]:
        return outbox_row(
            self.sender,
            key,
            site_id=site.id,
            cart_id=cart_id,
            contact_id=cart.contact_id,
            recipient=cart.email,
            rendered=rendered,
            unsubscribe_url=link,
            now=now,
        )

    def deliver(self, stop: threading.Event | None = None) -> int:
        """Send the pending emails (none without an SMTP server: they stay held in the outbox)."""
        return self.delivery.deliver(stop) if self.delivery is not None else 0


class _Sites:
    """The sites and workflows of one pass's carts, each read once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._sites: dict[int, Site] = {}
        self._workflows: dict[int, Workflow] = {}

    def site(self, site_id: int) -> Site:
        if site_id not in self._sites:
            self._sites[site_id] = self.session.get_one(Site, site_id)
        return self._sites[site_id]

    def workflow(self, site_id: int) -> Workflow:
        if site_id not in self._workflows:
            self._workflows[site_id] = workflow_of(self.session, site_id)
        return self._workflows[site_id]


def _firstname(cart: Row[Any]) -> str | None:
    firstname = (cart.attributes or {}).get("FIRSTNAME")
    return str(firstname) if firstname else None


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
