"""Links in emails that name one contact (unsubscribe, confirm): signed with the secret key, so they
cannot be forged or pointed at another contact, and without expiry, as unsubscribe links must work.

Mail scanners fetch every link of an email, so following a link (GET or HEAD) only shows a page with one
button; the button's POST acts, as does the mail client's RFC 8058 one-click POST."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

from flask import Response, current_app, make_response, render_template
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.orm import Session

from .. import db
from ..models import Contact, Site

# The link pages: nothing leaves them (no Referer carrying the token), nothing caches or indexes them,
# and their one form posts back to themselves.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}


class LinkState(Enum):
    """What a link's page says about its contact."""

    INVALID = "invalid"  # forged or truncated
    GONE = "gone"  # its contact was deleted since
    ASK = "ask"  # the action awaits the button
    DONE = "done"  # the action is done (now or before)
    REFUSED = "refused"  # the contact's state forbids the action (a confirmation after unsubscribing)


@dataclass(frozen=True)
class LinkAction:
    """One kind of link: its URL segment and page (`links/{purpose}.html`), the state of its contact, its act."""

    purpose: str
    state: Callable[[Contact], LinkState]
    act: Callable[[Session, Contact], None]


@dataclass(frozen=True)
class Linked:
    """A verified link: its site and its contact, None for one deleted since."""

    site: Site | None
    contact: Contact | None


@lru_cache(maxsize=32)
def _signer(secret_key: str, purpose: str) -> URLSafeSerializer:
    """One serializer per key and purpose: building one derives keys, and every email signs links."""
    return URLSafeSerializer(secret_key, salt=f"sibyl-{purpose}")


def contact_link(base_url: str, secret_key: str, purpose: str, site_id: int, contact_id: int, nonce: str | None) -> str:
    """`{base_url}/{purpose}/{token}` for the site's contact; the token carries the contact's link nonce if any."""
    payload: list[Any] = [site_id, contact_id] if nonce is None else [site_id, contact_id, nonce]
    return f"{base_url.rstrip('/')}/{purpose}/{_signer(secret_key, purpose).dumps(payload)}"


def linked_contact(session: Session, secret_key: str, purpose: str, token: str) -> Linked | None:
    """The site and contact a link names; None for a forged or truncated link.

    A contact with a link nonce accepts only links carrying it, so that a link of a deleted contact never reaches
    another given the same id; a contact from before nonces (none stored) accepts the links already sent to it.
    """
    try:
        payload = _signer(secret_key, purpose).loads(token)
    except BadData:
        return None
    match payload:
        case [int() as site_id, int() as contact_id]:
            nonce = None
        case [int() as site_id, int() as contact_id, str() as nonce]:
            pass
        case _:
            return None
    contact = session.get(Contact, contact_id)
    if contact is None or contact.site_id != site_id or not _same_nonce(contact.link_nonce, nonce):
        contact = None
    return Linked(session.get(Site, site_id), contact)


def _same_nonce(stored: str | None, given: str | None) -> bool:
    if stored is None or given is None:
        return stored is given
    return hmac.compare_digest(stored, given)


def show_link(action: LinkAction, token: str) -> Response:
    """GET (and HEAD): the page of the link's contact, with the button when the action awaits it; changes nothing."""
    linked = linked_contact(db.session(), current_app.config["SECRET_KEY"], action.purpose, token)
    if linked is None:
        return _page(action, LinkState.INVALID, None, 400)
    state = action.state(linked.contact) if linked.contact is not None else LinkState.GONE
    return _page(action, state, linked.site, 200)


def follow_link(action: LinkAction, token: str) -> Response:
    """POST (the page's button, or a mail client's one-click): act on the link's contact when it awaits it, commit,
    and show the page saying so; acting twice is acting once."""
    session = db.session()
    linked = linked_contact(session, current_app.config["SECRET_KEY"], action.purpose, token)
    if linked is None:
        return _page(action, LinkState.INVALID, None, 400)
    if linked.contact is None:
        return _page(action, LinkState.GONE, linked.site, 200)
    if action.state(linked.contact) is LinkState.ASK:
        action.act(session, linked.contact)
        session.commit()
    return _page(action, action.state(linked.contact), linked.site, 200)


def _page(action: LinkAction, state: LinkState, site: Site | None, status: int) -> Response:
    html = render_template(f"links/{action.purpose}.html", state=state.value, shop=site.name if site else None)
    response = make_response(html, status)
    response.headers.update(PAGE_HEADERS)
    return response
