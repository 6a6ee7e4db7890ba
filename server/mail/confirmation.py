"""Double opt-in for confirmed-only workflows: one email asking a contact to confirm, and the signed link whose
page's button does (a GET never changes anything: mail scanners follow links)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from sqlalchemy.orm import Session

from ..models import Contact, utcnow
from ..values import one_line
from .signed_links import LinkAction, LinkState, contact_link, follow_link, show_link

bp = Blueprint("confirmation", __name__)


def confirmation_url(base_url: str, secret_key: str, site_id: int, contact_id: int, nonce: str | None) -> str:
    return contact_link(base_url, secret_key, "confirm", site_id, contact_id, nonce)


def confirmation_key(contact_id: int) -> str:
    """The outbox key of a contact's one confirmation email: it is asked once, ever."""
    return f"confirm-contact-{contact_id}"


def confirmation_context(
    *, shop_name: str, firstname: str | None, confirm_url: str, unsubscribe_url: str
) -> dict[str, Any]:
    """What the `confirmation` templates show: the shop, whom they greet, the link that confirms."""
    return {
        "shop_name": one_line(shop_name) or "our shop",
        "firstname": one_line(firstname, 100),
        "confirm_url": confirm_url,
        "unsubscribe_url": unsubscribe_url,
    }


def _state(contact: Contact) -> LinkState:
    """An unsubscribed contact stays unsubscribed: a confirmation link cannot undo it."""
    if contact.email_blacklisted:
        return LinkState.REFUSED
    return LinkState.DONE if contact.confirmed_at is not None else LinkState.ASK


def _confirm(_session: Session, contact: Contact) -> None:
    contact.confirmed_at = utcnow()


CONFIRM = LinkAction("confirm", _state, _confirm)


@bp.get("/confirm/<token>")
def page(token: str) -> Response:
    """The page with the confirmation button (or saying it is done); mail scanners fetching it change nothing."""
    return show_link(CONFIRM, token)


@bp.post("/confirm/<token>")
def confirm(token: str) -> Response:
    """The page's button: mark the link's contact confirmed, unless it has unsubscribed since."""
    return follow_link(CONFIRM, token)
