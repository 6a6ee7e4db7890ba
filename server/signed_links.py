"""Links in emails that name one contact (unsubscribe, confirm): signed with the secret key, so they
cannot be forged or pointed at another contact, and without expiry, as unsubscribe links must work."""
from __future__ import annotations

from collections.abc import Callable

from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from . import db
from .models import Contact, Site


def _signer(secret_key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"sibyl-{purpose}")


def contact_link(base_url: str, secret_key: str, purpose: str, site_id: int, contact_id: int) -> str:
    """`{base_url}/{purpose}/{token}` for the site's contact."""
    token = _signer(secret_key, purpose).dumps([site_id, contact_id])
    return f"{base_url.rstrip('/')}/{purpose}/{token}"


def linked_contact(session: Session, secret_key: str, purpose: str, token: str) -> tuple[Site | None, Contact | None] | None:
    """The site and contact a link names (None for one deleted since); None for a forged or truncated link."""
    try:
        site_id, contact_id = _signer(secret_key, purpose).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    contact = session.get(Contact, contact_id)
    return session.get(Site, site_id), contact if contact is not None and contact.site_id == site_id else None


def follow_link(purpose: str, token: str, act: Callable[[Session, Contact], None]) -> tuple[str, int]:
    """A followed link: `act` on its contact (still there) and commit, then the page `links/{purpose}.html`
    saying so; the same page, with 400, for a forged or truncated link."""
    session = db.session()
    linked = linked_contact(session, current_app.config["SECRET_KEY"], purpose, token)
    template = f"links/{purpose}.html"
    if linked is None:
        return render_template(template, valid=False, shop=None), 400
    site, contact = linked
    if contact is not None:
        act(session, contact)
        session.commit()
    return render_template(template, valid=True, shop=site.name if site else None), 200
