"""Claims: a worker leases due rows no other worker holds, then takes and settles the carts still unchanged."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, tuple_, update
from sqlalchemy.orm import Session

from ..models import Cart, OutboxEmail, Run
from .states import CartState, CloseReason, closed

BATCH = 500


def lease(
    session: Session,
    model: type[Cart] | type[OutboxEmail] | type[Run],
    ready: Select[Any],
    until: datetime,
    *returning: Any,
) -> list[Any]:
    """Lease up to BATCH of the rows `ready` selects until `until`, skipping rows another worker has locked."""
    claimable = ready.limit(BATCH).with_for_update(skip_locked=True).scalar_subquery()
    rows = session.execute(
        update(model)
        .where(model.id.in_(claimable))
        .values(lease_until=until)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return list(rows)


def claim_due_carts(session: Session, now: datetime, lease_for: timedelta) -> list[tuple[int, int]]:
    """Lease the due carts no one holds; (id, version) of each. Reads due rows only, through the deadline index."""
    free = or_(Cart.lease_until.is_(None), Cart.lease_until < now)
    ready = select(Cart.id).where(Cart.due_at <= now, free).order_by(Cart.due_at)
    return [(row.id, row.version) for row in lease(session, Cart, ready, now + lease_for, Cart.id, Cart.version)]


def take_unchanged(session: Session, claimed: list[tuple[int, int]], now: datetime) -> list[int]:
    """Of the claimed (id, version) pairs, take those still open, due and unchanged: no longer due nor leased,
    and held by this transaction until it settles each one, emailed or closed.

    A cart updated or cancelled since the claim has another version or state: the update wins.
    """
    if not claimed:
        return []
    rows = session.execute(
        update(Cart)
        .where(tuple_(Cart.id, Cart.version).in_(claimed), Cart.state == CartState.OPEN, Cart.due_at <= now)
        .values(due_at=None, lease_until=None)
        .returning(Cart.id)
        .execution_options(synchronize_session=False)
    ).all()
    return [row.id for row in rows]


def mark_emailed(session: Session, cart_ids: Collection[int], now: datetime) -> None:
    """The taken carts whose recovery email was written: emailed now, a new version."""
    if cart_ids:
        session.execute(
            update(Cart)
            .where(Cart.id.in_(cart_ids))
            .values(state=CartState.EMAILED, emailed_at=now, version=Cart.version + 1)
            .execution_options(synchronize_session=False)
        )


def close_withheld(session: Session, cart_ids: Collection[int], reason: CloseReason) -> None:
    """The taken carts whose email is withheld: closed for `reason`, never emailed."""
    if cart_ids:
        session.execute(
            update(Cart)
            .where(Cart.id.in_(cart_ids))
            .values(**closed(reason, Cart.version))
            .execution_options(synchronize_session=False)
        )
