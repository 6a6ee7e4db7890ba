"""What the worker does with each due cart: email its contact, or withhold the email and close the cart, and why."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from ..models import Workflow
from .states import CloseReason


def withheld(cart: Row[Any], workflow: Workflow, last_email_at: datetime | None, now: datetime) -> CloseReason | None:
    """Why the cart's contact (a cart row with its contact's columns) gets no recovery email for it, or None."""
    if cart.email is None:
        return CloseReason.NO_EMAIL
    if cart.email_blacklisted:
        return CloseReason.UNSUBSCRIBED
    if workflow.confirmed_only and cart.confirmed_at is None:
        return CloseReason.UNCONFIRMED
    if last_email_at is not None and now - last_email_at < timedelta(seconds=workflow.contact_period_seconds):
        return CloseReason.RECENTLY_EMAILED
    return None


def decide(
    carts: Iterable[Row[Any]],
    workflow_of: Callable[[int], Workflow],
    last_emailed: Mapping[int, datetime],
    now: datetime,
) -> list[tuple[Row[Any], CloseReason | None]]:
    """Each cart with the reason its email is withheld, or None to email it. In order: a contact emailed for one
    cart counts as emailed `now` for the next, so one period's rule holds within a pass too."""
    emailed_at = dict(last_emailed)
    decisions: list[tuple[Row[Any], CloseReason | None]] = []
    for cart in carts:
        reason = withheld(cart, workflow_of(cart.site_id), emailed_at.get(cart.contact_id), now)
        if reason is None:
            emailed_at[cart.contact_id] = now
        decisions.append((cart, reason))
    return decisions
