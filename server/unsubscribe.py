"""Unsubscribe: signed one-click links (RFC 8058) that blacklist a contact and cancel what waits for it."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import update
from sqlalchemy.orm import Session

from . import db
from .models import Cart, Contact, OutboxEmail, Site, utcnow

bp = Blueprint("unsubscribe", __name__)

REASON = "unsubscribed"


def _signer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="sibyl-unsubscribe")


def unsubscribe_url(base_url: str, secret_key: str, contact: Contact) -> str:
    """The contact's own link; it names the contact and cannot be forged without the secret key."""
    token = _signer(secret_key).dumps([contact.site_id, contact.id])
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"


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


def _follow(token: str) -> tuple[str, int]:
    """Unsubscribe the link's contact (once or many times, the same); a page saying so."""
    try:
        site_id, contact_id = _signer(current_app.config["SECRET_KEY"]).loads(token)
    except (BadSignature, ValueError, TypeError):
        return render_template("unsubscribe.html", valid=False, shop=None), 400
    session = db.session()
    site = session.get(Site, site_id)
    contact = session.get(Contact, contact_id)
    if contact is not None and contact.site_id == site_id and not contact.email_blacklisted:
        unsubscribe(session, contact)
        session.commit()
    return render_template("unsubscribe.html", valid=True, shop=site.name if site else None), 200


@bp.get("/unsubscribe/<token>")
def follow_link(token: str) -> tuple[str, int]:
    return _follow(token)


@bp.post("/unsubscribe/<token>")
def one_click(token: str) -> tuple[str, int]:
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` with no cookies and no page."""
    return _follow(token)
