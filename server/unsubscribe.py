"""Unsubscribe: signed one-click links (RFC 8058) that blacklist a contact and cancel what waits for it."""
from __future__ import annotations

from flask import Blueprint
from sqlalchemy import update
from sqlalchemy.orm import Session

from .models import Cart, Contact, OutboxEmail, utcnow
from .signed_links import contact_link, follow_link

bp = Blueprint("unsubscribe", __name__)

REASON = "unsubscribed"


def unsubscribe_url(base_url: str, secret_key: str, site_id: int, contact_id: int) -> str:
    return contact_link(base_url, secret_key, "unsubscribe", site_id, contact_id)


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369's link and RFC 8058's one-click POST, which mail clients show as an unsubscribe button."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def unsubscribe(session: Session, contact: Contact) -> None:
    """Blacklist the contact's email; its waiting carts close and its unsent emails are cancelled."""
    contact.email_blacklisted = True
    contact.modified_at = utcnow()
    session.execute(
        update(Cart)
        .where(Cart.contact_id == contact.id, Cart.state == "open")
        .values(state="closed", closed_reason=REASON, due_at=None, version=Cart.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.contact_id == contact.id, OutboxEmail.status.in_(("pending", "held")))
        .values(status="cancelled", last_error=REASON, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )


def _unsubscribe_once(session: Session, contact: Contact) -> None:
    if not contact.email_blacklisted:
        unsubscribe(session, contact)


def _follow(token: str) -> tuple[str, int]:
    """Unsubscribe the link's contact (once or many times, the same); a page saying so."""
    return follow_link("unsubscribe", token, _unsubscribe_once)


@bp.get("/unsubscribe/<token>")
def follow(token: str) -> tuple[str, int]:
    return _follow(token)


@bp.post("/unsubscribe/<token>")
def one_click(token: str) -> tuple[str, int]:
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` with no cookies and no page."""
    return _follow(token)
