"""Links in emails that name one contact (unsubscribe, confirm): signed with the secret key, so they
cannot be forged or pointed at another contact, and without expiry, as unsubscribe links must work."""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

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
