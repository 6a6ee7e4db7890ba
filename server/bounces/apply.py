"""Applying a bounce or complaint report: the email it names marked, the report kept once, the contact blacklisted
for a hard bounce, a complaint or too many soft bounces (its runs end, nothing more is sent to it), and the
`email_bounced` or `email_complained` event on the contact's timeline through the ingest path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..contacts.addresses import InvalidAddress, email_address
from ..contacts.identity import contact_by_email
from ..db import insert_for
from ..ingest.pipeline import IncomingEvent, ingest
from ..mail.bounce_address import BounceAddresses
from ..mail.outbox import Feedback, newest_sent
from ..mail.unsubscribe import BlacklistReason, unsubscribe
from ..models import Contact, FeedbackReport, OutboxEmail, Run, Site, WorkflowDefinition, utcnow
from .reports import Report

# Soft bounces (a full mailbox, a server down for days) are the receiving side's passing trouble, retried by the
# mail system that sent; past this many for one contact within the window, the address is treated as dead.
SOFT_BOUNCE_LIMIT = 3
SOFT_BOUNCE_WINDOW = timedelta(days=7)
_STRENGTH = {None: 0, Feedback.SOFT_BOUNCE: 1, Feedback.HARD_BOUNCE: 2, Feedback.COMPLAINT: 3}
_BLACKLISTS = {Feedback.HARD_BOUNCE: BlacklistReason.HARD_BOUNCE, Feedback.COMPLAINT: BlacklistReason.COMPLAINT}
_REPORTS = FeedbackReport.__table__


class Outcome(StrEnum):
    """What applying a report did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # the same report was applied before
    UNMATCHED = "unmatched"  # it names no email and no contact this server knows


@dataclass(frozen=True)
class Target:
    """What a report is about: the site, the email when known, and the contact when known."""

    site: Site
    email: OutboxEmail | None
    contact_id: int | None


def find_target(
    session: Session, report: Report, addresses: BounceAddresses | None, site: Site | None = None
) -> Target | None:
    """The email the report names: by the token in the address it came back to, else by the returned Message-ID;
    failing both, and only within a known `site` (a relay's webhook), the newest email sent to the recipient's
    address, or at least that address's contact. Emails of another site than `site` are not this report's."""
    email = _email_by_token(session, report, addresses, site) or _email_by_message_id(session, report, site)
    if email is not None:
        return Target(session.get_one(Site, email.site_id), email, email.contact_id)
    if site is None:
        return None
    contact = _contact_by_address(session, site, report.recipient)
    if contact is None:
        return None
    return Target(site, session.scalar(newest_sent(contact.id, OutboxEmail)), contact.id)


def apply_report(
    session: Session,
    report: Report,
    addresses: BounceAddresses | None,
    site: Site | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Apply the report once, committed; applying it again changes nothing."""
    target = find_target(session, report, addresses, site)
    if target is None:
        return Outcome.UNMATCHED
    known = select(FeedbackReport.id).where(
        FeedbackReport.site_id == target.site.id, FeedbackReport.report_key == report.key
    )
    if session.scalar(known) is not None:
        return Outcome.DUPLICATE
    moment = now or utcnow()

    def write(session: Session) -> None:
        _record(session, report, target, moment)

    if target.contact_id is None:  # an email with no contact (a dashboard test email): nothing on a timeline
        write(session)
        session.commit()
    else:
        ingest(session, target.site, [_timeline_event(session, report, target, moment)], also=write, now=moment)
    return Outcome.APPLIED


def _record(session: Session, report: Report, target: Target, now: datetime) -> None:
    """Keep the report (once per site: a second copy stops here), mark its email, and blacklist its contact when due."""
    insert = insert_for(session.connection().dialect.name)(_REPORTS)
    kept = session.execute(
        insert.values(
            report_key=report.key,
            site_id=target.site.id,
            outbox_id=target.email.id if target.email else None,
            contact_id=target.contact_id,
            kind=report.kind,
            source=report.source,
            status=report.status,
            detail=report.detail,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["site_id", "report_key"])
        .returning(_REPORTS.c.id)
    ).scalar()
    if kept is None:
        return
    if target.email is not None:
        email = session.get_one(OutboxEmail, target.email.id)
        if _STRENGTH[report.kind] > _STRENGTH[Feedback(email.feedback) if email.feedback else None]:
            email.feedback = report.kind
        email.feedback_at = now
        if report.kind is Feedback.SOFT_BOUNCE:
            email.soft_bounces += 1
    if target.contact_id is not None:
        contact = session.get_one(Contact, target.contact_id)
        reason = _BLACKLISTS.get(report.kind)
        if reason is None and _soft_bounces(session, contact.id, now) >= SOFT_BOUNCE_LIMIT:
            reason = BlacklistReason.SOFT_BOUNCES
        if reason is not None and not contact.email_blacklisted:
            unsubscribe(session, contact, reason)
        elif reason is not None and contact.email_blacklist_reason is None:
            contact.email_blacklist_reason = reason
    session.flush()


def _soft_bounces(session: Session, contact_id: int, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(FeedbackReport)
            .where(
                FeedbackReport.contact_id == contact_id,
                FeedbackReport.kind == Feedback.SOFT_BOUNCE,
                FeedbackReport.received_at > now - SOFT_BOUNCE_WINDOW,
            )
        )
        or 0
    )


def _timeline_event(session: Session, report: Report, target: Target, now: datetime) -> IncomingEvent:
    """`email_bounced` or `email_complained` for the contact, under a message id made from the report's key (a
    report applied twice is one event). Not vouched: a bounce says nothing of who the contact is."""
    properties: dict[str, Any] = {"source": str(report.source)}
    if report.bounced:
        properties["type"] = "soft" if report.kind is Feedback.SOFT_BOUNCE else "hard"
    if report.status:
        properties["status"] = report.status
    if report.detail:
        properties["reason"] = report.detail
    email = target.email
    if email is not None:
        properties["email_id"] = email.id
        properties["subject"] = email.subject
        if email.run_id is not None:
            workflow = session.scalar(
                select(WorkflowDefinition.name)
                .join(Run, Run.workflow_id == WorkflowDefinition.id)
                .where(Run.id == email.run_id)
            )
            properties |= {"workflow": workflow, "step": email.step}
    return IncomingEvent(
        message_id=f"feedback-{report.key}",
        kind="track",
        name="email_bounced" if report.bounced else "email_complained",
        occurred_at=now,
        contact_id=target.contact_id,
        properties=properties,
    )


def _email_by_token(
    session: Session, report: Report, addresses: BounceAddresses | None, site: Site | None
) -> OutboxEmail | None:
    if addresses is None:
        return None
    for address in report.token_addresses:
        outbox_id = addresses.outbox_id(address)
        email = session.get(OutboxEmail, outbox_id) if outbox_id is not None else None
        if email is not None and (site is None or email.site_id == site.id):
            return email
    return None


def _email_by_message_id(session: Session, report: Report, site: Site | None) -> OutboxEmail | None:
    if report.message_id is None:
        return None
    query = select(OutboxEmail).where(OutboxEmail.message_id == report.message_id)
    if site is not None:
        query = query.where(OutboxEmail.site_id == site.id)
    return session.scalar(query.order_by(OutboxEmail.id.desc()).limit(1))


def _contact_by_address(session: Session, site: Site, recipient: str | None) -> Contact | None:
    if recipient is None:
        return None
    try:
        return contact_by_email(session, site.id, email_address(recipient))
    except InvalidAddress:
        return None
