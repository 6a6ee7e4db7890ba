"""Unsubscribe: signed links that blacklist a contact and cancel what waits for it, at once for a mail client's
RFC 8058 one-click POST, after one button on the page for a person (a GET never changes anything)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask import Blueprint, Response
from sqlalchemy import update
from sqlalchemy.orm import Session

from ..automation.states import CartState, CloseReason, ExitReason, RunState, closed, exited
from ..models import Cart, Contact, OutboxEmail, Run, utcnow
from .outbox import cancel_unsent, newest_sent
from .signed_links import LinkAction, LinkState, contact_link, follow_link, show_link

bp = Blueprint("unsubscribe", __name__)


def unsubscribe_url(base_url: str, secret_key: str, site_id: int, contact_id: int, nonce: str | None) -> str:
    return contact_link(base_url, secret_key, "unsubscribe", site_id, contact_id, nonce)


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369's link and RFC 8058's one-click POST, which mail clients show as an unsubscribe button."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


class BlacklistReason(StrEnum):
    """Why a contact's email is blacklisted: it unsubscribed (a link, the API, an import), its mailbox bounced for
    good (or softly too often), or its reader complained (marked an email as spam)."""

    UNSUBSCRIBED = "unsubscribed"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCES = "soft_bounces"
    COMPLAINT = "complaint"


def unsubscribe(
    session: Session,
    contact: Contact,
    reason: BlacklistReason = BlacklistReason.UNSUBSCRIBED,
    from_email: bool = True,
) -> None:
    """Blacklist the contact's email for `reason`; its waiting carts close, its waiting runs end and its unsent
    emails are cancelled. No workflow emails it again: an email step withholds mail from a blacklisted contact.
    Unsubscribing marks the newest email sent to the contact, the one the unsubscribe is counted against, unless
    it was not `from_email` (an import carries unsubscribes made elsewhere)."""
    now = utcnow()
    if reason == BlacklistReason.UNSUBSCRIBED and from_email and not contact.email_blacklisted:
        _mark_unsubscribed_from(session, contact.id, now)
    contact.email_blacklisted = True
    contact.email_blacklist_reason = reason
    contact.modified_at = now
    session.execute(
        update(Cart)
        .where(Cart.contact_id == contact.id, Cart.state == CartState.OPEN)
        .values(**closed(CloseReason.UNSUBSCRIBED, Cart.version))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Run)
        .where(Run.contact_id == contact.id, Run.state == RunState.WAITING)
        .values(**exited(ExitReason.BLACKLISTED, now), version=Run.version + 1, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    cancel_unsent(session, contact.id, reason)


def _mark_unsubscribed_from(session: Session, contact_id: int, now: datetime) -> None:
    """Mark the newest email sent to the contact as the one it unsubscribed from, as mail tools count an
    unsubscribe against the last campaign sent."""
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == newest_sent(contact_id, OutboxEmail.id).scalar_subquery())
        .where(OutboxEmail.unsubscribed_at.is_(None))
        .values(unsubscribed_at=now)
        .execution_options(synchronize_session=False)
    )


def _state(contact: Contact) -> LinkState:
    return LinkState.DONE if contact.email_blacklisted else LinkState.ASK


UNSUBSCRIBE = LinkAction("unsubscribe", _state, unsubscribe)


@bp.get("/unsubscribe/<token>")
def page(token: str) -> Response:
    """The page with the Unsubscribe button (or saying it is done); mail scanners fetching it change nothing."""
    return show_link(UNSUBSCRIBE, token)


@bp.post("/unsubscribe/<token>")
def one_click(token: str) -> Response:
    """The page's button, or RFC 8058's one-click: the mail client POSTs `List-Unsubscribe=One-Click`, no cookies."""
    return follow_link(UNSUBSCRIBE, token)
