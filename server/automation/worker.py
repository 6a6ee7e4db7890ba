"""The automation worker: claims due workflow runs, advances them (writing each email once to the outbox), delivers
the outbox, makes the coming months of events and prunes old ones when asked to, and says it is alive (its
heartbeat row)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask

from .. import db
from ..contacts.retention import prune_events
from ..ingest import partitions
from ..mail.bounce_address import BounceAddresses
from ..mail.delivery import Delivery
from ..mail.dkim import configured_signer
from ..mail.outbox import Sender
from ..mail.smtp import parse_smtp_url
from ..models import utcnow
from .heartbeats import Heartbeat
from .runner import Mailer, RunPass, claim_due_runs

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

TEND_EVERY = timedelta(hours=1)
INLINE_THREAD = "sibyl-worker"  # the name of the web process's worker thread (SIBYL_WORKER=inline)


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
        self.tended_at: datetime | None = None
        smtp_url = app.config["SMTP_URL"]
        smtp = parse_smtp_url(smtp_url) if smtp_url else None
        self.sender = Sender(str(app.config["MAIL_FROM"]), delivers=smtp is not None)
        self.mailer = Mailer(self.sender, self.public_url, self.secret_key)
        dkim = configured_signer(app.config)
        bounces = BounceAddresses.of(app.config)
        self.heartbeat = Heartbeat(delivers=smtp is not None, started_at=clock())
        self.delivery = (
            Delivery(
                app,
                clock,
                smtp,
                connections=int(app.config["SMTP_CONNECTIONS"]),
                lease=self.lease,
                retry_base=float(app.config["SMTP_RETRY"]),
                dkim=dkim,
                bounces=bounces if bounces.address else None,
            )
            if smtp is not None
            else None
        )

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set; an idle worker waits `poll` seconds between passes."""
        while not stop.is_set():
            try:
                self.tend_events_when_due()
                busy = self.run_pass(stop)
            except Exception:  # a failing pass is logged and retried, never fatal to the loop
                log.exception("automation pass failed")
                busy = 0
            if not busy:
                stop.wait(self.poll)

    def tend_events_when_due(self) -> None:
        """About once an hour: the coming months of events made (where kept by month) and, with SIBYL_RETENTION
        set, old events deleted."""
        now = self.clock()
        if self.tended_at is not None and now - self.tended_at < TEND_EVERY:
            return
        with db.new_session(self.app) as session:
            if partitions.partitioned(session.connection()):
                partitions.make_months_ahead(session.connection(), now)
                session.commit()
            if self.retention is not None:
                prune_events(session, now - self.retention)
        self.tended_at = now

    def run_pass(self, stop: threading.Event | None = None) -> int:
        """Say this worker is alive (at most every few seconds), advance the due runs (writing their emails), then
        deliver what the outbox holds; the rows handled."""
        self.beat_when_due()
        return self.advance_due_runs() + self.deliver(stop)

    def beat_when_due(self) -> None:
        """Write this worker's heartbeat row, unless it was written within the last few seconds."""
        now = self.clock()
        if self.heartbeat.due(now):
            with db.new_connection(self.app) as connection:
                self.heartbeat.beat(connection, now)

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

    def deliver(self, stop: threading.Event | None = None) -> int:
        """Send the pending emails (none without an SMTP server: they stay held in the outbox)."""
        return self.delivery.deliver(stop) if self.delivery is not None else 0


def start_inline(app: Flask) -> None:
    """With SIBYL_WORKER=inline, the web process runs a worker thread, started by its first request (the worker is
    made at once, so that a setting it cannot use, such as an unreadable DKIM key, stops the app from starting)."""
    lock = threading.Lock()
    started: list[threading.Thread] = []
    inline = Worker(app)

    @app.before_request
    def _start_worker() -> None:
        if started:
            return
        with lock:
            if not started:
                inline.beat_when_due()  # before this first request's page can ask whether a worker is alive
                thread = threading.Thread(target=inline.run, args=(threading.Event(),), name=INLINE_THREAD, daemon=True)
                thread.start()
                started.append(thread)
