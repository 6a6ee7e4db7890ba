"""Retention: events older than `SIBYL_RETENTION` are deleted, whole months at once where the database keeps them
by month, else a batch at a time; the message ids received before then are forgotten with them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from ..ingest import partitions
from ..models import Event, EventId

BATCH = 10_000


def prune_events(session: Session, before: datetime, batch: int = BATCH) -> int:
    """Delete events that occurred before `before`: the months that ended by then dropped, the rest in batches,
    each its own short transaction. The number of events deleted."""
    deleted = 0
    if partitions.partitioned(session.connection()):
        deleted += partitions.drop_months_before(session.connection(), before)
        session.commit()
    while True:
        oldest = select(Event.id).where(Event.occurred_at < before).order_by(Event.occurred_at).limit(batch)
        ids = list(session.scalars(oldest))
        if not ids:
            break
        session.execute(delete(Event).where(Event.occurred_at < before, Event.id.in_(ids)))
        session.commit()
        deleted += len(ids)
    _forget_ids(session, before, batch)
    return deleted


def _forget_ids(session: Session, before: datetime, batch: int) -> None:
    """Forget the message ids received before `before`, in batches: a copy of such an event sent again is taken
    as new, as its first copy is gone too."""
    key = tuple_(EventId.site_id, EventId.message_id)
    while True:
        oldest = select(EventId.site_id, EventId.message_id).where(EventId.received_at < before).limit(batch)
        result = session.execute(delete(EventId).where(key.in_(oldest)))
        session.commit()
        if not result.rowcount:  # type: ignore[attr-defined]
            return
