"""Delivery: the pending outbox over a few SMTP connections at once, each attempt recorded before the next."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Row

from .. import db
from .bounce_address import BounceAddresses
from .dkim import DkimSigner
from .outbox import OutboxStatus, claim_outbox, claimed_emails, record_attempt, release_outbox, renew_lease
from .smtp import Email, Mailer, PermanentFailure, SmtpSettings, TemporaryFailure
from .unsubscribe import list_unsubscribe_headers

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF = timedelta(hours=1)


class Delivery:
    """Sends what the outbox holds: one lane (thread and connection) per SMTP connection, leased like carts."""

    def __init__(
        self,
        app: Flask,
        clock: Callable[[], datetime],
        smtp: SmtpSettings,
        *,
        connections: int,
        lease: timedelta,
        retry_base: float,
        dkim: DkimSigner | None = None,
        bounces: BounceAddresses | None = None,
    ) -> None:
        self.app = app
        self.clock = clock
        self.smtp = smtp
        self.connections = connections
        self.lease = lease
        self.retry_base = retry_base
        self.dkim = dkim
        self.bounces = bounces

    def deliver(self, stop: threading.Event | None = None) -> int:
        """Send the pending emails over a few SMTP connections at once, each marked before its next."""
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
        with db.new_connection(self.app) as connection, Mailer(self.smtp, dkim=self.dkim) as mailer:
            rows = claimed_emails(connection, outbox_ids)
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
        renewed_until = self.clock() + self.lease
        return renewed_until, renew_lease(connection, outbox_ids, lease_until, renewed_until)

    def _send(self, connection: Connection, mailer: Mailer, row: Row[Any]) -> None:
        """One attempt, recorded (and committed) before the next email is sent.

        Whatever goes wrong with this one email is its failure, never the lane's: an unforeseen error
        is recorded as a temporary failure (retried with backoff, then failed) on a fresh connection.
        """
        attempts = row.attempts + 1
        outcome: dict[str, Any] = {"attempts": attempts, "lease_until": None}
        try:
            headers = list_unsubscribe_headers(row.unsubscribe_url) if row.unsubscribe_url else {}
            bounce_to = self.bounces.for_email(row.id) if self.bounces is not None else None
            mailer.send(
                Email(row.sender, row.recipient, row.subject, row.html, row.text, row.message_id, headers, bounce_to)
            )
        except PermanentFailure as error:
            log.warning("outbox email %s failed: %s", row.id, error)
            outcome.update(status=OutboxStatus.FAILED, last_error=_error_text(error))
        except Exception as error:  # one email's problem must not end the lane
            failure = error if isinstance(error, TemporaryFailure) else self._unforeseen(mailer, row.id, error)
            outcome["last_error"] = _error_text(failure)
            if attempts >= MAX_ATTEMPTS:
                outcome["status"] = OutboxStatus.FAILED
            else:
                outcome["next_attempt_at"] = self.clock() + self._backoff(attempts)
        else:
            outcome.update(status=OutboxStatus.SENT, sent_at=self.clock(), last_error=None)
        record_attempt(connection, row.id, outcome)

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
